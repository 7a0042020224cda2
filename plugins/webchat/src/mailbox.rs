//! Each visitor's mailbox of agent replies, kept in the plugin's key-value
//! store until the widget acknowledges them.
//!
//! `send` appends a reply; `GET /poll?visitor_id=…&after=N` returns the
//! replies after sequence number `N`, reports the newly fetched ones as
//! `delivered`, and drops those up to `N` (the widget has shown them) as
//! `read`. The host stores the key-value change and those receipts in one
//! transaction and retries the call if a concurrent call changed the mailbox.

use std::collections::VecDeque;

use omni_plugin_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// Replies a visitor may leave unread before sends are retried later.
const MAX_UNREAD: usize = 100;
/// Acknowledged ids remembered so that a re-sent reply is not shown twice.
const RECENT_IDS: usize = 64;

/// The stored mailbox of one visitor.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Mailbox {
    /// Sequence number of the next reply.
    pub next_seq: u64,
    /// Replies not yet acknowledged, oldest first.
    pub items: Vec<MailboxItem>,
    /// Ids of recently acknowledged replies.
    #[serde(default)]
    pub recent: VecDeque<String>,
}

/// One agent reply waiting in a mailbox.
#[derive(Debug, Serialize, Deserialize)]
pub struct MailboxItem {
    /// Position in the mailbox, increasing.
    pub seq: u64,
    /// The host's message id.
    pub id: String,
    /// Reply text.
    pub text: String,
    /// When the host handed it over, ms since the Unix epoch.
    pub sent_at: i64,
    /// Whether a poll has returned it.
    #[serde(default)]
    pub delivered: bool,
}

fn key(visitor_id: &str) -> String {
    format!("mailbox/{visitor_id}")
}

/// Handles `GET /poll`.
pub fn poll(host: &Host, request: &Request) -> Result<WebhookOutcome, PluginError> {
    let visitor_id = request
        .query_param("visitor_id")
        .ok_or_else(|| PluginError::bad_request("the `visitor_id` query parameter is required"))?;
    if visitor_id.is_empty() || visitor_id.len() > 128 {
        return Err(PluginError::bad_request("`visitor_id` must be 1 to 128 characters"));
    }
    let after = match request.query_param("after") {
        None => 0,
        Some(raw) => raw
            .parse::<u64>()
            .map_err(|_| PluginError::bad_request(format!("`after` must be a sequence number, got {raw:?}")))?,
    };

    let key = key(&visitor_id);
    let mut mailbox: Mailbox = host.kv_get_json(&key)?.unwrap_or_default();
    let mut events: Vec<Event> = Vec::new();
    let before = mailbox.items.len();
    let now = crate::now_ms();

    let (acknowledged, unread): (Vec<_>, Vec<_>) = mailbox.items.drain(..).partition(|item| item.seq <= after);
    mailbox.items = unread;
    for item in acknowledged {
        events.push(status(&item.id, DeliveryState::Read, now));
        mailbox.recent.push_back(item.id);
        while mailbox.recent.len() > RECENT_IDS {
            mailbox.recent.pop_front();
        }
    }
    let mut changed = mailbox.items.len() != before;
    for item in mailbox.items.iter_mut().filter(|item| !item.delivered) {
        item.delivered = true;
        changed = true;
        events.push(status(&item.id, DeliveryState::Delivered, now));
    }
    if changed {
        host.kv_set_json(&key, &mailbox)?;
    }

    let cursor = mailbox.items.last().map_or(after, |item| item.seq.max(after));
    let messages: Vec<_> = mailbox
        .items
        .iter()
        .map(|item| serde_json::json!({ "seq": item.seq, "id": item.id, "text": item.text, "sent_at": item.sent_at }))
        .collect();
    let body = serde_json::json!({ "messages": messages, "cursor": cursor });
    let mut outcome = WebhookOutcome::new(Response::json(200, &body).with_header("cache-control", "no-store"));
    outcome.events = events;
    Ok(outcome)
}

fn status(id: &str, state: DeliveryState, at: i64) -> Event {
    let mut status = DeliveryStatus::new(id, state);
    status.at = Some(at);
    status.into()
}

/// Leaves an agent reply in the visitor's mailbox.
pub fn deliver(host: &Host, message: OutboundMessage, recipient: Identity) -> Result<SendReceipt, SendError> {
    if recipient.kind != IdentityKind::ChannelUser {
        return Err(SendError::permanent(format!(
            "web chat reaches visitors by their visitor id, not by {:?}",
            recipient.kind
        )));
    }
    let key = key(&recipient.value);
    let kv_failure = |e: PluginError| SendError::retryable(e.to_string());
    let mut mailbox: Mailbox = host.kv_get_json(&key).map_err(kv_failure)?.unwrap_or_default();

    // A retried send must not show the reply twice.
    if mailbox.items.iter().any(|item| item.id == message.id) || mailbox.recent.contains(&message.id) {
        return Ok(SendReceipt::sent(message.id));
    }
    if mailbox.items.len() >= MAX_UNREAD {
        return Err(SendError::Retryable {
            message: format!("the visitor has {MAX_UNREAD} unread replies; waiting for the widget to fetch them"),
            after_ms: Some(60_000),
        });
    }
    let mut text = message.text;
    for attachment in &message.attachments {
        if let Some(url) = &attachment.url {
            text.push_str(&format!("\n{url}"));
        }
    }
    mailbox.items.push(MailboxItem {
        seq: mailbox.next_seq + 1,
        id: message.id.clone(),
        text,
        sent_at: crate::now_ms(),
        delivered: false,
    });
    mailbox.next_seq += 1;
    host.kv_set_json(&key, &mailbox)
        .map_err(|e| SendError::retryable(e.to_string()))?;
    Ok(SendReceipt::sent(message.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Webchat;

    fn poll_body(mock: &testing::MockHost, query: &str) -> (serde_json::Value, Vec<Event>) {
        let outcome = Webchat::handle_webhook(&mock.host(), Request::get(&format!("/poll?{query}"))).unwrap();
        (serde_json::from_slice(&outcome.response.body).unwrap(), outcome.events)
    }

    fn send(mock: &testing::MockHost, id: &str, text: &str) -> Result<SendReceipt, SendError> {
        Webchat::send(
            &mock.host(),
            OutboundMessage::text(id, "c-1", text),
            Identity::channel_user("v-1"),
        )
    }

    #[test]
    fn replies_reach_the_poll_then_leave_once_acknowledged() {
        let mock = testing::MockHost::new();
        assert_eq!(send(&mock, "r-1", "Hello").unwrap().external_id, "r-1");
        send(&mock, "r-2", "Anything else?").unwrap();

        let (body, events) = poll_body(&mock, "visitor_id=v-1");
        assert_eq!(body["messages"].as_array().unwrap().len(), 2);
        assert_eq!(body["messages"][0]["text"], "Hello");
        assert_eq!(body["cursor"], 2);
        let delivered: Vec<_> = events
            .iter()
            .map(|e| match e {
                Event::DeliveryStatus(s) => (s.external_id.as_str(), s.state),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            delivered,
            vec![("r-1", DeliveryState::Delivered), ("r-2", DeliveryState::Delivered)]
        );

        // Polling again without acknowledging reports nothing new.
        let (body, events) = poll_body(&mock, "visitor_id=v-1");
        assert_eq!(body["messages"].as_array().unwrap().len(), 2);
        assert!(events.is_empty());

        let (body, events) = poll_body(&mock, "visitor_id=v-1&after=1");
        assert_eq!(body["messages"].as_array().unwrap().len(), 1);
        assert!(
            matches!(&events[..], [Event::DeliveryStatus(s)] if s.external_id == "r-1" && s.state == DeliveryState::Read)
        );
    }

    #[test]
    fn a_resent_reply_is_not_shown_twice() {
        let mock = testing::MockHost::new();
        send(&mock, "r-1", "Hello").unwrap();
        send(&mock, "r-1", "Hello").unwrap();
        let (body, _) = poll_body(&mock, "visitor_id=v-1&after=1");
        assert!(body["messages"].as_array().unwrap().is_empty());
        send(&mock, "r-1", "Hello").unwrap();
        let (body, _) = poll_body(&mock, "visitor_id=v-1&after=1");
        assert!(
            body["messages"].as_array().unwrap().is_empty(),
            "acknowledged reply came back: {body}"
        );
    }

    #[test]
    fn a_full_mailbox_asks_to_retry_later() {
        let mock = testing::MockHost::new();
        for i in 0..MAX_UNREAD {
            send(&mock, &format!("r-{i}"), "x").unwrap();
        }
        assert!(matches!(send(&mock, "r-x", "x"), Err(SendError::Retryable { .. })));
    }

    #[test]
    fn only_visitor_ids_are_reachable() {
        let mock = testing::MockHost::new();
        let err = Webchat::send(
            &mock.host(),
            OutboundMessage::text("r", "c", "x"),
            Identity::email("a@b.c"),
        )
        .unwrap_err();
        assert!(matches!(err, SendError::Permanent { .. }));
    }

    #[test]
    fn poll_validates_its_parameters() {
        let mock = testing::MockHost::new();
        let err = Webchat::handle_webhook(&mock.host(), Request::get("/poll")).unwrap_err();
        assert_eq!(err.status(), 400);
        let err = Webchat::handle_webhook(&mock.host(), Request::get("/poll?visitor_id=v&after=x")).unwrap_err();
        assert!(err.message().contains("after"));
    }
}
