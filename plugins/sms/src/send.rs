//! Outbound messages through Twilio's Messages API, and how its errors are read.

use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::twilio::{self, AUTH_TOKEN};
use serde::Deserialize;

/// Name of the secret holding an API key's secret (with config `api_key_sid`).
pub const API_KEY_SECRET: &str = "api_key_secret";

/// Twilio's default REST base URL.
pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";

/// Twilio refuses longer bodies (error 21617); it splits up to this many
/// characters into concatenated SMS segments itself.
pub const MAX_BODY_CHARS: usize = 1600;

/// Twilio accepts at most this many `MediaUrl`s per message.
const MAX_MEDIA: usize = 10;

/// Twilio error codes that mean "try again later" whatever the HTTP status.
const RETRYABLE_CODES: [u32; 3] = [20429, 20500, 20503];

/// Sends one message with `POST /2010-04-01/Accounts/{sid}/Messages.json`.
pub fn send(host: &Host, message: OutboundMessage, recipient: Identity) -> Result<SendReceipt, SendError> {
    let to = match recipient.kind {
        // Channel users are short codes or channel addresses (`whatsapp:+1…`) Twilio gave us.
        IdentityKind::Phone | IdentityKind::ChannelUser => recipient.value,
        other => {
            return Err(SendError::permanent(format!(
                "SMS cannot reach this recipient (a {other:?} identity); it needs a phone number"
            )));
        }
    };
    let config = SendConfig::read(host).map_err(|e| SendError::permanent(e.message().to_owned()))?;

    let length = message.text.chars().count();
    if length > MAX_BODY_CHARS {
        // Splitting would give several Twilio messages but one receipt id, so later
        // parts could never be tracked; the agent shortens the reply instead.
        return Err(SendError::permanent(format!(
            "the message has {length} characters; Twilio accepts at most {MAX_BODY_CHARS}"
        )));
    }
    let media = media_urls(&message.attachments)?;
    if message.text.trim().is_empty() && media.is_empty() {
        return Err(SendError::permanent("the message has neither text nor media"));
    }

    let mut fields: Vec<(&str, &str)> = vec![("To", &to)];
    if let Some(from) = &config.from {
        fields.push(("From", from));
    }
    if let Some(service) = &config.messaging_service_sid {
        fields.push(("MessagingServiceSid", service));
    }
    if !message.text.is_empty() {
        fields.push(("Body", &message.text));
    }
    fields.extend(media.iter().map(|url| ("MediaUrl", *url)));
    let callback = config.status_callback.as_deref();
    fields.extend(callback.map(|url| ("StatusCallback", url)));

    let url = format!(
        "{}/2010-04-01/Accounts/{}/Messages.json",
        config.api_base, config.account_sid
    );
    // Twilio's Messages API has no idempotency key; a retry after a lost
    // answer may send twice, which the docs call out.
    let request = OutgoingRequest::post(url)
        .basic_auth(&config.user, &config.password)
        .header("accept", "application/json")
        .form(&fields);
    let response = host.http(&request)?;
    if !response.is_success() {
        return Err(classify(&response));
    }
    let created: Created = response.json_body().map_err(|e| {
        SendError::permanent(format!(
            "Twilio accepted the message but its answer is unreadable ({e}); not retrying to avoid a duplicate"
        ))
    })?;
    Ok(SendReceipt::sent(created.sid))
}

/// The parts of config and secrets `send` needs.
struct SendConfig {
    api_base: String,
    account_sid: String,
    from: Option<String>,
    messaging_service_sid: Option<String>,
    status_callback: Option<String>,
    user: String,
    password: String,
}

impl SendConfig {
    fn read(host: &Host) -> Result<Self, PluginError> {
        let account_sid: String = host
            .config("account_sid")?
            .ok_or_else(|| PluginError::internal("config `account_sid` is not set"))?;
        let from: Option<String> = host.config("from")?;
        let messaging_service_sid: Option<String> = host.config("messaging_service_sid")?;
        if from.is_none() && messaging_service_sid.is_none() {
            return Err(PluginError::internal(
                "set config `from` (a Twilio number) or `messaging_service_sid` to send messages",
            ));
        }
        let api_base: String = host.config_or("api_base", DEFAULT_API_BASE.to_owned())?;
        // Without a public URL the message still goes out, only without receipts.
        let status_callback = twilio::public_url(host).ok().map(|url| format!("{url}/status"));
        let api_key_sid: Option<String> = host.config("api_key_sid")?;
        let (user, password) = match api_key_sid {
            Some(key) => {
                let secret = host.secret(API_KEY_SECRET).filter(|s| !s.is_empty()).ok_or_else(|| {
                    PluginError::internal(format!(
                        "config `api_key_sid` is set but the secret `{API_KEY_SECRET}` is not"
                    ))
                })?;
                (key, secret)
            }
            None => {
                let token = host.secret(AUTH_TOKEN).filter(|s| !s.is_empty()).ok_or_else(|| {
                    PluginError::internal(format!("the secret `{AUTH_TOKEN}` (the Twilio auth token) is not set"))
                })?;
                (account_sid.clone(), token)
            }
        };
        Ok(Self {
            api_base: api_base.trim_end_matches('/').to_owned(),
            account_sid,
            from,
            messaging_service_sid,
            status_callback,
            user,
            password,
        })
    }
}

/// Attachment URLs for `MediaUrl`; an attachment without one cannot be sent.
fn media_urls(attachments: &[Attachment]) -> Result<Vec<&str>, SendError> {
    if attachments.len() > MAX_MEDIA {
        return Err(SendError::permanent(format!(
            "{} attachments; Twilio sends at most {MAX_MEDIA} per message",
            attachments.len()
        )));
    }
    attachments
        .iter()
        .map(|a| {
            a.url.as_deref().ok_or_else(|| {
                SendError::permanent(format!(
                    "attachment {} has no URL; Twilio fetches media by URL",
                    a.name.as_deref().unwrap_or(&a.content_type)
                ))
            })
        })
        .collect()
}

/// The part of Twilio's `201 Created` answer the plugin keeps.
#[derive(Deserialize)]
struct Created {
    sid: String,
}

/// Twilio's error body: `{"code": 21211, "message": "...", "more_info": "...", "status": 400}`.
#[derive(Deserialize)]
struct TwilioError {
    code: Option<u32>,
    message: Option<String>,
    more_info: Option<String>,
}

/// Rate limits (HTTP 429, error 20429) and Twilio's own failures (5xx) are
/// retried, honouring `Retry-After`; everything else (invalid or unsubscribed
/// recipient, unpermitted region, incapable sender, bad credentials) is not.
fn classify(response: &IncomingResponse) -> SendError {
    let Ok(error) = response.json_body::<TwilioError>() else {
        return response.send_error("Twilio");
    };
    let code = error.code.unwrap_or(0);
    let mut message = format!(
        "Twilio answered {} with error {code}: {}",
        response.status,
        error.message.as_deref().unwrap_or("no message")
    );
    if let Some(hint) = hint(code) {
        message.push_str(&format!(" ({hint})"));
    }
    if let Some(more) = error.more_info {
        message.push_str(&format!(" — {more}"));
    }
    let retryable = matches!(response.status, 408 | 425 | 429 | 500..=599) || RETRYABLE_CODES.contains(&code);
    if retryable {
        SendError::Retryable {
            message,
            after_ms: response.retry_after_ms(),
        }
    } else {
        SendError::Permanent { message }
    }
}

/// What an operator or agent does about Twilio's usual refusals.
fn hint(code: u32) -> Option<&'static str> {
    Some(match code {
        20003 => "check account_sid and the auth token or API key",
        21211 => "the recipient's number is invalid",
        21408 => "enable SMS geo permissions for the recipient's country in the Twilio console",
        21606 | 21659 => "the `from` number cannot send SMS to this recipient",
        21610 => "the recipient replied STOP; they must text START before they can be messaged again",
        21612 => "Twilio cannot route from the `from` number to this recipient",
        21614 => "the recipient's number is not a mobile number",
        _ => return None,
    })
}
