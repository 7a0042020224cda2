//! Token buckets: a rate with a burst, for outbound sends per connector and
//! inbound webhooks per connector and per source.

use std::time::{Duration, Instant};

/// `capacity` tokens, refilled at `per_second`; an action takes one.
#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_second: u32, capacity: u32, now: Instant) -> Self {
        Self {
            capacity: f64::from(capacity),
            per_second: f64::from(per_second),
            tokens: f64::from(capacity),
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = now.max(self.last);
    }

    /// Takes a token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// When the next token arrives, or `None` if one is there now.
    pub fn next_token(&mut self, now: Instant) -> Option<Instant> {
        self.refill(now);
        if self.tokens >= 1.0 {
            return None;
        }
        let missing = 1.0 - self.tokens;
        Some(now + Duration::from_secs_f64(missing / self.per_second))
    }

    /// Whether it is full (nothing taken lately): safe to forget.
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(2, 3, t0);
        assert!((0..3).all(|_| bucket.try_take(t0)));
        assert!(!bucket.try_take(t0));
        assert_eq!(bucket.next_token(t0), Some(t0 + Duration::from_millis(500)));
        assert!(!bucket.try_take(t0 + Duration::from_millis(400)));
        assert!(bucket.try_take(t0 + Duration::from_millis(500)));
        // A long quiet spell refills only up to the burst.
        let later = t0 + Duration::from_secs(60);
        assert!((0..3).all(|_| bucket.try_take(later)));
        assert!(!bucket.try_take(later));
    }

    #[test]
    fn an_idle_bucket_is_full_again() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(10, 2, t0);
        assert!(bucket.try_take(t0));
        assert!(!bucket.is_full(t0));
        assert!(bucket.is_full(t0 + Duration::from_millis(100)));
    }
}
