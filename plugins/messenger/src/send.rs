//! Replies through the Send API: `POST {api_base}/{api_version}/me/messages`
//! (or `/{page_id}/messages`) with the `page_access_token` secret as bearer
//! token, for Messenger PSIDs and Instagram IGSIDs alike.
//!
//! A reply is text (split at Messenger's 2000-character limit) followed by
//! one message per attachment with a URL. Meta's API takes no idempotency
//! key, so a reply in several parts records the parts already accepted under
//! `outbox/<message id>` and a retry sends only the rest.
//!
//! Replies are `RESPONSE`s. Outside the 24-hour window Meta refuses them
//! (code 10, subcode 2018278); with `human_agent_tag` the part is sent again,
//! once, as a `MESSAGE_TAG` with tag `HUMAN_AGENT`, and up front when the
//! recorded window is known to be closed.
//!
//! The message id the Send API returns is remembered with the send time for
//! read receipts (`sent_log.rs`). The time is the host's clock (WASI
//! wall clock), which can differ from Meta's by the clocks' skew; without a
//! clock it falls back to the person's last message time, which is earlier
//! than the real send time, so a later read receipt still covers the message.

use omni_plugin_sdk::meta::GraphFailure;
use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::{clock, text};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::PAGE_ACCESS_TOKEN;
use crate::config::Settings;
use crate::graph_error;
use crate::{sent_log, window};

/// Messenger's limit for a text message.
const MAX_TEXT_CHARS: usize = 2000;

/// Sends `message` to the page- or Instagram-scoped id `recipient`.
pub fn send(host: &Host, message: OutboundMessage, recipient: Identity) -> Result<SendReceipt, SendError> {
    let user = recipient_id(&recipient)?;
    let settings = Settings::load(host).map_err(|e| SendError::permanent(e.message()))?;
    let token = host
        .secret(PAGE_ACCESS_TOKEN)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            SendError::permanent("the secret `page_access_token` is not configured for this Messenger instance")
        })?;
    let api = Api {
        host: *host,
        url: settings.messages_url(),
        token,
    };
    let parts = parts(host, &message);
    if parts.is_empty() {
        return Err(SendError::permanent(
            "nothing to send: the message has no text and no attachment with a URL",
        ));
    }

    let mut tagged = settings.human_agent_tag && window::known_closed(host, &user);
    let progress_key = format!("outbox/{}", message.id);
    let mut sent: Vec<String> = host.kv_get_json(&progress_key).ok().flatten().unwrap_or_default();
    let resumed = !sent.is_empty();
    for part in parts.iter().skip(sent.len()) {
        let result = match api.post(&user, part, tagged) {
            Err(failure) if graph_error::is_outside_window(&failure) && settings.human_agent_tag && !tagged => {
                host.info("Meta refused a reply outside the 24-hour window; sending it with the HUMAN_AGENT tag");
                tagged = true;
                api.post(&user, part, true)
            }
            other => other,
        };
        match result {
            Ok(mid) => sent.push(mid),
            Err(failure) => {
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
    let Some(mid) = sent.into_iter().next() else {
        return Err(SendError::permanent("the Send API returned no message id"));
    };
    match clock::now_ms().or_else(|| window::last_message_ms(host, &user)) {
        Some(at) => {
            if let Err(e) = sent_log::remember(host, &user, &mid, at) {
                host.warn(&format!("cannot remember a sent message for read receipts: {e}"));
            }
        }
        None => host.debug("no clock and no message time: this message will get no read receipt"),
    }
    Ok(SendReceipt::sent(mid))
}

/// The recipient's page- or Instagram-scoped id.
fn recipient_id(recipient: &Identity) -> Result<String, SendError> {
    if recipient.kind != IdentityKind::ChannelUser {
        return Err(SendError::permanent(format!(
            "Messenger reaches people by their page-scoped id, not by {:?} {:?}",
            recipient.kind, recipient.value
        )));
    }
    let id = recipient.value.trim();
    if id.is_empty() || id.len() > 128 || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(SendError::permanent(format!(
            "{:?} is not a page-scoped id",
            recipient.value
        )));
    }
    Ok(id.to_owned())
}

/// The `message` objects a reply consists of, in order.
fn parts(host: &Host, message: &OutboundMessage) -> Vec<Value> {
    let mut parts: Vec<Value> = text::split(message.text.trim(), MAX_TEXT_CHARS)
        .into_iter()
        .map(|chunk| json!({ "text": chunk }))
        .collect();
    for attachment in &message.attachments {
        let Some(url) = attachment.url.as_deref().filter(|u| !u.is_empty()) else {
            host.debug("skipped an attachment without a URL: the Send API sends media by URL");
            continue;
        };
        parts.push(json!({
            "attachment": {
                "type": attachment_type(&attachment.content_type),
                "payload": { "url": url, "is_reusable": false }
            }
        }));
    }
    parts
}

/// The Send API attachment type for a MIME type.
fn attachment_type(content_type: &str) -> &'static str {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence.starts_with("image/") {
        "image"
    } else if essence.starts_with("video/") {
        "video"
    } else if essence.starts_with("audio/") {
        "audio"
    } else {
        "file"
    }
}

/// The Send API's answer.
#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    message_id: String,
}

struct Api<'a> {
    host: Host<'a>,
    url: String,
    token: String,
}

impl Api<'_> {
    /// Posts one message to `user` and returns its id.
    fn post(&self, user: &str, message: &Value, tagged: bool) -> Result<String, GraphFailure> {
        let mut body = json!({
            "recipient": { "id": user },
            "messaging_type": "RESPONSE",
            "message": message,
        });
        if tagged {
            body["messaging_type"] = json!("MESSAGE_TAG");
            body["tag"] = json!("HUMAN_AGENT");
        }
        let request = OutgoingRequest::post(&self.url).bearer(&self.token).json(&body);
        let response = self.host.http(&request)?;
        if !response.is_success() {
            return Err(graph_error::failure(&response));
        }
        // Accepted but unreadable: retrying could send the message twice.
        let unreadable = |why: String| GraphFailure {
            code: None,
            subcode: None,
            error: SendError::permanent(format!(
                "the Send API answered {} but {why}; not retrying, to avoid sending twice",
                response.status
            )),
        };
        let answer: Answer = response
            .json_body()
            .map_err(|e| unreadable(format!("its body is not the expected JSON ({e})")))?;
        if answer.message_id.is_empty() {
            return Err(unreadable("it gave no message_id".to_owned()));
        }
        Ok(answer.message_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_types_follow_the_mime_type() {
        assert_eq!(attachment_type("image/jpeg"), "image");
        assert_eq!(attachment_type("video/mp4"), "video");
        assert_eq!(attachment_type("audio/mpeg"), "audio");
        assert_eq!(attachment_type("application/pdf"), "file");
    }

    #[test]
    fn recipients_must_be_scoped_ids() {
        assert_eq!(
            recipient_id(&Identity::channel_user("1254477777772919")).unwrap(),
            "1254477777772919"
        );
        assert!(recipient_id(&Identity::phone("+16505551234")).is_err());
        assert!(recipient_id(&Identity::channel_user("a b")).is_err());
        assert!(recipient_id(&Identity::channel_user("")).is_err());
    }
}
