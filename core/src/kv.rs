//! The per-connector key-value store's change sets.
//!
//! A plugin call reads keys from the store and buffers its writes. The host
//! hands both to the store with the call's events: the store applies the
//! writes only if every key read still holds the value the call saw, so two
//! concurrent calls never lose each other's updates (the loser is retried).

use std::collections::BTreeMap;

/// The reads and writes of one plugin call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvChanges {
    /// Keys read, with the value seen (`None`: absent).
    pub reads: BTreeMap<String, Option<Vec<u8>>>,
    /// Keys written, with the new value (`None`: deleted).
    pub writes: BTreeMap<String, Option<Vec<u8>>>,
}

impl KvChanges {
    /// Whether there is nothing to check or write.
    pub fn is_empty(&self) -> bool {
        self.reads.is_empty() && self.writes.is_empty()
    }

    /// The value this call sees for `key`: its own write, if any.
    pub fn pending(&self, key: &str) -> Option<&Option<Vec<u8>>> {
        self.writes.get(key)
    }
}
