//! Retry lanes for calls that lost a key-value race.
//!
//! Plugin calls run optimistically in parallel; the store refuses a call's
//! key-value writes if a key it read changed meanwhile, and the call runs
//! again. Under contention on one key, parallel retries would keep losing to
//! each other, so a retry waits for its connector's lane: retries run one at
//! a time per connector, each against the latest state, and always progress.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use omni_core::ConnectorId;
use tokio::sync::OwnedMutexGuard;

/// Attempts before a call that keeps conflicting is given up.
pub const KV_ATTEMPTS: usize = 8;

/// One lane per connector instance.
#[derive(Default)]
pub struct RetryLanes {
    lanes: Mutex<HashMap<ConnectorId, Arc<tokio::sync::Mutex<()>>>>,
}

impl RetryLanes {
    /// No lanes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits for the connector's lane; hold the guard while retrying.
    pub async fn enter(&self, connector: &ConnectorId) -> OwnedMutexGuard<()> {
        let lane = {
            let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
            lanes.entry(connector.clone()).or_default().clone()
        };
        lane.lock_owned().await
    }
}
