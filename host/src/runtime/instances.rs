//! Instance policy: whether each call of a plugin gets a fresh instance or
//! reuses a warm one.
//!
//! A fresh instance per call is the strongest isolation and, for a small
//! Rust component on the pooling allocator, costs tens of microseconds. An
//! interpreter-based component (Python, JavaScript) carries its whole
//! runtime in the instance and costs milliseconds to instantiate, so it is
//! better served by a warm instance reused for a bounded number of calls.
//! A warm instance is dropped after any failed call (trap, timeout, memory
//! breach, host error) and after `max_calls` calls, so a plugin that
//! corrupts its own state recovers on the next call.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::state::CallState;

/// Above this cost of a fresh instance, `auto` picks warm instances: well
/// above a small Rust component (≈ 30 µs) and well below an interpreter
/// (≈ 2 ms for componentize-py), so noise does not flip the choice.
pub const WARM_THRESHOLD: Duration = Duration::from_micros(400);

/// Calls a warm instance serves before it is recycled, unless configured.
pub const DEFAULT_MAX_CALLS: u32 = 1000;

/// Idle warm instances one connector keeps.
const MAX_IDLE_PER_CONNECTOR: usize = 4;

/// What the operator asked for (`[plugins.instances] policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyChoice {
    /// Chosen at load from the measured cost of a fresh instance.
    #[default]
    Auto,
    /// A fresh instance per call.
    Fresh,
    /// Warm instances.
    Warm,
}

/// `[plugins.instances]`: the choice and how long a warm instance lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceConfig {
    /// The policy asked for.
    pub policy: PolicyChoice,
    /// Calls a warm instance serves before it is recycled.
    pub max_calls: u32,
}

impl Default for InstanceConfig {
    fn default() -> Self {
        Self {
            policy: PolicyChoice::Auto,
            max_calls: DEFAULT_MAX_CALLS,
        }
    }
}

/// The policy in force for a loaded plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstancePolicy {
    /// A fresh instance per call.
    Fresh,
    /// A warm instance reused for up to `max_calls` calls.
    Warm {
        /// Calls before recycling.
        max_calls: u32,
    },
}

impl InstancePolicy {
    /// The policy for `config`, given what a fresh instance was measured to cost.
    pub fn choose(config: InstanceConfig, fresh_cost: Duration) -> Self {
        let warm = Self::Warm {
            max_calls: config.max_calls.max(1),
        };
        match config.policy {
            PolicyChoice::Fresh => Self::Fresh,
            PolicyChoice::Warm => warm,
            PolicyChoice::Auto if fresh_cost > WARM_THRESHOLD => warm,
            PolicyChoice::Auto => Self::Fresh,
        }
    }
}

impl std::fmt::Display for InstancePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fresh => f.write_str("fresh instance per call"),
            Self::Warm { max_calls } => write!(f, "warm instance, recycled after {max_calls} calls or a failure"),
        }
    }
}

/// An instantiated plugin kept between calls.
pub struct Live<E> {
    /// Its store, holding the instance's memory.
    pub store: wasmtime::Store<CallState>,
    /// Its typed exports.
    pub exports: E,
    /// Calls it has served.
    pub calls: u32,
}

struct Idle<E> {
    live: Live<E>,
    // Counts this instance against the runtime's budget of idle instances,
    // which the pooling allocator was sized for.
    _budget: OwnedSemaphorePermit,
}

/// The idle warm instances of one connector.
pub struct WarmPool<E> {
    idle: Mutex<Vec<Idle<E>>>,
    budget: Arc<Semaphore>,
}

impl<E> WarmPool<E> {
    /// An empty pool drawing on the runtime-wide `budget` of idle instances.
    pub fn new(budget: Arc<Semaphore>) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            budget,
        }
    }

    /// An idle instance, if there is one.
    pub fn take(&self) -> Option<Live<E>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.pop().map(|entry| entry.live)
    }

    /// Keeps `live` for a later call if this connector and the runtime have
    /// room; otherwise it is dropped (the next call instantiates afresh).
    pub fn put(&self, live: Live<E>) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() >= MAX_IDLE_PER_CONNECTOR {
            return;
        }
        if let Ok(permit) = self.budget.clone().try_acquire_owned() {
            idle.push(Idle { live, _budget: permit });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_picks_warm_only_for_costly_instances() {
        let auto = InstanceConfig::default();
        assert_eq!(
            InstancePolicy::choose(auto, Duration::from_micros(30)),
            InstancePolicy::Fresh
        );
        assert_eq!(
            InstancePolicy::choose(auto, Duration::from_millis(2)),
            InstancePolicy::Warm {
                max_calls: DEFAULT_MAX_CALLS
            }
        );
    }

    #[test]
    fn an_explicit_choice_wins_over_the_measurement() {
        let fresh = InstanceConfig {
            policy: PolicyChoice::Fresh,
            max_calls: 10,
        };
        assert_eq!(
            InstancePolicy::choose(fresh, Duration::from_secs(1)),
            InstancePolicy::Fresh
        );
        let warm = InstanceConfig {
            policy: PolicyChoice::Warm,
            max_calls: 0,
        };
        assert_eq!(
            InstancePolicy::choose(warm, Duration::ZERO),
            InstancePolicy::Warm { max_calls: 1 }
        );
    }
}
