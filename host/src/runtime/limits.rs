//! Per-call resource limits, and the limiter that enforces memory.

use std::time::Duration;

use wasmtime::ResourceLimiter;

/// Most log lines one call may write; later lines are dropped and counted.
pub const MAX_LOG_LINES: usize = 100;
/// Longest log line kept, in bytes; longer ones are cut.
pub const MAX_LOG_LINE_BYTES: usize = 4096;
/// Longest key-value key, in bytes.
pub const MAX_KV_KEY_BYTES: usize = 512;
/// Largest key-value value, in bytes.
pub const MAX_KV_VALUE_BYTES: usize = 1024 * 1024;
/// Most key-value writes (sets and deletes) in one call.
pub const MAX_KV_WRITES: usize = 64;
/// Most key-value reads in one call.
pub const MAX_KV_READS: usize = 256;
/// Most outbound HTTP requests in one call.
pub const MAX_HTTP_REQUESTS: usize = 16;
/// Most headers in a plugin's HTTP response.
pub const MAX_RESPONSE_HEADERS: usize = 64;

/// What one plugin call may use. Defaults suit a small Rust connector; an
/// interpreter-based plugin needs more memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory the instance may grow to.
    pub memory_bytes: usize,
    /// Wall-clock time for one call.
    pub timeout: Duration,
    /// Largest HTTP response body the plugin may return.
    pub max_response_bytes: usize,
    /// Most events one call may return.
    pub max_events: usize,
    /// Largest text of one event (message text, transcript).
    pub max_text_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 * 1024 * 1024,
            timeout: Duration::from_secs(2),
            max_response_bytes: 1024 * 1024,
            max_events: 256,
            max_text_bytes: 64 * 1024,
        }
    }
}

/// Enforces the memory limit and remembers a breach, so the call's error can
/// say "memory limit" instead of a bare trap.
#[derive(Debug)]
pub struct CallLimiter {
    memory_bytes: usize,
    /// The size the plugin asked for when it hit the limit.
    pub breached: Option<usize>,
    /// The largest size granted.
    pub peak: usize,
}

impl CallLimiter {
    /// A limiter for `memory_bytes` of linear memory.
    pub fn new(memory_bytes: usize) -> Self {
        Self {
            memory_bytes,
            breached: None,
            peak: 0,
        }
    }
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.breached = Some(desired);
            // Failing the grow lets the guest see an allocation failure,
            // which a Rust guest turns into an abort: the call traps.
            return Ok(false);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grow_past_the_limit_is_refused_and_remembered() {
        let mut limiter = CallLimiter::new(1024);
        assert!(limiter.memory_growing(0, 512, None).unwrap());
        assert_eq!(limiter.breached, None);
        assert!(!limiter.memory_growing(512, 4096, None).unwrap());
        assert_eq!(limiter.breached, Some(4096));
        assert_eq!(limiter.peak, 512);
    }
}
