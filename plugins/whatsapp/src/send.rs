//! Replies through the Cloud API's Messages endpoint:
//! `POST {api_base}/{api_version}/{phone_number_id}/messages` with the
//! `access_token` secret as bearer token.
//!
//! A reply is text (split at WhatsApp's 4096-character limit), and each
//! attachment with a URL is a media message by link; a single attachment
//! carries the text as its caption when it fits. Meta's API takes no
//! idempotency key, so a reply in several parts records the parts already
//! accepted under `outbox/<message id>` and a retry sends only the rest.
//!
//! Outside the 24-hour customer service window WhatsApp refuses free-form
//! messages (131047). With `reengagement_template` configured the connector
//! sends that template instead, once: up front when the recorded window is
//! known to be closed, or after the refusal otherwise.

use omni_plugin_sdk::meta::GraphFailure;
use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::text;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ACCESS_TOKEN;
use crate::config::{Settings, Template};
use crate::graph_error::{self, REENGAGEMENT_REQUIRED};
use crate::window;

/// WhatsApp's limit for a text body.
const MAX_TEXT_CHARS: usize = 4096;
/// WhatsApp's limit for a media caption.
const MAX_CAPTION_CHARS: usize = 1024;

/// Sends `message` to the phone number `recipient`.
pub fn send(host: &Host, message: OutboundMessage, recipient: Identity) -> Result<SendReceipt, SendError> {
    let to = recipient_number(&recipient)?;
    let settings = Settings::load(host).map_err(|e| SendError::permanent(e.message()))?;
    let phone_number_id = settings
        .phone_number_id
        .clone()
        .ok_or_else(|| SendError::permanent("config `phone_number_id` is not set for this WhatsApp instance"))?;
    let token = host.secret(ACCESS_TOKEN).filter(|t| !t.is_empty()).ok_or_else(|| {
        SendError::permanent("the secret `access_token` is not configured for this WhatsApp instance")
    })?;
    let api = Api {
        host: *host,
        url: settings.messages_url(&phone_number_id),
        token,
    };
    let reply_to = message.reply_to.as_deref().filter(|_| settings.quote_replies);
    let parts = parts(host, &to, &message, reply_to);
    if parts.is_empty() {
        return Err(SendError::permanent(
            "nothing to send: the message has no text and no attachment with a URL",
        ));
    }

    let template = settings.reengagement_template.as_ref();
    if let Some(template) = template
        && window::known_closed(host, &to)
    {
        host.info("the 24-hour window is closed; sending the re-engagement template instead of the reply");
        return api
            .post(&template_body(&to, template))
            .map(SendReceipt::sent)
            .map_err(|f| f.error);
    }

    let progress_key = format!("outbox/{}", message.id);
    let mut sent: Vec<String> = host.kv_get_json(&progress_key).ok().flatten().unwrap_or_default();
    let resumed = !sent.is_empty();
    for part in parts.iter().skip(sent.len()) {
        match api.post(part) {
            Ok(id) => sent.push(id),
            Err(failure) => {
                if sent.is_empty()
                    && failure.code == Some(REENGAGEMENT_REQUIRED)
                    && let Some(template) = template
                {
                    host.info(
                        "WhatsApp refused the reply outside the 24-hour window; sending the re-engagement template",
                    );
                    return api
                        .post(&template_body(&to, template))
                        .map(SendReceipt::sent)
                        .map_err(|f| f.error);
                }
                if !sent.is_empty()
                    && let Err(e) = host.kv_set_json(&progress_key, &sent)
                {
                    host.warn(&format!("cannot record which parts of a reply were sent: {e}"));
                }
                return Err(failure.error);
            }
        }
    }
    if resumed && let Err(e) = host.kv_delete(&progress_key) {
        host.warn(&format!("cannot clear the progress of a sent reply: {e}"));
    }
    sent.into_iter()
        .next()
        .map(SendReceipt::sent)
        .ok_or_else(|| SendError::permanent("WhatsApp returned no message id"))
}

/// The recipient's WhatsApp id: their E.164 number without `+`.
fn recipient_number(recipient: &Identity) -> Result<String, SendError> {
    if recipient.kind != IdentityKind::Phone {
        return Err(SendError::permanent(format!(
            "WhatsApp reaches people by phone number, not by {:?} {:?}",
            recipient.kind, recipient.value
        )));
    }
    let digits = recipient.value.trim().trim_start_matches('+');
    if (5..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(digits.to_owned())
    } else {
        Err(SendError::permanent(format!(
            "{:?} is not an E.164 phone number",
            recipient.value
        )))
    }
}

/// The Messages API bodies a reply consists of, in order.
fn parts(host: &Host, to: &str, message: &OutboundMessage, reply_to: Option<&str>) -> Vec<Value> {
    let text = message.text.trim();
    let linked: Vec<(&Attachment, &str)> = message
        .attachments
        .iter()
        .filter_map(|a| a.url.as_deref().filter(|u| !u.is_empty()).map(|u| (a, u)))
        .collect();
    if linked.len() < message.attachments.len() {
        host.debug("skipped attachments without a URL: WhatsApp sends media by link");
    }
    let mut parts = Vec::new();
    match linked.as_slice() {
        [(attachment, url)]
            if !text.is_empty()
                && media_kind(&attachment.content_type) != "audio"
                && text.chars().count() <= MAX_CAPTION_CHARS =>
        {
            parts.push(media_body(to, attachment, url, Some(text)));
        }
        _ => {
            for chunk in text::split(text, MAX_TEXT_CHARS) {
                parts.push(envelope(to, "text", json!({ "preview_url": false, "body": chunk })));
            }
            for (attachment, url) in linked {
                parts.push(media_body(to, attachment, url, None));
            }
        }
    }
    if let (Some(reply_to), Some(first)) = (reply_to, parts.first_mut()) {
        first["context"] = json!({ "message_id": reply_to });
    }
    parts
}

fn envelope(to: &str, kind: &str, content: Value) -> Value {
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": kind,
    });
    body[kind] = content;
    body
}

fn media_body(to: &str, attachment: &Attachment, url: &str, caption: Option<&str>) -> Value {
    let kind = media_kind(&attachment.content_type);
    let mut media = json!({ "link": url });
    if let Some(caption) = caption {
        media["caption"] = json!(caption);
    }
    if kind == "document"
        && let Some(name) = attachment.name.as_deref().filter(|n| !n.is_empty())
    {
        media["filename"] = json!(name);
    }
    envelope(to, kind, media)
}

fn template_body(to: &str, template: &Template) -> Value {
    envelope(
        to,
        "template",
        json!({ "name": template.name, "language": { "code": template.language } }),
    )
}

/// The WhatsApp message type for a MIME type; anything not image, video or audio is a document.
fn media_kind(content_type: &str) -> &'static str {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence.starts_with("image/") {
        "image"
    } else if essence.starts_with("video/") {
        "video"
    } else if essence.starts_with("audio/") {
        "audio"
    } else {
        "document"
    }
}

/// The Messages API's answer.
#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    messages: Vec<AnswerMessage>,
}

#[derive(Deserialize)]
struct AnswerMessage {
    #[serde(default)]
    id: String,
}

struct Api<'a> {
    host: Host<'a>,
    url: String,
    token: String,
}

impl Api<'_> {
    /// Posts one message and returns its id.
    fn post(&self, body: &Value) -> Result<String, GraphFailure> {
        let request = OutgoingRequest::post(&self.url).bearer(&self.token).json(body);
        let response = self.host.http(&request)?;
        if !response.is_success() {
            return Err(graph_error::failure(&response));
        }
        // Accepted but unreadable: retrying could send the message twice.
        let unreadable = |why: String| GraphFailure {
            code: None,
            subcode: None,
            error: SendError::permanent(format!(
                "WhatsApp answered {} but {why}; not retrying, to avoid sending twice",
                response.status
            )),
        };
        let answer: Answer = response
            .json_body()
            .map_err(|e| unreadable(format!("its body is not the expected JSON ({e})")))?;
        answer
            .messages
            .into_iter()
            .map(|m| m.id)
            .find(|id| !id.is_empty())
            .ok_or_else(|| unreadable("it gave no message id".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_kinds_follow_the_mime_type() {
        assert_eq!(media_kind("image/png"), "image");
        assert_eq!(media_kind("Video/MP4"), "video");
        assert_eq!(media_kind("audio/ogg; codecs=opus"), "audio");
        assert_eq!(media_kind("application/pdf"), "document");
    }

    #[test]
    fn recipients_must_be_phone_numbers() {
        assert_eq!(
            recipient_number(&Identity::phone("+16505551234")).unwrap(),
            "16505551234"
        );
        assert!(recipient_number(&Identity::phone("+1 650")).is_err());
        assert!(recipient_number(&Identity::email("a@b.c")).is_err());
    }
}
