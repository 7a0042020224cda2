//! Twilio SendGrid's wire formats: Inbound Parse (multipart form fields
//! `headers`, `from`, `subject`, `text`, `html`, `attachment-info`,
//! `attachmentN` files, or the whole message in `email` with "send raw"),
//! the v3 Mail Send API (`POST /v3/mail/send`, answered `202` with
//! `X-Message-Id`) and the Event Webhook (a JSON array of events).

use std::collections::BTreeMap;

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::Provider;
use crate::form::FormData;
use crate::mime::{self, ParsedEmail};
use crate::send::OutgoingEmail;
use crate::status::ProviderStatus;

#[derive(Debug, Deserialize)]
struct AttachmentInfo {
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "type")]
    content_type: Option<String>,
}

/// Reads an Inbound Parse form.
pub fn inbound_email(form: &FormData) -> Result<ParsedEmail, PluginError> {
    if let Some(raw) = form.bytes("email").filter(|raw| !raw.is_empty()) {
        // "Send raw": the full MIME message, attachments included.
        return mime::parse_raw(raw);
    }
    if !form.has("headers") && !form.has("from") {
        return Err(PluginError::bad_request(
            "not an inbound-parse form: it has no `headers`, `from` or `email` field",
        ));
    }
    let headers = form.text("headers").unwrap_or_default();
    let mut email = mime::parse_header_block(&headers);
    if email.from_address.is_none()
        && let Some((address, name)) = form.text("from").as_deref().and_then(mime::parse_mailbox)
    {
        email.from_address = Some(address);
        email.from_name = name;
    }
    // The field is decoded with SendGrid's charsets; the header may be encoded-words.
    if let Some(subject) = form.text("subject") {
        email.subject = Some(subject.trim().to_owned());
    }
    email.text = form.non_empty("text");
    email.html = form.non_empty("html");
    email.attachments = attachments(form)?;
    email.fingerprint = mime::fingerprint(&[
        headers.as_bytes(),
        form.bytes("from").unwrap_or_default(),
        form.bytes("subject").unwrap_or_default(),
        form.bytes("text").unwrap_or_default(),
        form.bytes("html").unwrap_or_default(),
    ]);
    Ok(email)
}

/// The uploaded files, described by `attachment-info` where it names them;
/// entries of `attachment-info` without a file (a url-encoded post) count too.
fn attachments(form: &FormData) -> Result<Vec<Attachment>, PluginError> {
    let info: BTreeMap<String, AttachmentInfo> = match form.text("attachment-info") {
        Some(json) if !json.trim().is_empty() => serde_json::from_str(&json)
            .map_err(|e| PluginError::bad_request(format!("invalid attachment-info JSON: {e}")))?,
        _ => BTreeMap::new(),
    };
    let mut list = Vec::new();
    for file in form.files() {
        let described = info.get(&file.field);
        list.push(Attachment {
            name: described
                .and_then(|i| i.filename.clone().or_else(|| i.name.clone()))
                .or_else(|| file.filename.clone())
                .filter(|n| !n.is_empty()),
            content_type: described
                .and_then(|i| i.content_type.clone())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| file.content_type.clone())
                .to_ascii_lowercase(),
            size: Some(file.size),
            url: None,
        });
    }
    for (field, described) in &info {
        if form.files().iter().any(|f| &f.field == field) {
            continue;
        }
        list.push(Attachment {
            name: described.filename.clone().or_else(|| described.name.clone()),
            content_type: described
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".to_owned())
                .to_ascii_lowercase(),
            size: None,
            url: None,
        });
    }
    Ok(list)
}

/// The body of `POST /v3/mail/send`.
pub fn request_body(email: &OutgoingEmail) -> Value {
    let mut from = json!({ "email": email.from });
    if let Some(name) = &email.from_name {
        from["name"] = json!(name);
    }
    let mut content = vec![json!({ "type": "text/plain", "value": email.text })];
    if let Some(html) = &email.html {
        content.push(json!({ "type": "text/html", "value": html }));
    }
    let headers: serde_json::Map<String, Value> = email
        .threading_headers()
        .into_iter()
        .map(|(name, value)| (name.to_owned(), json!(value)))
        .collect();
    let mut body = json!({
        "personalizations": [{ "to": [{ "email": email.to }] }],
        "from": from,
        "subject": email.subject,
        "content": content,
        "headers": headers,
        // Echoed in every Event Webhook event, so statuses map back without kv.
        "custom_args": { "omni_message_id": email.message_id },
    });
    if let Some(reply_to) = &email.reply_to {
        body["reply_to"] = json!({ "email": reply_to });
    }
    if email.track_opens {
        body["tracking_settings"] = json!({ "open_tracking": { "enable": true } });
    }
    body
}

/// Sends through `POST {api_base}/v3/mail/send`; SendGrid's message id on success.
pub fn send(host: &Host, api_base: &str, api_key: &str, email: &OutgoingEmail) -> Result<Option<String>, SendError> {
    let request = OutgoingRequest::post(format!("{api_base}/v3/mail/send"))
        .bearer(api_key)
        .json(&request_body(email));
    let response = host.http(&request)?;
    read_response(&response, crate::now_ms() / 1000)
}

/// Reads SendGrid's answer: `X-Message-Id` on success; 429 and 5xx are
/// retryable (after `Retry-After` or `X-RateLimit-Reset`), other errors
/// (400 bad request, 401/403 key, 413 too large) are permanent.
pub fn read_response(response: &IncomingResponse, now_secs: i64) -> Result<Option<String>, SendError> {
    if response.is_success() {
        return Ok(response
            .header("x-message-id")
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned));
    }
    let messages: Vec<String> = response
        .json_body::<Value>()
        .ok()
        .and_then(|v| v.get("errors").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.get("message").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let detail = if messages.is_empty() {
        response.text().chars().take(500).collect()
    } else {
        messages.join("; ")
    };
    let message = format!("SendGrid answered {}: {detail}", response.status);
    match response.status {
        429 | 500..=599 => {
            let reset = response
                .header("x-ratelimit-reset")
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|reset| *reset > now_secs)
                .map(|reset| (reset - now_secs) as u64 * 1000);
            Err(SendError::Retryable {
                message,
                after_ms: response.retry_after_ms().or(reset),
            })
        }
        _ => Err(SendError::permanent(message)),
    }
}

/// The statuses in an Event Webhook batch. Items that are not objects make
/// the batch malformed; mapped events without `sg_message_id` are skipped
/// with a warning rather than failing the whole batch.
pub fn statuses(host: &Host, items: &[Value]) -> Result<Vec<ProviderStatus>, PluginError> {
    let mut list = Vec::new();
    for item in items {
        let Some(event) = item.as_object() else {
            return Err(PluginError::bad_request("a SendGrid event is not a JSON object"));
        };
        let kind = event.get("event").and_then(Value::as_str).unwrap_or("");
        let text = |name: &str| event.get(name).and_then(Value::as_str).unwrap_or("").to_owned();
        let (state, error) = match kind {
            "delivered" => (DeliveryState::Delivered, None),
            "open" | "click" => (DeliveryState::Read, None),
            "bounce" => {
                let kind = event.get("type").and_then(Value::as_str).unwrap_or("bounce");
                let reason = [text("status"), text("reason")]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                (
                    DeliveryState::Failed,
                    Some(format!("{kind}: {reason}").trim_end_matches(": ").to_owned()),
                )
            }
            "dropped" => (DeliveryState::Failed, Some(format!("dropped: {}", text("reason")))),
            "spamreport" => (
                DeliveryState::Failed,
                Some("spamreport: the recipient marked the message as spam".to_owned()),
            ),
            other => {
                host.debug(&format!("ignored SendGrid event {other:?}"));
                continue;
            }
        };
        let provider_id = event
            .get("sg_message_id")
            .and_then(Value::as_str)
            .and_then(|id| id.split('.').next())
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        let our_id = event.get("omni_message_id").and_then(Value::as_str).map(str::to_owned);
        if provider_id.is_none() && our_id.is_none() {
            host.warn(&format!("skipped a SendGrid {kind} event without sg_message_id"));
            continue;
        }
        list.push(ProviderStatus {
            provider: Provider::Sendgrid,
            our_id,
            provider_id,
            state,
            error,
            at: event
                .get("timestamp")
                .and_then(Value::as_i64)
                .map(|s| s.saturating_mul(1000)),
        });
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_classification() {
        let bad = IncomingResponse::json(
            400,
            &json!({"errors": [{"message": "Does not contain a valid address.", "field": "personalizations.0.to.0.email", "help": null}]}),
        );
        assert_eq!(
            read_response(&bad, 0).unwrap_err(),
            SendError::permanent("SendGrid answered 400: Does not contain a valid address.")
        );
        let limited = IncomingResponse::new(429, "").with_header("X-RateLimit-Reset", "1700000060");
        assert_eq!(
            read_response(&limited, 1_700_000_000).unwrap_err(),
            SendError::Retryable {
                message: "SendGrid answered 429: ".into(),
                after_ms: Some(60_000)
            }
        );
        assert!(matches!(
            read_response(&IncomingResponse::new(502, "bad gateway"), 0).unwrap_err(),
            SendError::Retryable { .. }
        ));
        assert!(matches!(
            read_response(&IncomingResponse::new(401, "{}"), 0).unwrap_err(),
            SendError::Permanent { .. }
        ));
        let ok = IncomingResponse::new(202, "").with_header("X-Message-Id", "Y3rcDBQARMGsjq5jlgWhWw");
        assert_eq!(
            read_response(&ok, 0).unwrap().as_deref(),
            Some("Y3rcDBQARMGsjq5jlgWhWw")
        );
    }
}
