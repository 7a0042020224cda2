//! The webhook body Meta posts for a WhatsApp Business Account.
//!
//! Only what the connector reads is modelled; unknown fields are ignored and
//! nearly everything is optional, so a new message type or field never turns
//! a valid notification into a 400. `object` and `entry` are required.

use serde::{Deserialize, Deserializer};

/// The top-level notification.
#[derive(Debug, Deserialize)]
pub struct Notification {
    /// `whatsapp_business_account` for WhatsApp.
    pub object: String,
    /// One entry per business account.
    pub entry: Vec<Entry>,
}

/// Changes of one WhatsApp Business Account.
#[derive(Debug, Deserialize)]
pub struct Entry {
    /// The business account id.
    #[serde(default)]
    pub id: String,
    /// What changed.
    #[serde(default)]
    pub changes: Vec<Change>,
}

/// One change; `value` is read according to `field`.
#[derive(Debug, Deserialize)]
pub struct Change {
    /// `messages` for messages and statuses; others (template updates...) are ignored.
    #[serde(default)]
    pub field: String,
    /// The change's content, kept raw until `field` says what it is.
    #[serde(default)]
    pub value: serde_json::Value,
}

/// The value of a `messages` change.
#[derive(Debug, Default, Deserialize)]
pub struct MessagesValue {
    /// The business number the change is about.
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// Profiles of the people who wrote.
    #[serde(default)]
    pub contacts: Vec<Contact>,
    /// Messages people sent.
    #[serde(default)]
    pub messages: Vec<Message>,
    /// Statuses of messages the business sent.
    #[serde(default)]
    pub statuses: Vec<Status>,
    /// Errors not tied to a message.
    #[serde(default)]
    pub errors: Vec<ApiError>,
}

/// The business number of a change.
#[derive(Debug, Deserialize)]
pub struct Metadata {
    /// Its id, as used in the Messages API URL.
    #[serde(default)]
    pub phone_number_id: String,
}

/// A person's profile.
#[derive(Debug, Deserialize)]
pub struct Contact {
    /// Their WhatsApp id: the phone number without `+`.
    #[serde(default)]
    pub wa_id: Option<String>,
    /// Their profile.
    #[serde(default)]
    pub profile: Option<Profile>,
}

/// A profile.
#[derive(Debug, Deserialize)]
pub struct Profile {
    /// The name the person set in WhatsApp.
    #[serde(default)]
    pub name: Option<String>,
}

/// A message a person sent.
#[derive(Debug, Deserialize)]
pub struct Message {
    /// The message id (`wamid.…`), stable across Meta's retries.
    pub id: String,
    /// The sender's WhatsApp id.
    #[serde(default)]
    pub from: Option<String>,
    /// Send time, seconds since the epoch (a string on the wire).
    #[serde(default, deserialize_with = "seconds")]
    pub timestamp: Option<i64>,
    /// The message type: `text`, `image`, `interactive`...
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The message this one answers.
    #[serde(default)]
    pub context: Option<Context>,
    /// Content of a `text` message.
    #[serde(default)]
    pub text: Option<Text>,
    /// Content of an `image` message.
    #[serde(default)]
    pub image: Option<Media>,
    /// Content of a `video` message.
    #[serde(default)]
    pub video: Option<Media>,
    /// Content of an `audio` message.
    #[serde(default)]
    pub audio: Option<Media>,
    /// Content of a `document` message.
    #[serde(default)]
    pub document: Option<Media>,
    /// Content of a `sticker` message.
    #[serde(default)]
    pub sticker: Option<Media>,
    /// Content of a `location` message.
    #[serde(default)]
    pub location: Option<Location>,
    /// Content of a `contacts` message.
    #[serde(default)]
    pub contacts: Option<Vec<SharedContact>>,
    /// Content of an `interactive` reply.
    #[serde(default)]
    pub interactive: Option<Interactive>,
    /// Content of a template quick-reply `button` message.
    #[serde(default)]
    pub button: Option<Button>,
    /// Content of a `reaction` message.
    #[serde(default)]
    pub reaction: Option<Reaction>,
}

impl Message {
    /// The media object of a media message.
    pub fn media(&self) -> Option<&Media> {
        match self.kind.as_str() {
            "image" => self.image.as_ref(),
            "video" => self.video.as_ref(),
            "audio" => self.audio.as_ref(),
            "document" => self.document.as_ref(),
            "sticker" => self.sticker.as_ref(),
            _ => None,
        }
    }
}

/// The message a message answers.
#[derive(Debug, Deserialize)]
pub struct Context {
    /// Its id.
    #[serde(default)]
    pub id: Option<String>,
}

/// A text body.
#[derive(Debug, Deserialize)]
pub struct Text {
    /// The text.
    #[serde(default)]
    pub body: String,
}

/// Media metadata; the content is fetched separately by id.
#[derive(Debug, Deserialize)]
pub struct Media {
    /// The media id.
    #[serde(default)]
    pub id: Option<String>,
    /// MIME type.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// Caption the person wrote.
    #[serde(default)]
    pub caption: Option<String>,
    /// File name of a document.
    #[serde(default)]
    pub filename: Option<String>,
}

/// A shared location.
#[derive(Debug, Deserialize)]
pub struct Location {
    /// Latitude.
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Longitude.
    #[serde(default)]
    pub longitude: Option<f64>,
    /// Place name.
    #[serde(default)]
    pub name: Option<String>,
    /// Address.
    #[serde(default)]
    pub address: Option<String>,
}

/// A contact card the person shared.
#[derive(Debug, Deserialize)]
pub struct SharedContact {
    /// Its name.
    #[serde(default)]
    pub name: Option<ContactName>,
    /// Its phone numbers.
    #[serde(default)]
    pub phones: Vec<ContactPhone>,
}

/// The name of a shared contact.
#[derive(Debug, Deserialize)]
pub struct ContactName {
    /// The full name.
    #[serde(default)]
    pub formatted_name: Option<String>,
}

/// A phone number of a shared contact.
#[derive(Debug, Deserialize)]
pub struct ContactPhone {
    /// The number as written.
    #[serde(default)]
    pub phone: Option<String>,
}

/// A reply to an interactive message.
#[derive(Debug, Deserialize)]
pub struct Interactive {
    /// `button_reply`, `list_reply`, ...
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The reply button pressed.
    #[serde(default)]
    pub button_reply: Option<Reply>,
    /// The list row chosen.
    #[serde(default)]
    pub list_reply: Option<Reply>,
}

/// A chosen button or list row.
#[derive(Debug, Deserialize)]
pub struct Reply {
    /// Its title, as the person saw it.
    #[serde(default)]
    pub title: String,
}

/// A template quick-reply button press.
#[derive(Debug, Deserialize)]
pub struct Button {
    /// The button's text.
    #[serde(default)]
    pub text: Option<String>,
    /// The payload the business gave it.
    #[serde(default)]
    pub payload: Option<String>,
}

/// A reaction to a message.
#[derive(Debug, Deserialize)]
pub struct Reaction {
    /// The message reacted to.
    #[serde(default)]
    pub message_id: Option<String>,
    /// The emoji; empty when the reaction was removed.
    #[serde(default)]
    pub emoji: Option<String>,
}

/// The status of a message the business sent.
#[derive(Debug, Deserialize)]
pub struct Status {
    /// The message id the Messages API returned.
    pub id: String,
    /// `sent`, `delivered`, `read`, `failed`...
    #[serde(default)]
    pub status: String,
    /// When, seconds since the epoch.
    #[serde(default, deserialize_with = "seconds")]
    pub timestamp: Option<i64>,
    /// Why it failed.
    #[serde(default)]
    pub errors: Vec<ApiError>,
}

/// An error Meta reports in a webhook.
#[derive(Debug, Deserialize)]
pub struct ApiError {
    /// The error code.
    #[serde(default)]
    pub code: Option<i64>,
    /// Its title.
    #[serde(default)]
    pub title: Option<String>,
    /// Its message.
    #[serde(default)]
    pub message: Option<String>,
    /// More detail.
    #[serde(default)]
    pub error_data: Option<ErrorData>,
}

impl ApiError {
    /// `code: title (details)`, for logs and failed statuses.
    pub fn describe(&self) -> String {
        let code = self.code.map_or_else(|| "?".to_owned(), |c| c.to_string());
        let title = self
            .title
            .as_deref()
            .or(self.message.as_deref())
            .unwrap_or("unknown error");
        match self.error_data.as_ref().and_then(|d| d.details.as_deref()) {
            Some(details) if !details.is_empty() && details != title => format!("{code}: {title} ({details})"),
            _ => format!("{code}: {title}"),
        }
    }
}

/// The details of an error.
#[derive(Debug, Deserialize)]
pub struct ErrorData {
    /// A sentence about the cause.
    #[serde(default)]
    pub details: Option<String>,
}

/// Reads a timestamp Meta sends as a decimal string (older examples use a number).
fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(i64),
        Text(String),
    }
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
    fn timestamps_are_read_as_strings_or_numbers() {
        let status: Status = serde_json::from_str(r#"{"id":"w","timestamp":"1750263773"}"#).unwrap();
        assert_eq!(status.timestamp, Some(1_750_263_773));
        let status: Status = serde_json::from_str(r#"{"id":"w","timestamp":1750263773}"#).unwrap();
        assert_eq!(status.timestamp, Some(1_750_263_773));
        let status: Status = serde_json::from_str(r#"{"id":"w","timestamp":"soon"}"#).unwrap();
        assert_eq!(status.timestamp, None);
    }

    #[test]
    fn errors_describe_code_title_and_details() {
        let error: ApiError = serde_json::from_str(
            r#"{"code":131026,"title":"Message undeliverable","error_data":{"details":"Message Undeliverable."}}"#,
        )
        .unwrap();
        assert_eq!(
            error.describe(),
            "131026: Message undeliverable (Message Undeliverable.)"
        );
        let error: ApiError = serde_json::from_str(r#"{"code":131051,"title":"Unsupported message type"}"#).unwrap();
        assert_eq!(error.describe(), "131051: Unsupported message type");
    }
}
