//! A plugin call's view of its key-value store: reads go to the store (and
//! are remembered), writes are buffered until the call's results are stored.

use std::sync::Arc;

use omni_core::{ConnectorId, KvChanges, Store};

use super::limits::{MAX_KV_KEY_BYTES, MAX_KV_READS, MAX_KV_VALUE_BYTES, MAX_KV_WRITES};

/// Why a key-value operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvFailure {
    /// The plugin did not declare the `kv` capability.
    Denied(String),
    /// Key or value too large.
    TooLarge(String),
    /// Too many operations in one call.
    QuotaExceeded(String),
    /// The store failed.
    Unavailable(String),
}

/// The key-value state of one plugin call.
pub struct KvSession {
    store: Option<Arc<dyn Store>>,
    connector: ConnectorId,
    changes: KvChanges,
    write_count: usize,
    /// Set when the store failed: the call's result cannot be trusted.
    pub store_failure: Option<String>,
}

impl KvSession {
    /// A session over `store`; `None` when the plugin may not use kv.
    pub fn new(store: Option<Arc<dyn Store>>, connector: ConnectorId) -> Self {
        Self {
            store,
            connector,
            changes: KvChanges::default(),
            write_count: 0,
            store_failure: None,
        }
    }

    fn check_key(&self, key: &str) -> Result<&Arc<dyn Store>, KvFailure> {
        let store = self
            .store
            .as_ref()
            .ok_or_else(|| KvFailure::Denied("the plugin's manifest does not declare the kv capability".into()))?;
        if key.is_empty() || key.len() > MAX_KV_KEY_BYTES {
            return Err(KvFailure::TooLarge(format!(
                "keys must be 1 to {MAX_KV_KEY_BYTES} bytes"
            )));
        }
        Ok(store)
    }

    /// Reads a key: this call's own write if any, else the stored value.
    pub async fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, KvFailure> {
        let store = self.check_key(key)?.clone();
        if let Some(pending) = self.changes.pending(key) {
            return Ok(pending.clone());
        }
        if let Some(seen) = self.changes.reads.get(key) {
            return Ok(seen.clone());
        }
        if self.changes.reads.len() >= MAX_KV_READS {
            return Err(KvFailure::QuotaExceeded(format!(
                "more than {MAX_KV_READS} keys read in one call"
            )));
        }
        match store.kv_get(&self.connector, key).await {
            Ok(entry) => {
                let value = entry.map(|e| e.value);
                self.changes.reads.insert(key.to_owned(), value.clone());
                Ok(value)
            }
            Err(e) => {
                let message = e.to_string();
                self.store_failure = Some(message.clone());
                Err(KvFailure::Unavailable(message))
            }
        }
    }

    /// Buffers a write.
    pub fn set(&mut self, key: &str, value: Vec<u8>) -> Result<(), KvFailure> {
        self.check_key(key)?;
        if value.len() > MAX_KV_VALUE_BYTES {
            return Err(KvFailure::TooLarge(format!(
                "value of {} bytes is over the {MAX_KV_VALUE_BYTES}-byte limit",
                value.len()
            )));
        }
        self.count_write()?;
        self.changes.writes.insert(key.to_owned(), Some(value));
        Ok(())
    }

    /// Buffers a delete.
    pub fn delete(&mut self, key: &str) -> Result<(), KvFailure> {
        self.check_key(key)?;
        self.count_write()?;
        self.changes.writes.insert(key.to_owned(), None);
        Ok(())
    }

    fn count_write(&mut self) -> Result<(), KvFailure> {
        if self.write_count >= MAX_KV_WRITES {
            return Err(KvFailure::QuotaExceeded(format!(
                "more than {MAX_KV_WRITES} writes in one call"
            )));
        }
        self.write_count += 1;
        Ok(())
    }

    /// The reads to check and writes to apply when storing the call's results.
    pub fn into_changes(self) -> KvChanges {
        self.changes
    }
}
