//! What the plugin remembers between calls, in its key-value store: notes
//! already written (`note:<position>` → note id) and merges already done
//! (`merged:<record>` → the contact it went into).
//!
//! The store is a fast path, never the only guard: HubSpot itself answers
//! the same questions (the note search, the merge endpoint's refusal of a
//! merged contact), so a store that failed, was emptied or belongs to a new
//! instance only costs requests, never a duplicate.

use omni_plugin_sdk::prelude::*;

/// Key of the note written for the event at `position`.
pub fn note_key(position: i64) -> String {
    format!("note:{position}")
}

/// Key of a contact merged away.
pub fn merge_key(record: &str) -> String {
    format!("merged:{record}")
}

/// The value at `key`; `None` also when the store fails, since HubSpot is
/// asked next anyway.
pub fn recall(host: &Host, key: &str) -> Option<String> {
    match host.kv_get(key) {
        Ok(value) => value.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) => {
            host.debug(&format!("kv read of `{key}` failed ({e}); asking HubSpot instead"));
            None
        }
    }
}

/// Stores `value` at `key`. A failure is logged, not returned: the work in
/// HubSpot is done, and failing the event would only redo it.
pub fn remember(host: &Host, key: &str, value: &str) {
    if let Err(e) = host.kv_set(key, value.as_bytes()) {
        host.warn(&format!(
            "kv write of `{key}` failed ({e}); a replay will ask HubSpot again"
        ));
    }
}
