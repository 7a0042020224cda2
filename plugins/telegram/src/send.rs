//! Outbound messages: `sendMessage` for the text, `sendPhoto` or
//! `sendDocument` for each attachment, all to the person's chat.
//!
//! A message becomes one or more Bot API calls ("steps"): the text cut into
//! pieces of at most 4096 characters, then one call per attachment. The
//! receipt carries the first step's `<chat.id>:<message_id>`. Telegram has no
//! idempotency key, so when a later step fails the ids of the finished ones
//! are kept in the key-value store under `send/<message.id>` (the host commits
//! them with the failed attempt) and the host's retry continues where the
//! last attempt stopped instead of sending the first pieces twice.
//!
//! The request URL contains the bot token: it is never logged or put in an
//! error message, and the token is masked in any text that could carry it.

use omni_plugin_sdk::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::media::FILE_SCHEME;
use crate::split::{MAX_TEXT_UNITS, pieces};
use crate::{BOT_TOKEN, DEFAULT_API_BASE, response};

/// Ids of the steps of one message that Telegram already accepted.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Progress {
    sent: Vec<String>,
}

/// One Bot API call.
#[derive(Debug, PartialEq)]
struct Step {
    method: &'static str,
    body: Value,
}

/// The instance config that shapes outbound calls.
struct Settings {
    api_base: String,
    parse_mode: Option<String>,
    accept_groups: bool,
}

impl Settings {
    fn read(host: &Host) -> Result<Self, SendError> {
        let config = |e: PluginError| SendError::permanent(e.message().to_owned());
        let api_base: String = host
            .config_or("api_base", DEFAULT_API_BASE.to_owned())
            .map_err(config)?;
        Ok(Self {
            api_base: api_base.trim_end_matches('/').to_owned(),
            parse_mode: host.config("parse_mode").map_err(config)?,
            accept_groups: host.config_or("accept_groups", false).map_err(config)?,
        })
    }
}

/// Sends `message` to the Telegram user `recipient`.
pub fn deliver(host: &Host, message: OutboundMessage, recipient: Identity) -> Result<SendReceipt, SendError> {
    let token = bot_token(host)?;
    let settings = Settings::read(host)?;
    let steps = plan(&message, &recipient, &settings)?;

    let key = format!("send/{}", message.id);
    let stored: Option<Progress> = host
        .kv_get_json(&key)
        .map_err(|e| SendError::retryable(e.message().to_owned()))?;
    let resumed = stored.is_some();
    let mut progress = stored.unwrap_or_default();
    let already = progress.sent.len();
    if resumed {
        host.debug(&format!(
            "message {} resumes after {already} of {} Telegram calls",
            message.id,
            steps.len()
        ));
    }

    for (index, step) in steps.iter().enumerate().skip(already) {
        match call(host, &token, &settings.api_base, step) {
            Ok(id) => progress.sent.push(id),
            Err(error) => {
                if progress.sent.len() > already
                    && let Err(e) = host.kv_set_json(&key, &progress)
                {
                    host.warn(&format!(
                        "could not record which parts of message {} Telegram accepted ({e}); a retry may repeat them",
                        message.id
                    ));
                }
                let error = if steps.len() > 1 {
                    prefix(error, &format!("part {} of {}: ", index + 1, steps.len()))
                } else {
                    error
                };
                return Err(error);
            }
        }
    }
    if resumed && let Err(e) = host.kv_delete(&key) {
        host.warn(&format!("could not forget the progress of message {}: {e}", message.id));
    }
    let first = progress
        .sent
        .into_iter()
        .next()
        .ok_or_else(|| SendError::permanent("nothing was sent"))?;
    Ok(SendReceipt::sent(first))
}

fn bot_token(host: &Host) -> Result<String, SendError> {
    let token = host.secret(BOT_TOKEN).filter(|t| !t.is_empty()).ok_or_else(|| {
        SendError::permanent(format!(
            "the `{BOT_TOKEN}` secret is not configured for this Telegram connector"
        ))
    })?;
    // A token is `<bot id>:<secret>`; anything else would change the URL's path.
    if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'_' || b == b'-')
    {
        return Err(SendError::permanent(format!(
            "the `{BOT_TOKEN}` secret has characters a Telegram bot token never has"
        )));
    }
    Ok(token)
}

/// The Bot API calls that send `message`, in order.
fn plan(message: &OutboundMessage, recipient: &Identity, settings: &Settings) -> Result<Vec<Step>, SendError> {
    if recipient.kind != IdentityKind::ChannelUser {
        return Err(SendError::permanent(format!(
            "Telegram reaches people by their Telegram user id, not by {:?}",
            recipient.kind
        )));
    }
    let user_chat: i64 = recipient
        .value
        .trim()
        .parse()
        .map_err(|_| SendError::permanent(format!("{:?} is not a Telegram user id", recipient.value)))?;

    let replied = message.reply_to.as_deref().and_then(parse_message_ref);
    // A person who wrote in a group (with accept_groups) is answered there:
    // a bot may not open a private chat with someone who never started it.
    let chat = match replied {
        Some((chat, _)) if chat != user_chat && chat < 0 && settings.accept_groups => chat,
        _ => user_chat,
    };
    let reply_to = replied.filter(|(c, _)| *c == chat).map(|(_, id)| id);
    let topic = message
        .thread_id
        .as_deref()
        .and_then(parse_message_ref)
        .filter(|(c, _)| *c == chat)
        .map(|(_, thread)| thread);

    let mut steps = Vec::new();
    for piece in pieces(&message.text, MAX_TEXT_UNITS) {
        let mut body = json!({ "chat_id": chat, "text": piece });
        if let Some(mode) = &settings.parse_mode {
            body["parse_mode"] = json!(mode);
        }
        steps.push(Step {
            method: "sendMessage",
            body,
        });
    }
    for attachment in &message.attachments {
        steps.push(attachment_step(attachment, chat)?);
    }
    for step in &mut steps {
        if let Some(thread) = topic {
            step.body["message_thread_id"] = json!(thread);
        }
    }
    if let (Some(first), Some(id)) = (steps.first_mut(), reply_to) {
        // If the person deleted their message, send anyway rather than fail.
        first.body["reply_parameters"] = json!({ "message_id": id, "allow_sending_without_reply": true });
    }
    if steps.is_empty() {
        return Err(SendError::permanent("the message has no text and no attachments"));
    }
    Ok(steps)
}

/// `<chat>:<id>`, the form of inbound external ids and thread ids (an edit's
/// `<chat>:<id>:edit:<date>` names the edited message).
fn parse_message_ref(value: &str) -> Option<(i64, i64)> {
    let mut parts = value.split(':');
    let chat = parts.next()?.parse().ok()?;
    let id = parts.next()?.parse().ok()?;
    match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) | (Some("edit"), Some(_), None) => Some((chat, id)),
        _ => None,
    }
}

/// `sendPhoto` for pictures Telegram shows inline, `sendDocument` for the rest.
fn attachment_step(attachment: &Attachment, chat: i64) -> Result<Step, SendError> {
    let url = attachment.url.as_deref().unwrap_or("").trim();
    let file = if let Some(file_id) = url.strip_prefix(FILE_SCHEME) {
        file_id
    } else if url.starts_with("https://") || url.starts_with("http://") {
        url
    } else {
        return Err(SendError::permanent(format!(
            "attachment {} has no URL Telegram can fetch (https:// or telegram-file:)",
            attachment.name.as_deref().unwrap_or("without a name")
        )));
    };
    let content_type = attachment.content_type.to_ascii_lowercase();
    let (method, field) = match content_type.split(';').next().unwrap_or("").trim() {
        "image/jpeg" | "image/jpg" | "image/png" | "image/webp" => ("sendPhoto", "photo"),
        _ => ("sendDocument", "document"),
    };
    let mut body = json!({ "chat_id": chat });
    body[field] = json!(file);
    Ok(Step { method, body })
}

fn call(host: &Host, token: &str, api_base: &str, step: &Step) -> Result<String, SendError> {
    let request = OutgoingRequest::post(format!("{api_base}/bot{token}/{}", step.method)).json(&step.body);
    let answer = host.http(&request).map_err(|e| mask(SendError::from(e), token))?;
    response::sent_message_id(&answer).map_err(|e| mask(e, token))
}

/// Replaces the bot token in an error's text, e.g. a host error quoting the URL.
fn mask(error: SendError, token: &str) -> SendError {
    let clean = |text: String| text.replace(token, "<bot_token>");
    match error {
        SendError::Retryable { message, after_ms } => SendError::Retryable {
            message: clean(message),
            after_ms,
        },
        SendError::Permanent { message } => SendError::Permanent {
            message: clean(message),
        },
    }
}

fn prefix(error: SendError, prefix: &str) -> SendError {
    match error {
        SendError::Retryable { message, after_ms } => SendError::Retryable {
            message: format!("{prefix}{message}"),
            after_ms,
        },
        SendError::Permanent { message } => SendError::Permanent {
            message: format!("{prefix}{message}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(accept_groups: bool) -> Settings {
        Settings {
            api_base: DEFAULT_API_BASE.to_owned(),
            parse_mode: None,
            accept_groups,
        }
    }

    #[test]
    fn message_refs_parse_plain_and_edit_ids_only() {
        assert_eq!(parse_message_ref("1111111:1365"), Some((1111111, 1365)));
        assert_eq!(parse_message_ref("-100123:7"), Some((-100123, 7)));
        assert_eq!(parse_message_ref("1111111:1365:edit:1441646600"), Some((1111111, 1365)));
        assert_eq!(parse_message_ref("cb:4382bfdwdsb323b2d9"), None);
        assert_eq!(parse_message_ref("1:2:3"), None);
        assert_eq!(parse_message_ref("12"), None);
    }

    #[test]
    fn replies_to_another_chat_are_not_quoted() {
        let mut message = OutboundMessage::text("m-1", "c-1", "hi");
        message.reply_to = Some("2222:5".to_owned());
        let steps = plan(&message, &Identity::channel_user("1111"), &settings(false)).unwrap();
        assert_eq!(steps[0].body, json!({"chat_id": 1111, "text": "hi"}));
    }

    #[test]
    fn group_replies_go_to_the_group_only_with_accept_groups() {
        let mut message = OutboundMessage::text("m-1", "c-1", "hi");
        message.reply_to = Some("-100987:44".to_owned());
        message.thread_id = Some("-100987:3".to_owned());
        let user = Identity::channel_user("1111");
        let steps = plan(&message, &user, &settings(true)).unwrap();
        assert_eq!(
            steps[0].body,
            json!({"chat_id": -100987, "text": "hi", "message_thread_id": 3,
                   "reply_parameters": {"message_id": 44, "allow_sending_without_reply": true}})
        );
        let steps = plan(&message, &user, &settings(false)).unwrap();
        assert_eq!(steps[0].body, json!({"chat_id": 1111, "text": "hi"}));
    }

    #[test]
    fn attachments_without_a_usable_url_are_refused_before_anything_is_sent() {
        let mut message = OutboundMessage::text("m-1", "c-1", "see file");
        message.attachments.push(Attachment {
            name: Some("a.pdf".to_owned()),
            content_type: "application/pdf".to_owned(),
            size: None,
            url: Some("ftp://files.example/a.pdf".to_owned()),
        });
        let error = plan(&message, &Identity::channel_user("1111"), &settings(false)).unwrap_err();
        assert!(
            matches!(&error, SendError::Permanent { message } if message.contains("a.pdf")),
            "{error}"
        );
    }

    #[test]
    fn recipients_must_be_telegram_user_ids() {
        let message = OutboundMessage::text("m-1", "c-1", "hi");
        for recipient in [Identity::phone("+14155550100"), Identity::channel_user("ann")] {
            assert!(matches!(
                plan(&message, &recipient, &settings(false)),
                Err(SendError::Permanent { .. })
            ));
        }
        let blank = OutboundMessage::text("m-1", "c-1", "  ");
        assert!(matches!(
            plan(&blank, &Identity::channel_user("1111"), &settings(false)),
            Err(SendError::Permanent { .. })
        ));
    }
}
