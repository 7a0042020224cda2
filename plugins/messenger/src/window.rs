//! The 24-hour standard messaging window: Messenger and Instagram accept
//! standard replies only within 24 hours of the person's last message, so
//! the time of each person's latest message (by Meta's clock) is kept in the
//! key-value store. It also stands in for the clock when the host has none.

use std::collections::BTreeMap;

use omni_plugin_sdk::clock::now_ms;
use omni_plugin_sdk::prelude::*;

/// The window's length.
const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;
/// Most people whose window one webhook call updates; stays well under the host's 64 writes per call.
const MAX_WRITES: usize = 32;

fn key(user: &str) -> String {
    format!("window/{user}")
}

/// Remembers the latest message time (ms) of each person. Best effort: a
/// failure is logged, since the provider's error stays the authority.
pub fn record(host: &Host, latest: &BTreeMap<String, i64>) {
    for (index, (user, &at)) in latest.iter().enumerate() {
        if index >= MAX_WRITES {
            host.debug("too many senders in one webhook to record every messaging window");
            return;
        }
        // A retried or late webhook must not move the window back.
        if last_message_ms(host, user).is_some_and(|known| known >= at) {
            continue;
        }
        if let Err(e) = host.kv_set_json(&key(user), &at) {
            host.warn(&format!("cannot record the messaging window of a Messenger user: {e}"));
            return;
        }
    }
}

/// When the person last wrote, ms since the epoch, if known.
pub fn last_message_ms(host: &Host, user: &str) -> Option<i64> {
    host.kv_get_json(&key(user)).ok().flatten()
}

/// Whether the window is known to be closed: the person wrote, but more than
/// 24 hours ago. Unknown (never wrote, or no clock) is not closed.
pub fn known_closed(host: &Host, user: &str) -> bool {
    match (now_ms(), last_message_ms(host, user)) {
        (Some(now), Some(last)) => now - last >= WINDOW_MS,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_only_moves_forward_and_closes_after_a_day() {
        let mock = testing::MockHost::new();
        let host = mock.host();
        let now = now_ms().unwrap();
        record(&host, &BTreeMap::from([("1254477777772919".to_owned(), now - 1000)]));
        record(
            &host,
            &BTreeMap::from([("1254477777772919".to_owned(), now - 2 * WINDOW_MS)]),
        );
        assert_eq!(last_message_ms(&host, "1254477777772919"), Some(now - 1000));
        assert!(!known_closed(&host, "1254477777772919"));
        record(&host, &BTreeMap::from([("42".to_owned(), now - WINDOW_MS - 1)]));
        assert!(known_closed(&host, "42"));
        assert!(!known_closed(&host, "never-wrote"));
    }
}
