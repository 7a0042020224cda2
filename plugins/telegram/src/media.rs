//! Files in a message as attachment metadata.
//!
//! Telegram serves a file only through `getFile` and a download URL that
//! contains the bot token, so no attachment carries an `https` URL: that
//! would put the token in the host's database. Instead `url` is
//! `telegram-file:<file_id>`, which an integration holding the token can
//! resolve with `getFile`, and which [`crate::send`] accepts to send the same
//! file again through this bot.

use omni_plugin_sdk::Attachment;

use crate::update::{File, Message, PhotoSize};

/// The scheme of attachment URLs naming a Telegram file id.
pub const FILE_SCHEME: &str = "telegram-file:";

/// The attachments of a message, in a stable order.
pub fn attachments(message: &Message) -> Vec<Attachment> {
    let mut out = Vec::new();
    if let Some(photo) = message.photo.as_deref().and_then(largest) {
        out.push(attachment(None, "image/jpeg", photo.file_size, &photo.file_id));
    }
    // An animation also arrives as `document` (for old clients): report it once.
    if let Some(animation) = &message.animation {
        out.push(file(animation, "video/mp4"));
    } else if let Some(document) = &message.document {
        out.push(file(document, "application/octet-stream"));
    }
    if let Some(audio) = &message.audio {
        let mut item = file(audio, "audio/mpeg");
        item.name = item.name.or_else(|| audio.title.clone());
        out.push(item);
    }
    if let Some(video) = &message.video {
        out.push(file(video, "video/mp4"));
    }
    if let Some(note) = &message.video_note {
        out.push(file(note, "video/mp4"));
    }
    if let Some(voice) = &message.voice {
        out.push(file(voice, "audio/ogg"));
    }
    if let Some(sticker) = &message.sticker {
        let content_type = if sticker.is_animated {
            "application/x-tgsticker"
        } else if sticker.is_video {
            "video/webm"
        } else {
            "image/webp"
        };
        out.push(attachment(None, content_type, sticker.file_size, &sticker.file_id));
    }
    out
}

/// Telegram lists a photo's sizes smallest first, but the order is not
/// promised: pick the largest area, then the largest file.
fn largest(sizes: &[PhotoSize]) -> Option<&PhotoSize> {
    sizes.iter().max_by_key(|size| {
        (
            u64::from(size.width) * u64::from(size.height),
            size.file_size.unwrap_or(0),
        )
    })
}

fn file(file: &File, default_type: &str) -> Attachment {
    let content_type = file
        .mime_type
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or(default_type);
    attachment(file.file_name.clone(), content_type, file.file_size, &file.file_id)
}

fn attachment(name: Option<String>, content_type: &str, size: Option<u64>, file_id: &str) -> Attachment {
    Attachment {
        name,
        content_type: content_type.to_owned(),
        size,
        url: Some(format!("{FILE_SCHEME}{file_id}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(file_id: &str, width: u32, height: u32, file_size: Option<u64>) -> PhotoSize {
        PhotoSize {
            file_id: file_id.to_owned(),
            width,
            height,
            file_size,
        }
    }

    #[test]
    fn the_largest_photo_size_wins_whatever_the_order() {
        let sizes = [size("big", 1280, 960, Some(90_000)), size("small", 90, 67, Some(1_000))];
        assert_eq!(largest(&sizes).map(|s| s.file_id.as_str()), Some("big"));
        assert!(largest(&[]).is_none());
    }
}
