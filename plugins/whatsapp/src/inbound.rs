//! Messages people send to the business number, as inbound messages.

use omni_plugin_sdk::prelude::*;

use crate::payload::{Contact, Location, Media, Message, SharedContact};

/// Longest external id the host accepts.
const MAX_ID_LEN: usize = 512;

/// The inbound message for `message`, or `None` (logged) for types Omni does not carry.
pub fn message(host: &Host, contacts: &[Contact], message: &Message) -> Option<InboundMessage> {
    if message.id.is_empty() || message.id.len() > MAX_ID_LEN {
        host.warn("ignored a WhatsApp message without a usable id");
        return None;
    }
    let Some(from) = message.from.as_deref().filter(|f| !f.is_empty()) else {
        host.debug(&format!("ignored WhatsApp message {} without a sender", message.id));
        return None;
    };
    let Some(content) = content(message) else {
        host.debug(&format!(
            "ignored WhatsApp message {} of type {:?} (not carried by Omni)",
            message.id, message.kind
        ));
        return None;
    };

    let mut event = InboundMessage::new(&message.id, sender(from), content.text);
    event.attachments = content.attachments;
    event.reply_to = content
        .reply_to
        .or_else(|| message.context.as_ref().and_then(|c| c.id.clone()))
        .filter(|id| !id.is_empty() && id.len() <= MAX_ID_LEN);
    if let Some(name) = display_name(contacts, from) {
        event = event.with_display_name(name);
    }
    if let Some(seconds) = message.timestamp {
        event = event.with_sent_at(seconds.saturating_mul(1000));
    }
    Some(event)
}

/// The WhatsApp id (digits) of a message's sender, when it is a phone number.
pub fn sender_number(message: &Message) -> Option<&str> {
    message.from.as_deref().filter(|from| is_wa_id(from))
}

/// The sender's identity. The webhook is signed by Meta with the app secret,
/// and WhatsApp registers every account by proving control of its number
/// (an SMS or voice code), so the number Meta reports is verified.
fn sender(from: &str) -> Identity {
    if is_wa_id(from) {
        Identity::phone(format!("+{from}")).verified()
    } else {
        // Not a number (a future username-only account): still an id Meta attests.
        Identity::channel_user(from).verified()
    }
}

fn is_wa_id(value: &str) -> bool {
    (1..=15).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit())
}

fn display_name(contacts: &[Contact], from: &str) -> Option<String> {
    let contact = contacts
        .iter()
        .find(|c| c.wa_id.as_deref() == Some(from))
        .or(if contacts.len() == 1 { contacts.first() } else { None })?;
    let name = contact.profile.as_ref()?.name.as_deref()?.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// What Omni keeps of a message's content.
struct Content {
    text: String,
    attachments: Vec<Attachment>,
    reply_to: Option<String>,
}

impl Content {
    fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            attachments: Vec::new(),
            reply_to: None,
        }
    }
}

fn content(message: &Message) -> Option<Content> {
    match message.kind.as_str() {
        "text" => message.text.as_ref().map(|t| Content::text(&t.body)),
        "image" | "video" | "audio" | "document" | "sticker" => message.media().map(media),
        "location" => message.location.as_ref().map(location).map(Content::text),
        "contacts" => message.contacts.as_deref().map(shared_contacts).map(Content::text),
        "interactive" => {
            let interactive = message.interactive.as_ref()?;
            let reply = match interactive.kind.as_str() {
                "button_reply" => interactive.button_reply.as_ref(),
                "list_reply" => interactive.list_reply.as_ref(),
                // Without a type, whichever reply is present.
                "" => interactive.button_reply.as_ref().or(interactive.list_reply.as_ref()),
                _ => None,
            }?;
            Some(Content::text(&reply.title))
        }
        "button" => {
            let button = message.button.as_ref()?;
            button.text.as_deref().or(button.payload.as_deref()).map(Content::text)
        }
        "reaction" => {
            let reaction = message.reaction.as_ref()?;
            // An empty emoji means the reaction was taken back: nothing to show.
            let emoji = reaction.emoji.as_deref().filter(|e| !e.is_empty())?;
            Some(Content {
                reply_to: reaction.message_id.clone(),
                ..Content::text(emoji)
            })
        }
        _ => None,
    }
}

/// Media is described, never fetched: the content needs the access token and
/// a Graph API call, so the attachment points at the media id with a
/// `whatsapp-media:<id>` reference.
fn media(media: &Media) -> Content {
    let attachment = Attachment {
        name: media.filename.clone().filter(|n| !n.is_empty()),
        content_type: media
            .mime_type
            .clone()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "application/octet-stream".to_owned()),
        size: None,
        url: media
            .id
            .as_deref()
            .filter(|id| !id.is_empty())
            .map(|id| format!("whatsapp-media:{id}")),
    };
    Content {
        attachments: vec![attachment],
        ..Content::text(media.caption.clone().unwrap_or_default())
    }
}

fn location(location: &Location) -> String {
    let place: Vec<&str> = [location.name.as_deref(), location.address.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect();
    let mut text = match (location.latitude, location.longitude) {
        (Some(lat), Some(lon)) => format!("Location: {lat}, {lon}"),
        _ => "Location".to_owned(),
    };
    if !place.is_empty() {
        text.push_str(&format!(" ({})", place.join(", ")));
    }
    text
}

fn shared_contacts(contacts: &[SharedContact]) -> String {
    contacts
        .iter()
        .map(|contact| {
            let name = contact
                .name
                .as_ref()
                .and_then(|n| n.formatted_name.as_deref())
                .unwrap_or("(no name)");
            let phones: Vec<&str> = contact.phones.iter().filter_map(|p| p.phone.as_deref()).collect();
            if phones.is_empty() {
                format!("Contact: {name}")
            } else {
                format!("Contact: {name}, {}", phones.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> Message {
        serde_json::from_value(value).unwrap()
    }

    fn inbound(value: serde_json::Value) -> Option<InboundMessage> {
        let mock = testing::MockHost::new();
        message(&mock.host(), &[], &parse(value))
    }

    #[test]
    fn locations_and_contact_cards_become_text() {
        let m = inbound(json!({"id": "wamid.L", "from": "16505551234", "type": "location",
            "location": {"latitude": 37.483307, "longitude": -122.148981, "name": "Philz Coffee",
                         "address": "101 Forest Ave, Palo Alto, CA 94301"}}))
        .unwrap();
        assert_eq!(
            m.text,
            "Location: 37.483307, -122.148981 (Philz Coffee, 101 Forest Ave, Palo Alto, CA 94301)"
        );
        let m = inbound(json!({"id": "wamid.C", "from": "16505551234", "type": "contacts",
            "contacts": [{"name": {"formatted_name": "Barbara J. Johnson"},
                          "phones": [{"phone": "+1 (940) 555-1234", "type": "HOME"}]}]}))
        .unwrap();
        assert_eq!(m.text, "Contact: Barbara J. Johnson, +1 (940) 555-1234");
    }

    #[test]
    fn reactions_answer_the_message_reacted_to() {
        let m = inbound(json!({"id": "wamid.R", "from": "16505551234", "type": "reaction",
            "reaction": {"message_id": "wamid.OUT", "emoji": "\u{1F44D}"}}))
        .unwrap();
        assert_eq!(m.text, "\u{1F44D}");
        assert_eq!(m.reply_to.as_deref(), Some("wamid.OUT"));
        // A removed reaction carries no content.
        let removed = inbound(json!({"id": "wamid.R2", "from": "16505551234", "type": "reaction",
            "reaction": {"message_id": "wamid.OUT", "emoji": ""}}));
        assert_eq!(removed, None);
    }

    #[test]
    fn documents_keep_their_file_name() {
        let m = inbound(json!({"id": "wamid.D", "from": "16505551234", "type": "document",
            "document": {"id": "987", "filename": "invoice.pdf", "mime_type": "application/pdf"}}))
        .unwrap();
        assert_eq!(
            m.attachments,
            vec![Attachment {
                name: Some("invoice.pdf".into()),
                content_type: "application/pdf".into(),
                size: None,
                url: Some("whatsapp-media:987".into()),
            }]
        );
        assert_eq!(m.text, "");
    }

    #[test]
    fn unsupported_types_and_senders_are_skipped() {
        assert_eq!(
            inbound(json!({"id": "wamid.S", "from": "1650", "type": "system"})),
            None
        );
        assert_eq!(
            inbound(json!({"id": "wamid.I", "from": "1650", "type": "interactive",
                "interactive": {"type": "nfm_reply", "nfm_reply": {"body": "Sent"}}})),
            None
        );
        assert_eq!(
            inbound(json!({"id": "wamid.T", "type": "text", "text": {"body": "x"}})),
            None
        );
        assert_eq!(
            inbound(json!({"id": "", "from": "1650", "type": "text", "text": {"body": "x"}})),
            None
        );
    }

    #[test]
    fn a_sender_without_a_number_is_a_channel_user() {
        let m = inbound(
            json!({"id": "wamid.U", "from": "US.13491208655302741918", "type": "text",
            "text": {"body": "hi"}}),
        )
        .unwrap();
        assert_eq!(m.sender, Identity::channel_user("US.13491208655302741918").verified());
    }
}
