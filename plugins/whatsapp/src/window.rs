//! The 24-hour customer service window: WhatsApp accepts free-form replies
//! only within 24 hours of the person's last message, so the time of each
//! person's latest message (by Meta's clock) is kept in the key-value store.

use std::collections::BTreeMap;

use omni_plugin_sdk::prelude::*;

/// The window's length.
const WINDOW_SECONDS: i64 = 24 * 60 * 60;
/// Most people whose window one webhook call updates; stays well under the host's 64 writes per call.
const MAX_WRITES: usize = 48;

fn key(wa_id: &str) -> String {
    format!("window/{wa_id}")
}

/// Remembers the latest message time (seconds) of each WhatsApp id. Best
/// effort: a failure is logged, since the provider's error stays the authority.
pub fn record(host: &Host, latest: &BTreeMap<String, i64>) {
    for (index, (wa_id, &seconds)) in latest.iter().enumerate() {
        if index >= MAX_WRITES {
            host.debug("too many senders in one webhook to record every messaging window");
            return;
        }
        let known: Option<i64> = host.kv_get_json(&key(wa_id)).unwrap_or_default();
        // A retried or late webhook must not move the window back.
        if known.is_some_and(|known| known >= seconds) {
            continue;
        }
        if let Err(e) = host.kv_set_json(&key(wa_id), &seconds) {
            host.warn(&format!("cannot record the messaging window of a WhatsApp user: {e}"));
            return;
        }
    }
}

/// Whether the window of `wa_id` is known to be closed: the person wrote, but
/// more than 24 hours ago. Unknown (never wrote, or no clock) is not closed.
pub fn known_closed(host: &Host, wa_id: &str) -> bool {
    let (Some(now), Ok(Some(last))) = (now_seconds(), host.kv_get_json::<i64>(&key(wa_id))) else {
        return false;
    };
    now - last >= WINDOW_SECONDS
}

/// Seconds since the epoch by the clock the host gives the component (WASI wall clock).
fn now_seconds() -> Option<i64> {
    omni_plugin_sdk::clock::now_ms().map(|ms| ms / 1000).filter(|&s| s > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_only_moves_forward_and_closes_after_a_day() {
        let mock = testing::MockHost::new();
        let host = mock.host();
        let now = now_seconds().unwrap();
        record(&host, &BTreeMap::from([("16505551234".to_owned(), now - 10)]));
        assert!(!known_closed(&host, "16505551234"));
        record(
            &host,
            &BTreeMap::from([("16505551234".to_owned(), now - 2 * WINDOW_SECONDS)]),
        );
        assert_eq!(host.kv_get_json::<i64>("window/16505551234").unwrap(), Some(now - 10));

        record(
            &host,
            &BTreeMap::from([("15551230000".to_owned(), now - WINDOW_SECONDS - 1)]),
        );
        assert!(known_closed(&host, "15551230000"));
        assert!(!known_closed(&host, "19999999999"), "never wrote: unknown, not closed");
    }
}
