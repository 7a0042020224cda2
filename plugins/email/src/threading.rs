//! Email threading.
//!
//! An email's external id is its Message-ID without angle brackets, so a
//! reply's `In-Reply-To` and `References` name earlier messages by their
//! external ids and the host continues their conversation. Our replies carry
//! our own Message-ID `<{message id}@{from domain}>`, returned as the
//! receipt's external id, so the customer's answer to a reply threads too.
//!
//! The thread id of an inbound email is the root of its thread: the first
//! References entry, else In-Reply-To, else its own id. The host reads only
//! the newest 20 references, so the root keeps long threads together.
//!
//! For each inbound email the kv store keeps its subject and References
//! (`message/{id}`), so that a reply can say "Re: <subject>" and carry the
//! whole chain; and each sent reply maps the provider's message id to ours
//! (`sent/{provider}/{provider id}`), so delivery webhooks find it.

use omni_plugin_sdk::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The most References kept: the thread root and the newest others.
pub const MAX_REFERENCES: usize = 20;
/// Longest id used as is; longer ones are hashed (the host takes 512 bytes).
const MAX_ID_BYTES: usize = 480;

/// What the kv store keeps about an inbound email.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadRecord {
    /// The email's subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Its References, oldest first.
    #[serde(default)]
    pub references: Vec<String>,
}

/// A Message-ID as external id: without brackets and surrounding space,
/// hashed when too long; `None` when it is not a usable id.
pub fn external_id(message_id: &str) -> Option<String> {
    let id = message_id.trim().trim_start_matches('<').trim_end_matches('>').trim();
    if id.is_empty()
        || id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
    {
        return None;
    }
    if id.len() > MAX_ID_BYTES {
        return Some(format!("sha256:{}", hex::encode(Sha256::digest(id.as_bytes()))));
    }
    Some(id.to_owned())
}

/// Normalises ids, drops duplicates and keeps the root and the newest
/// `MAX_REFERENCES - 1` others.
pub fn cap_references(ids: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut list: Vec<String> = Vec::new();
    for id in ids {
        if let Some(id) = external_id(&id)
            && !list.contains(&id)
        {
            list.push(id);
        }
    }
    if list.len() > MAX_REFERENCES {
        let tail = list.split_off(list.len() - (MAX_REFERENCES - 1));
        list.truncate(1);
        list.extend(tail);
    }
    list
}

/// The kv key of an email's thread record.
pub fn record_key(external_id: &str) -> String {
    format!("message/{external_id}")
}

/// Stores the thread record of an inbound email.
pub fn remember(host: &Host, external_id: &str, record: &ThreadRecord) -> Result<(), PluginError> {
    Ok(host.kv_set_json(&record_key(external_id), record)?)
}

/// The thread record of an email, when it came in through this instance.
pub fn recall(host: &Host, external_id: &str) -> Result<Option<ThreadRecord>, PluginError> {
    host.kv_get_json(&record_key(external_id))
}

/// The kv key mapping a provider's message id to our Message-ID.
pub fn sent_key(provider: &str, provider_id: &str) -> String {
    let id = provider_id.trim().trim_start_matches('<').trim_end_matches('>');
    let id = if id.len() > MAX_ID_BYTES {
        hex::encode(Sha256::digest(id.as_bytes()))
    } else {
        id.to_owned()
    };
    format!("sent/{provider}/{id}")
}

/// Our Message-ID (without brackets) for the host's message `id`, in the
/// domain of the `from` address. Characters outside RFC 5322's dot-atom are
/// written `=XX`, so distinct ids stay distinct.
pub fn our_message_id(id: &str, from_domain: &str) -> String {
    let mut local = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.".contains(&byte) {
            local.push(byte as char);
        } else {
            local.push_str(&format!("={byte:02X}"));
        }
    }
    let local = local.trim_matches('.');
    let local = if local.is_empty() { "omni" } else { local };
    format!("{local}@{}", from_domain.to_ascii_lowercase())
}

/// The subject of a reply: "Re: <subject>" (not doubled), or the default.
pub fn reply_subject(subject: Option<&str>, default: &str) -> String {
    match subject.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if has_reply_prefix(s) => s.to_owned(),
        Some(s) => format!("Re: {s}"),
        None => default.to_owned(),
    }
}

fn has_reply_prefix(subject: &str) -> bool {
    let lower = subject.to_ascii_lowercase();
    ["re:", "re :", "aw:", "sv:", "antw:"]
        .iter()
        .any(|p| lower.starts_with(p))
}

/// A list of ids as a header value: `<a> <b>`; hashed ids cannot be written.
pub fn header_ids(ids: &[String]) -> Option<String> {
    let written: Vec<String> = ids
        .iter()
        .filter(|id| !id.starts_with("sha256:"))
        .map(|id| format!("<{id}>"))
        .collect();
    (!written.is_empty()).then(|| written.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_as_external_ids() {
        assert_eq!(external_id(" <a.b@example.com> ").as_deref(), Some("a.b@example.com"));
        assert_eq!(external_id("a.b@example.com").as_deref(), Some("a.b@example.com"));
        assert_eq!(external_id("<>"), None);
        assert_eq!(external_id("two words@x"), None);
        let long = format!("{}@example.com", "x".repeat(600));
        let hashed = external_id(&long).unwrap();
        assert!(hashed.starts_with("sha256:") && hashed.len() == 71, "{hashed}");
        assert_eq!(external_id(&long), Some(hashed));
    }

    #[test]
    fn references_keep_the_root_and_the_newest() {
        let ids: Vec<String> = (0..30).map(|i| format!("m{i}@x")).collect();
        let capped = cap_references(ids);
        assert_eq!(capped.len(), MAX_REFERENCES);
        assert_eq!(capped[0], "m0@x");
        assert_eq!(capped[1], "m11@x");
        assert_eq!(capped[19], "m29@x");
        let deduped = cap_references(["a@x".into(), "<a@x>".into(), "b@x".into(), "bad id".into()]);
        assert_eq!(deduped, vec!["a@x", "b@x"]);
    }

    #[test]
    fn our_message_ids() {
        assert_eq!(
            our_message_id("0190c9e8-7a1b-7c3d-9e4f-5a6b7c8d9e0f", "Acme.Example"),
            "0190c9e8-7a1b-7c3d-9e4f-5a6b7c8d9e0f@acme.example"
        );
        assert_eq!(our_message_id("a b/c", "acme.example"), "a=20b=2Fc@acme.example");
        assert_eq!(our_message_id("", "acme.example"), "omni@acme.example");
    }

    #[test]
    fn reply_subjects() {
        assert_eq!(reply_subject(Some("Order 12"), "New message"), "Re: Order 12");
        assert_eq!(reply_subject(Some("RE: Order 12"), "New message"), "RE: Order 12");
        assert_eq!(reply_subject(Some("  "), "New message"), "New message");
        assert_eq!(reply_subject(None, "Hello"), "Hello");
    }

    #[test]
    fn keys_and_header_values() {
        assert_eq!(
            sent_key("mailgun", "<20240305.1@mg.acme.example>"),
            "sent/mailgun/20240305.1@mg.acme.example"
        );
        assert_eq!(record_key("a@x"), "message/a@x");
        assert_eq!(
            header_ids(&["a@x".into(), "sha256:00".into(), "b@x".into()]).as_deref(),
            Some("<a@x> <b@x>")
        );
        assert_eq!(header_ids(&[]), None);
    }
}
