//! The messages this connector sent each person, with their send times.
//!
//! Messenger read receipts say "everything up to this time was read"
//! (Instagram's name the last message read), so the connector keeps, per
//! person, the ids and send times of its recent messages under
//! `sent/<psid>`: the last [`KEEP`], dropped once read.

use omni_plugin_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// Messages remembered per person; older ones get no read receipt.
pub const KEEP: usize = 50;

/// A sent message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// The message id the Send API returned.
    pub mid: String,
    /// When it was sent, ms since the epoch.
    pub at: i64,
}

fn key(user: &str) -> String {
    format!("sent/{user}")
}

fn load(host: &Host, user: &str) -> Result<Vec<Sent>, PluginError> {
    Ok(host.kv_get_json(&key(user))?.unwrap_or_default())
}

fn store(host: &Host, user: &str, log: &[Sent]) -> Result<(), PluginError> {
    if log.is_empty() {
        host.kv_delete(&key(user))?;
    } else {
        host.kv_set_json(&key(user), log)?;
    }
    Ok(())
}

/// Remembers a message sent to `user` at `at`.
pub fn remember(host: &Host, user: &str, mid: &str, at: i64) -> Result<(), PluginError> {
    let mut log = load(host, user)?;
    if log.iter().any(|s| s.mid == mid) {
        return Ok(());
    }
    log.push(Sent {
        mid: mid.to_owned(),
        at,
    });
    let excess = log.len().saturating_sub(KEEP);
    log.drain(..excess);
    store(host, user, &log)
}

/// The messages sent to `user` at or before `watermark`, kept.
pub fn up_to(host: &Host, user: &str, watermark: i64) -> Result<Vec<Sent>, PluginError> {
    Ok(load(host, user)?.into_iter().filter(|s| s.at <= watermark).collect())
}

/// The messages sent to `user` at or before `watermark`, forgotten: they are read.
pub fn take_up_to(host: &Host, user: &str, watermark: i64) -> Result<Vec<Sent>, PluginError> {
    let (taken, kept): (Vec<Sent>, Vec<Sent>) = load(host, user)?.into_iter().partition(|s| s.at <= watermark);
    if !taken.is_empty() {
        store(host, user, &kept)?;
    }
    Ok(taken)
}

/// The message `mid` sent to `user` and those sent before it, forgotten.
pub fn take_through(host: &Host, user: &str, mid: &str) -> Result<Vec<Sent>, PluginError> {
    let at = load(host, user)?.into_iter().find(|s| s.mid == mid).map(|s| s.at);
    match at {
        Some(at) => take_up_to(host, user, at),
        None => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_bounded_and_forgets_what_was_read() {
        let mock = testing::MockHost::new();
        let host = mock.host();
        for i in 0..(KEEP as i64 + 5) {
            remember(&host, "u", &format!("m{i}"), 1000 + i).unwrap();
        }
        remember(&host, "u", "m54", 1).unwrap();
        let all = up_to(&host, "u", i64::MAX).unwrap();
        assert_eq!(all.len(), KEEP);
        assert_eq!(all[0].mid, "m5");

        let read = take_up_to(&host, "u", 1006).unwrap();
        assert_eq!(
            read.iter().map(|s| s.mid.as_str()).collect::<Vec<_>>(),
            vec!["m5", "m6"]
        );
        assert_eq!(up_to(&host, "u", i64::MAX).unwrap().len(), KEEP - 2);

        let read = take_through(&host, "u", "m8").unwrap();
        assert_eq!(
            read.iter().map(|s| s.mid.as_str()).collect::<Vec<_>>(),
            vec!["m7", "m8"]
        );
        assert!(take_through(&host, "u", "unknown").unwrap().is_empty());

        take_up_to(&host, "u", i64::MAX).unwrap();
        assert!(mock.kv().is_empty(), "an empty log is deleted");
    }
}
