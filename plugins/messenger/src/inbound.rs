//! Messages, postbacks and reactions people send, as inbound messages.

use omni_plugin_sdk::prelude::*;

use crate::payload::{Message, MessageAttachment, Postback, Reaction};

/// Longest external id the host accepts.
const MAX_ID_LEN: usize = 512;

/// The person's identity. Meta signs the webhook with the app secret and
/// assigns the page- or Instagram-scoped id itself, so the id is verified; it
/// only means something to this Page, which the host's `messenger:`
/// namespace reflects.
fn sender(user: &str) -> Identity {
    Identity::channel_user(user).verified()
}

fn usable_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN
}

/// The inbound message for a message event, or `None` (logged) for echoes,
/// unsent and empty messages.
pub fn message(host: &Host, user: &str, message: &Message, at: Option<i64>) -> Option<InboundMessage> {
    if message.is_echo {
        host.debug(&format!("ignored the echo of the Page's own message {}", message.mid));
        return None;
    }
    if message.is_deleted {
        host.debug(&format!("ignored message {}: the person unsent it", message.mid));
        return None;
    }
    if !usable_id(&message.mid) {
        host.warn("ignored a Messenger message without a usable mid");
        return None;
    }
    let text = message.text.clone().unwrap_or_default();
    let attachments: Vec<Attachment> = message.attachments.iter().filter_map(attachment).collect();
    if text.trim().is_empty() && attachments.is_empty() {
        host.debug(&format!(
            "ignored message {} without text or attachment URLs",
            message.mid
        ));
        return None;
    }
    let mut event = InboundMessage::new(&message.mid, sender(user), text);
    event.attachments = attachments;
    event.reply_to = message
        .reply_to
        .as_ref()
        .and_then(|r| r.mid.clone())
        .filter(|mid| usable_id(mid));
    event.sent_at = at;
    Some(event)
}

/// The inbound message for a postback: the button's title as text. The
/// message id is the postback's `mid`, or for older webhooks without one an
/// id made of the person and the time, which Meta's retries repeat.
pub fn postback(host: &Host, user: &str, postback: &Postback, at: Option<i64>) -> Option<InboundMessage> {
    let text = postback
        .title
        .as_deref()
        .or(postback.payload.as_deref())
        .filter(|t| !t.trim().is_empty());
    let id = match (&postback.mid, at) {
        (Some(mid), _) if !mid.is_empty() => mid.clone(),
        (_, Some(at)) => format!("postback/{user}/{at}"),
        _ => String::new(),
    };
    let (Some(text), true) = (text, usable_id(&id)) else {
        host.debug("ignored a postback without a title or an id");
        return None;
    };
    let mut event = InboundMessage::new(id, sender(user), text);
    event.sent_at = at;
    Some(event)
}

/// The inbound message for a reaction: the emoji, answering the message
/// reacted to. Reactions have no id of their own; one is made of the message,
/// the person and the time, which Meta's retries repeat.
pub fn reaction(host: &Host, user: &str, reaction: &Reaction, at: Option<i64>) -> Option<InboundMessage> {
    let emoji = reaction.emoji.as_deref().filter(|e| !e.is_empty());
    let (Some("react"), Some(emoji), Some(mid), Some(at)) = (reaction.action.as_deref(), emoji, &reaction.mid, at)
    else {
        host.debug("ignored a reaction that was taken back or lacks its message");
        return None;
    };
    let id = format!("reaction/{mid}/{user}/{at}");
    if !usable_id(&id) {
        return None;
    }
    let mut event = InboundMessage::new(id, sender(user), emoji);
    event.reply_to = Some(mid.clone()).filter(|m| usable_id(m));
    event.sent_at = Some(at);
    Some(event)
}

/// Attachment metadata; Messenger gives a type, not a MIME type, and only
/// attachments with a URL (media, files) are kept.
fn attachment(attachment: &MessageAttachment) -> Option<Attachment> {
    let url = attachment.url()?;
    let content_type = match attachment.kind.as_str() {
        "image" => "image/*",
        "video" | "reel" | "ig_reel" => "video/*",
        "audio" => "audio/*",
        _ => "application/octet-stream",
    };
    Some(Attachment {
        name: None,
        content_type: content_type.to_owned(),
        size: None,
        url: Some(url.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn host() -> testing::MockHost {
        testing::MockHost::new()
    }

    #[test]
    fn reactions_answer_the_message_reacted_to() {
        let mock = host();
        let reaction: Reaction =
            serde_json::from_value(json!({"mid": "m_OUT", "action": "react", "emoji": "\u{2764}", "reaction": "love"}))
                .unwrap();
        let event = super::reaction(&mock.host(), "42", &reaction, Some(1_700_000_000_000)).unwrap();
        assert_eq!(event.external_id, "reaction/m_OUT/42/1700000000000");
        assert_eq!(event.text, "\u{2764}");
        assert_eq!(event.reply_to.as_deref(), Some("m_OUT"));

        let unreact: Reaction = serde_json::from_value(json!({"mid": "m_OUT", "action": "unreact"})).unwrap();
        assert_eq!(super::reaction(&mock.host(), "42", &unreact, Some(1)), None);
    }

    #[test]
    fn postbacks_without_a_mid_get_a_deterministic_id() {
        let mock = host();
        let postback: Postback = serde_json::from_value(json!({"title": "Start", "payload": "GET_STARTED"})).unwrap();
        let event = super::postback(&mock.host(), "42", &postback, Some(1_458_692_752_478)).unwrap();
        assert_eq!(event.external_id, "postback/42/1458692752478");
        assert_eq!(event.text, "Start");
        assert_eq!(super::postback(&mock.host(), "42", &postback, None), None);
    }

    #[test]
    fn attachments_without_urls_and_empty_messages_are_skipped() {
        let mock = host();
        let message: Message = serde_json::from_value(json!({"mid": "m_1", "attachments": [
            {"type": "fallback", "payload": null},
            {"type": "file", "payload": {"url": "https://cdn.example.com/f.pdf"}}
        ]}))
        .unwrap();
        let event = super::message(&mock.host(), "42", &message, None).unwrap();
        assert_eq!(event.attachments.len(), 1);
        assert_eq!(event.attachments[0].content_type, "application/octet-stream");

        let empty: Message =
            serde_json::from_value(json!({"mid": "m_2", "attachments": [{"type": "fallback"}]})).unwrap();
        assert_eq!(super::message(&mock.host(), "42", &empty, None), None);
        let unsent: Message = serde_json::from_value(json!({"mid": "m_3", "is_deleted": true})).unwrap();
        assert_eq!(super::message(&mock.host(), "42", &unsent, None), None);
    }
}
