//! Mailgun's wire formats: route forwards (form fields `sender`, `from`,
//! `subject`, `body-plain`, `body-html`, `message-headers`, `attachment-N`
//! files, or `body-mime` when forwarding to a URL ending in `mime`), the
//! Messages API (`POST /v3/{domain}/messages`, Basic auth `api:<key>`) and
//! the JSON webhooks (`signature` + `event-data`).

use omni_plugin_sdk::prelude::*;
use serde_json::Value;

use crate::auth::MailgunSignature;
use crate::config::Provider;
use crate::form::FormData;
use crate::mime::{self, ParsedEmail};
use crate::send::OutgoingEmail;
use crate::status::ProviderStatus;

/// Headers Mailgun also posts as fields of their own.
const HEADER_FIELDS: &[&str] = &["Message-Id", "In-Reply-To", "References", "Date", "From", "Subject"];

/// Whether the form is a Mailgun route forward rather than SendGrid's.
pub fn is_inbound_form(form: &FormData) -> bool {
    [
        "body-mime",
        "body-plain",
        "body-html",
        "message-headers",
        "stripped-text",
    ]
    .iter()
    .any(|field| form.has(field))
}

/// Reads a Mailgun route forward.
pub fn inbound_email(form: &FormData) -> Result<ParsedEmail, PluginError> {
    if let Some(raw) = form.bytes("body-mime").filter(|raw| !raw.is_empty()) {
        return mime::parse_raw(raw);
    }
    let listed: Vec<(String, String)> = match form.text("message-headers") {
        Some(json) if !json.trim().is_empty() => serde_json::from_str(&json)
            .map_err(|e| PluginError::bad_request(format!("invalid message-headers JSON: {e}")))?,
        _ => Vec::new(),
    };
    let fields: Vec<(&str, String)> = HEADER_FIELDS
        .iter()
        .filter(|name| !listed.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)))
        .filter_map(|name| form.non_empty(name).map(|value| (*name, value)))
        .collect();
    let block = mime::header_block(
        listed
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .chain(fields.iter().map(|(n, v)| (*n, v.as_str()))),
    );
    let mut email = mime::parse_header_block(&block);
    if email.from_address.is_none()
        && let Some((address, name)) = form.text("sender").as_deref().and_then(mime::parse_mailbox)
    {
        email.from_address = Some(address);
        email.from_name = name;
    }
    email.text = form.non_empty("body-plain");
    email.html = form.non_empty("body-html");
    email.attachments = form
        .files()
        .iter()
        .map(|file| Attachment {
            name: file.filename.clone().filter(|n| !n.is_empty()),
            content_type: file.content_type.clone(),
            size: Some(file.size),
            url: None,
        })
        .collect();
    email.fingerprint = mime::fingerprint(&[
        block.as_bytes(),
        form.bytes("body-plain").unwrap_or_default(),
        form.bytes("body-html").unwrap_or_default(),
    ]);
    Ok(email)
}

/// The form fields of `POST /v3/{domain}/messages`.
pub fn request_fields(email: &OutgoingEmail) -> Vec<(String, String)> {
    let mut fields = vec![
        ("from".to_owned(), email.from_mailbox()),
        ("to".to_owned(), email.to.clone()),
        ("subject".to_owned(), email.subject.clone()),
        ("text".to_owned(), email.text.clone()),
    ];
    if let Some(html) = &email.html {
        fields.push(("html".to_owned(), html.clone()));
    }
    for (name, value) in email.threading_headers() {
        fields.push((format!("h:{name}"), value));
    }
    if let Some(reply_to) = &email.reply_to {
        fields.push(("h:Reply-To".to_owned(), reply_to.clone()));
    }
    // Echoed as `user-variables` in every webhook, so statuses map back without kv.
    fields.push(("v:omni_message_id".to_owned(), email.message_id.clone()));
    if email.track_opens {
        fields.push(("o:tracking-opens".to_owned(), "yes".to_owned()));
    }
    fields
}

/// Sends through `POST {api_base}/v3/{domain}/messages`; Mailgun's message id on success.
pub fn send(
    host: &Host,
    api_base: &str,
    api_key: &str,
    domain: &str,
    email: &OutgoingEmail,
) -> Result<Option<String>, SendError> {
    let fields = request_fields(email);
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let request = OutgoingRequest::post(format!("{api_base}/v3/{domain}/messages"))
        .basic_auth("api", api_key)
        .form(&pairs);
    let response = host.http(&request)?;
    read_response(&response)
}

/// Reads Mailgun's answer: `{"id": "<…>", "message": "Queued. Thank you."}`;
/// 429 and 5xx are retryable, other errors (400 bad parameters, 401/403
/// key, 404 unknown domain) permanent.
pub fn read_response(response: &IncomingResponse) -> Result<Option<String>, SendError> {
    if response.is_success() {
        return Ok(response
            .json_body::<Value>()
            .ok()
            .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
            .map(|id| id.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
            .filter(|id| !id.is_empty()));
    }
    let detail = response
        .json_body::<Value>()
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| response.text().chars().take(500).collect());
    let message = format!("Mailgun answered {}: {detail}", response.status);
    match response.status {
        429 | 500..=599 => Err(SendError::Retryable {
            message,
            after_ms: response.retry_after_ms(),
        }),
        _ => Err(SendError::permanent(message)),
    }
}

/// The `signature` object of a Mailgun JSON webhook.
pub fn signature(body: &Value) -> MailgunSignature<'_> {
    let field = |name: &str| body.get("signature").and_then(|s| s.get(name)).and_then(Value::as_str);
    MailgunSignature {
        timestamp: field("timestamp"),
        token: field("token"),
        signature: field("signature"),
    }
}

/// The status in a Mailgun webhook; `None` for events that are not one
/// (a temporary failure Mailgun retries, unsubscribes, …).
pub fn status(host: &Host, body: &Value) -> Result<Option<ProviderStatus>, PluginError> {
    let data = body
        .get("event-data")
        .and_then(Value::as_object)
        .ok_or_else(|| PluginError::bad_request("the Mailgun webhook has no event-data object"))?;
    let event = data.get("event").and_then(Value::as_str).unwrap_or("");
    let (state, error) = match event {
        "delivered" => (DeliveryState::Delivered, None),
        "opened" | "clicked" => (DeliveryState::Read, None),
        "failed" if data.get("severity").and_then(Value::as_str) == Some("permanent") => {
            let delivery = data.get("delivery-status");
            let detail = delivery
                .and_then(|d| d.get("description").and_then(Value::as_str).filter(|s| !s.is_empty()))
                .or_else(|| delivery.and_then(|d| d.get("message").and_then(Value::as_str)))
                .or_else(|| data.get("reason").and_then(Value::as_str))
                .unwrap_or("permanent failure");
            (DeliveryState::Failed, Some(format!("failed: {detail}")))
        }
        "complained" => (
            DeliveryState::Failed,
            Some("complained: the recipient marked the message as spam".to_owned()),
        ),
        other => {
            host.debug(&format!("ignored Mailgun event {other:?}"));
            return Ok(None);
        }
    };
    let provider_id = data
        .get("message")
        .and_then(|m| m.get("headers"))
        .and_then(|h| h.get("message-id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let our_id = data
        .get("user-variables")
        .and_then(|v| v.get("omni_message_id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if provider_id.is_none() && our_id.is_none() {
        return Err(PluginError::bad_request(
            "the Mailgun event has no message.headers.message-id",
        ));
    }
    Ok(Some(ProviderStatus {
        provider: Provider::Mailgun,
        our_id,
        provider_id,
        state,
        error,
        at: data
            .get("timestamp")
            .and_then(Value::as_f64)
            .map(|secs| (secs * 1000.0) as i64),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_classification() {
        let bad = IncomingResponse::json(
            400,
            &json!({"message": "'to' parameter is not a valid address. please check documentation"}),
        );
        assert_eq!(
            read_response(&bad).unwrap_err(),
            SendError::permanent(
                "Mailgun answered 400: 'to' parameter is not a valid address. please check documentation"
            )
        );
        assert!(matches!(
            read_response(&IncomingResponse::new(401, "Forbidden")).unwrap_err(),
            SendError::Permanent { .. }
        ));
        let limited = IncomingResponse::new(429, "").with_header("retry-after", "5");
        assert_eq!(
            read_response(&limited).unwrap_err(),
            SendError::Retryable {
                message: "Mailgun answered 429: ".into(),
                after_ms: Some(5000)
            }
        );
        let ok = IncomingResponse::json(
            200,
            &json!({"id": "<20240305.1@mg.acme.example>", "message": "Queued. Thank you."}),
        );
        assert_eq!(
            read_response(&ok).unwrap().as_deref(),
            Some("20240305.1@mg.acme.example")
        );
    }

    #[test]
    fn temporary_failures_are_no_status() {
        let mock = testing::MockHost::new();
        let body = json!({"event-data": {"event": "failed", "severity": "temporary", "message": {"headers": {"message-id": "x"}}}});
        assert_eq!(status(&mock.host(), &body).unwrap(), None);
        assert_eq!(
            status(&mock.host(), &json!({"signature": {}})).unwrap_err().status(),
            400
        );
    }
}
