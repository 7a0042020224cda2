//! The webhook body Meta posts for a Page (`object: "page"`) or an Instagram
//! account (`object: "instagram"`).
//!
//! Only what the connector reads is modelled; unknown fields and event kinds
//! are ignored. Required: `object`, `entry`, each messaging event's
//! `sender.id` and each message's `mid`.

use serde::{Deserialize, Deserializer};

/// The top-level notification.
#[derive(Debug, Deserialize)]
pub struct Notification {
    /// `page` (Messenger) or `instagram`.
    pub object: String,
    /// One entry per Page or Instagram account.
    pub entry: Vec<Entry>,
}

/// Events of one Page or Instagram account.
#[derive(Debug, Deserialize)]
pub struct Entry {
    /// The Page or Instagram account id.
    #[serde(default, deserialize_with = "id")]
    pub id: String,
    /// When Meta sent the batch, ms since the epoch.
    #[serde(default, deserialize_with = "number")]
    pub time: Option<i64>,
    /// Messaging events; other entry kinds (`changes`, `standby`) are ignored.
    #[serde(default)]
    pub messaging: Vec<Messaging>,
}

/// One messaging event; exactly one of its optional parts is usually set.
#[derive(Debug, Deserialize)]
pub struct Messaging {
    /// Who caused the event: the person, or the Page for echoes.
    pub sender: Party,
    /// When, ms since the epoch.
    #[serde(default, deserialize_with = "number")]
    pub timestamp: Option<i64>,
    /// A message.
    #[serde(default)]
    pub message: Option<Message>,
    /// A button press.
    #[serde(default)]
    pub postback: Option<Postback>,
    /// A reaction to a message.
    #[serde(default)]
    pub reaction: Option<Reaction>,
    /// A delivery receipt.
    #[serde(default)]
    pub delivery: Option<Delivery>,
    /// A read receipt.
    #[serde(default)]
    pub read: Option<Read>,
}

/// A sender or recipient.
#[derive(Debug, Deserialize)]
pub struct Party {
    /// A page-scoped id (PSID), Instagram-scoped id (IGSID), or the Page's id.
    #[serde(deserialize_with = "id")]
    pub id: String,
}

/// A message.
#[derive(Debug, Deserialize)]
pub struct Message {
    /// The message id, stable across Meta's retries.
    pub mid: String,
    /// Text, also set for quick replies (the button's title).
    #[serde(default)]
    pub text: Option<String>,
    /// Files and other attachments.
    #[serde(default)]
    pub attachments: Vec<MessageAttachment>,
    /// The message this one answers.
    #[serde(default)]
    pub reply_to: Option<ReplyTo>,
    /// Set on the Page's own messages echoed back.
    #[serde(default)]
    pub is_echo: bool,
    /// Set when the person unsent the message (Instagram).
    #[serde(default)]
    pub is_deleted: bool,
}

/// An attachment of a message.
#[derive(Debug, Deserialize)]
pub struct MessageAttachment {
    /// `image`, `video`, `audio`, `file`, ...
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Kind-specific; media carry a `url`.
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
}

impl MessageAttachment {
    /// Where Meta serves the content, when it does.
    pub fn url(&self) -> Option<&str> {
        self.payload.as_ref()?.get("url")?.as_str().filter(|u| !u.is_empty())
    }
}

/// The message a message answers.
#[derive(Debug, Deserialize)]
pub struct ReplyTo {
    /// Its id (absent for replies to Instagram stories).
    #[serde(default)]
    pub mid: Option<String>,
}

/// A postback button press.
#[derive(Debug, Deserialize)]
pub struct Postback {
    /// The button's title, as the person saw it.
    #[serde(default)]
    pub title: Option<String>,
    /// The payload the business gave the button.
    #[serde(default)]
    pub payload: Option<String>,
    /// The id of the message the press created (absent in older webhooks).
    #[serde(default)]
    pub mid: Option<String>,
}

/// A reaction to a message.
#[derive(Debug, Deserialize)]
pub struct Reaction {
    /// The message reacted to.
    #[serde(default)]
    pub mid: Option<String>,
    /// `react` or `unreact`.
    #[serde(default)]
    pub action: Option<String>,
    /// The emoji.
    #[serde(default)]
    pub emoji: Option<String>,
}

/// A delivery receipt.
#[derive(Debug, Deserialize)]
pub struct Delivery {
    /// The messages delivered (may be absent).
    #[serde(default)]
    pub mids: Vec<String>,
    /// Everything sent before this time was delivered, ms since the epoch.
    #[serde(default, deserialize_with = "number")]
    pub watermark: Option<i64>,
}

/// A read receipt: Messenger gives a watermark, Instagram the last message read.
#[derive(Debug, Deserialize)]
pub struct Read {
    /// Everything sent before this time was read, ms since the epoch.
    #[serde(default, deserialize_with = "number")]
    pub watermark: Option<i64>,
    /// The message read (Instagram).
    #[serde(default)]
    pub mid: Option<String>,
}

/// Meta's timestamps are milliseconds, but a few documented examples give
/// seconds; values too small to be milliseconds of this century are read as seconds.
pub fn millis(timestamp: i64) -> i64 {
    if timestamp.abs() < 100_000_000_000 {
        timestamp.saturating_mul(1000)
    } else {
        timestamp
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Number(i64),
    Text(String),
}

/// An id Meta sends as a string (some senders use a number).
fn id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(match Raw::deserialize(deserializer)? {
        Raw::Number(n) => n.to_string(),
        Raw::Text(text) => text,
    })
}

/// A number Meta sends as a number (some senders use a string).
fn number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<Raw>::deserialize(deserializer)? {
        Some(Raw::Number(n)) => Some(n),
        Some(Raw::Text(text)) => text.trim().parse().ok(),
        None => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_times_accept_numbers_and_strings() {
        let event: Messaging =
            serde_json::from_str(r#"{"sender":{"id":1254477777772919},"timestamp":"1458692752478"}"#).unwrap();
        assert_eq!(event.sender.id, "1254477777772919");
        assert_eq!(event.timestamp, Some(1_458_692_752_478));
    }

    #[test]
    fn second_timestamps_become_milliseconds() {
        assert_eq!(millis(1_527_459_824), 1_527_459_824_000);
        assert_eq!(millis(1_458_692_752_478), 1_458_692_752_478);
    }
}
