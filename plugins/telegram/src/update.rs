//! The Bot API objects of an incoming `Update` (https://core.telegram.org/bots/api#update),
//! reduced to the fields the connector reads.
//!
//! Fields the connector does not read are ignored, and every field Telegram
//! marks optional is an `Option` here, so a new or absent field never fails
//! a webhook. Only `update_id`, and a message's `message_id`, `date` and
//! `chat`, are required: Telegram always sends them.

use serde::Deserialize;

/// One incoming update; at most one of the optional fields is set.
#[derive(Debug, Deserialize)]
pub struct Update {
    /// The update's unique id; Telegram's retries repeat it.
    pub update_id: i64,
    /// A new message.
    #[serde(default)]
    pub message: Option<Message>,
    /// A new version of a message the bot already received.
    #[serde(default)]
    pub edited_message: Option<Message>,
    /// A press on an inline keyboard button.
    #[serde(default)]
    pub callback_query: Option<CallbackQuery>,
    /// The bot's own membership changed (in private chats: blocked or unblocked).
    #[serde(default)]
    pub my_chat_member: Option<ChatMemberUpdated>,
}

impl Update {
    /// The name of the update's kind when it is one the connector ignores, for the log.
    pub fn ignored_kind(raw: &serde_json::Value) -> String {
        raw.as_object()
            .and_then(|fields| fields.keys().find(|key| key.as_str() != "update_id").cloned())
            .unwrap_or_else(|| "empty".to_owned())
    }
}

/// A Telegram user or bot.
#[derive(Debug, Deserialize)]
pub struct User {
    /// Unique id; up to 52 significant bits.
    pub id: i64,
    /// Whether this is a bot.
    #[serde(default)]
    pub is_bot: bool,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Username, without `@`.
    #[serde(default)]
    pub username: Option<String>,
}

/// A chat.
#[derive(Debug, Deserialize)]
pub struct Chat {
    /// Unique id; negative for groups, supergroups and channels.
    pub id: i64,
    /// `private`, `group`, `supergroup` or `channel`. Old examples omit it.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

impl Chat {
    /// Whether this is a one-to-one chat between a user and the bot.
    ///
    /// Without a `type` (as in some of Telegram's older examples) the id
    /// decides: private chats have the user's positive id.
    pub fn is_private(&self) -> bool {
        match self.kind.as_deref() {
            Some(kind) => kind == "private",
            None => self.id > 0,
        }
    }
}

/// A message.
#[derive(Debug, Deserialize)]
pub struct Message {
    /// Unique only within its chat.
    pub message_id: i64,
    /// The forum topic (or private-chat topic) the message belongs to.
    #[serde(default)]
    pub message_thread_id: Option<i64>,
    /// Whether `message_thread_id` names a topic, not just a reply thread.
    #[serde(default)]
    pub is_topic_message: Option<bool>,
    /// The sender; absent in channels.
    #[serde(default)]
    pub from: Option<User>,
    /// Set when the message was sent on behalf of a chat (anonymous admins, linked channels).
    #[serde(default)]
    pub sender_chat: Option<Chat>,
    /// Unix time in seconds.
    pub date: i64,
    /// Where the message was sent.
    pub chat: Chat,
    /// The message this one replies to, in the same chat.
    #[serde(default)]
    pub reply_to_message: Option<Box<Message>>,
    /// Unix time of the last edit, in seconds.
    #[serde(default)]
    pub edit_date: Option<i64>,
    /// Text of a text message.
    #[serde(default)]
    pub text: Option<String>,
    /// Caption of a media message.
    #[serde(default)]
    pub caption: Option<String>,
    /// A photo in several sizes.
    #[serde(default)]
    pub photo: Option<Vec<PhotoSize>>,
    /// A general file.
    #[serde(default)]
    pub document: Option<File>,
    /// A GIF or silent video; `document` is then set to the same file too.
    #[serde(default)]
    pub animation: Option<File>,
    /// A music file.
    #[serde(default)]
    pub audio: Option<File>,
    /// A video.
    #[serde(default)]
    pub video: Option<File>,
    /// A round video message.
    #[serde(default)]
    pub video_note: Option<File>,
    /// A voice note.
    #[serde(default)]
    pub voice: Option<File>,
    /// A sticker.
    #[serde(default)]
    pub sticker: Option<Sticker>,
    /// A shared contact card.
    #[serde(default)]
    pub contact: Option<Contact>,
    /// A shared location.
    #[serde(default)]
    pub location: Option<Location>,
    /// A shared venue (its location is in `location` too).
    #[serde(default)]
    pub venue: Option<Venue>,
}

/// One size of a photo.
#[derive(Debug, Deserialize)]
pub struct PhotoSize {
    /// Id to download or resend the file.
    pub file_id: String,
    /// Width in pixels.
    #[serde(default)]
    pub width: u32,
    /// Height in pixels.
    #[serde(default)]
    pub height: u32,
    /// Size in bytes.
    #[serde(default)]
    pub file_size: Option<u64>,
}

/// The common fields of Document, Animation, Audio, Video, VideoNote and Voice.
#[derive(Debug, Deserialize)]
pub struct File {
    /// Id to download or resend the file.
    pub file_id: String,
    /// Original file name, as the sender's client gave it.
    #[serde(default)]
    pub file_name: Option<String>,
    /// MIME type, as the sender's client gave it.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// Size in bytes.
    #[serde(default)]
    pub file_size: Option<u64>,
    /// Title of an audio file.
    #[serde(default)]
    pub title: Option<String>,
}

/// A sticker.
#[derive(Debug, Deserialize)]
pub struct Sticker {
    /// Id to download or resend the file.
    pub file_id: String,
    /// Whether it is an animated (`.tgs`) sticker.
    #[serde(default)]
    pub is_animated: bool,
    /// Whether it is a video (`.webm`) sticker.
    #[serde(default)]
    pub is_video: bool,
    /// The emoji the sticker stands for.
    #[serde(default)]
    pub emoji: Option<String>,
    /// Size in bytes.
    #[serde(default)]
    pub file_size: Option<u64>,
}

/// A contact card.
#[derive(Debug, Deserialize)]
pub struct Contact {
    /// The phone number as shared, with or without `+`.
    pub phone_number: String,
    /// First name on the card.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name on the card.
    #[serde(default)]
    pub last_name: Option<String>,
    /// The Telegram user this number belongs to, when Telegram knows it.
    #[serde(default)]
    pub user_id: Option<i64>,
}

/// A point on the map.
#[derive(Debug, Deserialize)]
pub struct Location {
    /// Latitude in degrees.
    pub latitude: f64,
    /// Longitude in degrees.
    pub longitude: f64,
}

/// A named place.
#[derive(Debug, Deserialize)]
pub struct Venue {
    /// Name of the venue.
    #[serde(default)]
    pub title: Option<String>,
    /// Address of the venue.
    #[serde(default)]
    pub address: Option<String>,
}

/// A press on an inline keyboard button.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    /// Unique id of the press.
    pub id: String,
    /// Who pressed.
    pub from: User,
    /// The message with the button, when the bot sent it to a chat (not inline).
    #[serde(default)]
    pub message: Option<Message>,
    /// The button's `callback_data`; absent for game buttons.
    #[serde(default)]
    pub data: Option<String>,
}

/// A change of a chat member's status.
#[derive(Debug, Deserialize)]
pub struct ChatMemberUpdated {
    /// The chat.
    pub chat: Chat,
    /// Who made the change.
    pub from: User,
    /// The member's new state.
    pub new_chat_member: ChatMember,
}

/// A chat member's state.
#[derive(Debug, Deserialize)]
pub struct ChatMember {
    /// `creator`, `administrator`, `member`, `restricted`, `left` or `kicked`.
    pub status: String,
}
