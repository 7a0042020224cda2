//! Per-connector send limits: how many sends may be in flight through one
//! connector instance and how many may start per second (a token bucket),
//! so a business stays inside each provider's rate limits instead of
//! collecting 429s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use omni_core::ConnectorId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::SendLimitConfig;
use crate::rate::TokenBucket;

/// The limits of every connector instance that has some.
#[derive(Default)]
pub struct SendLimits {
    connectors: HashMap<ConnectorId, ConnectorLimit>,
}

struct ConnectorLimit {
    config: SendLimitConfig,
    slots: Option<Arc<Semaphore>>,
    bucket: Option<Mutex<TokenBucket>>,
}

/// Held while a send is in flight; frees the connector's slot when dropped.
pub struct SendPermit {
    _slot: Option<OwnedSemaphorePermit>,
}

/// Which connectors cannot start a send now.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Blocked {
    /// Connectors at their concurrency or out of tokens.
    pub connectors: Vec<ConnectorId>,
    /// When the first out-of-tokens connector gets a token again.
    pub next_token: Option<Instant>,
}

impl SendLimits {
    /// Limits from the connector instances' `[plugins.delivery]` tables.
    pub fn new<'a>(configs: impl IntoIterator<Item = (&'a ConnectorId, SendLimitConfig)>, now: Instant) -> Self {
        let connectors = configs
            .into_iter()
            .filter(|(_, c)| c.concurrency.is_some() || c.per_second.is_some())
            .map(|(id, c)| (id.clone(), ConnectorLimit::new(c, now)))
            .collect();
        Self { connectors }
    }

    /// Applies a reloaded config: an instance whose limits did not change
    /// keeps its slots and tokens (sends in flight still count).
    pub fn reconfigure<'a>(
        &mut self,
        configs: impl IntoIterator<Item = (&'a ConnectorId, SendLimitConfig)>,
        now: Instant,
    ) {
        let mut previous = std::mem::take(&mut self.connectors);
        for (id, config) in configs {
            if config.concurrency.is_none() && config.per_second.is_none() {
                continue;
            }
            let limit = match previous.remove(id) {
                Some(limit) if limit.config == config => limit,
                _ => ConnectorLimit::new(config, now),
            };
            self.connectors.insert(id.clone(), limit);
        }
    }

    /// The connectors that cannot start a send at `now`.
    pub fn blocked(&self, now: Instant) -> Blocked {
        let mut blocked = Blocked::default();
        for (id, limit) in &self.connectors {
            let busy = limit.slots.as_ref().is_some_and(|s| s.available_permits() == 0);
            let next_token = limit.bucket.as_ref().and_then(|b| lock(b).next_token(now));
            if let Some(at) = next_token {
                blocked.next_token = Some(blocked.next_token.map_or(at, |t| t.min(at)));
            }
            if busy || next_token.is_some() {
                blocked.connectors.push(id.clone());
            }
        }
        blocked.connectors.sort();
        blocked
    }

    /// A slot and a token for one send through `connector`, if both are free.
    pub fn try_acquire(&self, connector: &ConnectorId, now: Instant) -> Option<SendPermit> {
        let Some(limit) = self.connectors.get(connector) else {
            return Some(SendPermit { _slot: None });
        };
        let slot = match &limit.slots {
            Some(slots) => Some(slots.clone().try_acquire_owned().ok()?),
            None => None,
        };
        // Take the token last so a busy connector does not burn tokens.
        if let Some(bucket) = &limit.bucket
            && !lock(bucket).try_take(now)
        {
            return None;
        }
        Some(SendPermit { _slot: slot })
    }
}

impl ConnectorLimit {
    fn new(config: SendLimitConfig, now: Instant) -> Self {
        Self {
            config,
            slots: config.concurrency.map(|n| Arc::new(Semaphore::new(n))),
            bucket: config
                .per_second
                .map(|rate| Mutex::new(TokenBucket::new(rate, config.burst.unwrap_or(rate).max(1), now))),
        }
    }
}

fn lock(bucket: &Mutex<TokenBucket>) -> std::sync::MutexGuard<'_, TokenBucket> {
    // The bucket holds plain numbers; a panic elsewhere cannot leave it torn.
    bucket.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn id(name: &str) -> ConnectorId {
        ConnectorId::new(name).unwrap()
    }

    #[test]
    fn connectors_are_blocked_while_busy_or_out_of_tokens() {
        let t0 = Instant::now();
        let sms = id("sms");
        let email = id("email");
        let unlimited = id("webchat");
        let limits = SendLimits::new(
            [
                (
                    &sms,
                    SendLimitConfig {
                        concurrency: None,
                        per_second: Some(1),
                        burst: None,
                    },
                ),
                (
                    &email,
                    SendLimitConfig {
                        concurrency: Some(1),
                        per_second: None,
                        burst: None,
                    },
                ),
                (&unlimited, SendLimitConfig::default()),
            ],
            t0,
        );
        assert_eq!(limits.blocked(t0), Blocked::default());

        let sending = limits.try_acquire(&email, t0).expect("a free slot");
        assert!(limits.try_acquire(&email, t0).is_none());
        assert!(limits.try_acquire(&sms, t0).is_some());
        assert!(limits.try_acquire(&sms, t0).is_none());
        assert!((0..100).all(|_| limits.try_acquire(&unlimited, t0).is_some()));
        assert_eq!(
            limits.blocked(t0),
            Blocked {
                connectors: vec![email.clone(), sms.clone()],
                next_token: Some(t0 + Duration::from_secs(1)),
            }
        );

        drop(sending);
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(limits.blocked(t1), Blocked::default());
    }
}
