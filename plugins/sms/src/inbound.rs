//! Incoming SMS and MMS (`POST /sms`): Twilio's incoming-message webhook.

use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::twilio;

/// Twilio answers an incoming message with TwiML; an empty document sends no auto-reply.
pub const EMPTY_TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#;

/// More media than Twilio ever attaches (10) is a malformed request.
const MAX_MEDIA: usize = 20;

/// Handles `POST /sms`.
pub fn receive(host: &Host, request: &Request) -> Result<WebhookOutcome, PluginError> {
    let form = twilio::verify(host, request)?;
    // `SmsSid` is the deprecated twin of `MessageSid`, kept for old accounts.
    let message_sid = form.sid(&["MessageSid", "SmsSid"])?;
    let from = form.required("From")?;
    let body = form.get("Body").unwrap_or("");

    let mut message = InboundMessage::new(message_sid, sender(from), body);
    message.attachments = media(&form)?;
    // WhatsApp senders routed through the same Messaging webhook carry their profile name.
    if let Some(name) = form.get("ProfileName") {
        message = message.with_display_name(name);
    }
    let reply = Response::content("text/xml", EMPTY_TWIML);
    Ok(WebhookOutcome::new(reply).with_event(message))
}

/// The sender of an incoming message.
///
/// Verified: the request is signed with the account's auth token, so Twilio
/// itself attests that this `From` is the address the carrier delivered the
/// message from (Twilio does not let a sender choose it on inbound traffic).
/// A phone number in E.164 becomes a phone identity; short codes, alphanumeric
/// sender ids and channel addresses (`whatsapp:+1…`) stay channel users, and
/// replies go back to them as given.
pub fn sender(from: &str) -> Identity {
    if is_e164(from) {
        Identity::phone(from).verified()
    } else {
        Identity::channel_user(from).verified()
    }
}

/// `+` followed by 7 to 15 digits.
pub fn is_e164(value: &str) -> bool {
    value
        .strip_prefix('+')
        .is_some_and(|digits| (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// MMS media as attachment metadata: `MediaUrl{N}` and `MediaContentType{N}`
/// for N below `NumMedia`. The content stays at Twilio.
fn media(form: &twilio::SignedForm) -> Result<Vec<Attachment>, PluginError> {
    let count = match form.get("NumMedia") {
        None => 0,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= MAX_MEDIA)
            .ok_or_else(|| PluginError::bad_request(format!("`NumMedia` must be 0 to {MAX_MEDIA}, got {raw:?}")))?,
    };
    (0..count)
        .map(|i| {
            let url = form.get(&format!("MediaUrl{i}")).ok_or_else(|| {
                PluginError::bad_request(format!("`NumMedia` is {count} but `MediaUrl{i}` is missing"))
            })?;
            let content_type = form
                .get(&format!("MediaContentType{i}"))
                .unwrap_or("application/octet-stream");
            Ok(Attachment {
                name: None,
                content_type: content_type.to_owned(),
                size: None,
                url: Some(url.to_owned()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_numbers_are_phones_and_other_senders_channel_users() {
        assert_eq!(sender("+14155550100"), Identity::phone("+14155550100").verified());
        assert_eq!(sender("12345"), Identity::channel_user("12345").verified());
        assert_eq!(sender("ACME"), Identity::channel_user("ACME").verified());
        assert_eq!(
            sender("whatsapp:+14155550100"),
            Identity::channel_user("whatsapp:+14155550100").verified()
        );
        assert!(!is_e164("+1"));
        assert!(!is_e164("+1415555010a"));
        assert!(!is_e164("+1234567890123456"));
    }
}
