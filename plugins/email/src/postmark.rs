//! Postmark's wire formats: the inbound webhook (JSON), the Email API
//! (`POST /email` with `X-Postmark-Server-Token`) and its error codes, and
//! the Delivery, Bounce, SpamComplaint, Open and Click webhooks.

use std::collections::HashMap;

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::Provider;
use crate::mime::{self, ParsedEmail};
use crate::send::OutgoingEmail;
use crate::status::{self, ProviderStatus};

/// Postmark's limit on a metadata value.
const MAX_METADATA_VALUE: usize = 80;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InboundWebhook {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    from_full: Option<FullAddress>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    date: Option<String>,
    #[serde(default, rename = "MessageID")]
    message_id: Option<String>,
    #[serde(default)]
    text_body: Option<String>,
    #[serde(default)]
    html_body: Option<String>,
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(default)]
    attachments: Vec<InboundAttachment>,
    #[serde(default)]
    raw_email: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FullAddress {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NameValue {
    name: String,
    #[serde(default)]
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InboundAttachment {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    content_length: Option<u64>,
    #[serde(default)]
    content: Option<String>,
}

/// Reads Postmark's inbound webhook JSON (the raw message when `RawEmail` is included).
pub fn inbound_email(request: &Request) -> Result<ParsedEmail, PluginError> {
    let webhook: InboundWebhook = request.json()?;
    if let Some(raw) = webhook.raw_email.as_deref().filter(|r| !r.trim().is_empty()) {
        return mime::parse_raw(raw.as_bytes());
    }
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if let Some(subject) = webhook.subject.as_deref() {
        pairs.push(("Subject", subject));
    }
    if let Some(date) = webhook.date.as_deref() {
        pairs.push(("Date", date));
    }
    for header in &webhook.headers {
        pairs.push((header.name.as_str(), header.value.as_str()));
    }
    let block = mime::header_block(pairs);
    let mut email = mime::parse_header_block(&block);
    match webhook
        .from_full
        .as_ref()
        .and_then(|f| f.email.as_deref())
        .filter(|e| e.contains('@'))
    {
        Some(address) => {
            email.from_address = Some(address.trim().to_owned());
            email.from_name = webhook
                .from_full
                .as_ref()
                .and_then(|f| f.name.as_deref())
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned);
        }
        None => {
            if let Some((address, name)) = webhook.from.as_deref().and_then(mime::parse_mailbox) {
                email.from_address = Some(address);
                email.from_name = name;
            }
        }
    }
    email.text = webhook.text_body.filter(|t| !t.trim().is_empty());
    email.html = webhook.html_body.filter(|t| !t.trim().is_empty());
    email.attachments = webhook
        .attachments
        .iter()
        .map(|a| Attachment {
            name: a.name.clone().filter(|n| !n.is_empty()),
            content_type: a
                .content_type
                .clone()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "application/octet-stream".to_owned())
                .to_ascii_lowercase(),
            size: a
                .content_length
                .or_else(|| a.content.as_deref().map(base64_decoded_len)),
            url: None,
        })
        .collect();
    // Postmark's own id of the inbound message is stable across its retries.
    email.fingerprint = match webhook.message_id.as_deref().filter(|id| !id.is_empty()) {
        Some(id) => mime::fingerprint(&[b"postmark", id.as_bytes()]),
        None => mime::fingerprint(&[
            block.as_bytes(),
            email.from_address.as_deref().unwrap_or("").as_bytes(),
            email.text.as_deref().unwrap_or("").as_bytes(),
            email.html.as_deref().unwrap_or("").as_bytes(),
        ]),
    };
    Ok(email)
}

/// The decoded size of base64 text, without decoding it.
fn base64_decoded_len(encoded: &str) -> u64 {
    let significant = encoded.bytes().filter(|b| !b.is_ascii_whitespace()).count() as u64;
    let padding = encoded.trim_end().bytes().rev().take_while(|&b| b == b'=').count() as u64;
    (significant / 4 * 3).saturating_sub(padding)
}

/// The body of `POST /email`.
pub fn request_body(email: &OutgoingEmail, message_stream: &str) -> Value {
    let headers: Vec<Value> = email
        .threading_headers()
        .into_iter()
        .map(|(name, value)| json!({ "Name": name, "Value": value }))
        .collect();
    let mut body = json!({
        "From": email.from_mailbox(),
        "To": email.to,
        "Subject": email.subject,
        "TextBody": email.text,
        "MessageStream": message_stream,
        "Headers": headers,
    });
    if email.message_id.len() <= MAX_METADATA_VALUE {
        body["Metadata"] = json!({ "omni_message_id": email.message_id });
    }
    if let Some(reply_to) = &email.reply_to {
        body["ReplyTo"] = json!(reply_to);
    }
    if let Some(html) = &email.html {
        body["HtmlBody"] = json!(html);
    }
    if email.track_opens {
        body["TrackOpens"] = json!(true);
    }
    body
}

/// Sends through `POST {api_base}/email`; the provider's message id on success.
pub fn send(
    host: &Host,
    api_base: &str,
    token: &str,
    email: &OutgoingEmail,
    message_stream: &str,
) -> Result<Option<String>, SendError> {
    let request = OutgoingRequest::post(format!("{api_base}/email"))
        .header("accept", "application/json")
        .header("x-postmark-server-token", token)
        .json(&request_body(email, message_stream));
    let response = host.http(&request)?;
    read_response(&response)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApiAnswer {
    #[serde(default)]
    error_code: i64,
    #[serde(default)]
    message: String,
    #[serde(default, rename = "MessageID")]
    message_id: Option<String>,
}

/// Reads Postmark's answer: the message id, or the error classified by
/// status and `ErrorCode`.
pub fn read_response(response: &IncomingResponse) -> Result<Option<String>, SendError> {
    let answer: Option<ApiAnswer> = response.json_body().ok();
    if response.is_success() {
        return match answer {
            Some(a) if a.error_code != 0 => Err(error_code(a.error_code, &a.message, None)),
            Some(a) => Ok(a.message_id.filter(|id| !id.is_empty())),
            None => Ok(None),
        };
    }
    match (response.status, answer) {
        (401, _) => Err(SendError::permanent(
            "Postmark answered 401: missing or incorrect server token (secret `api_key`)",
        )),
        (422, Some(a)) => Err(error_code(a.error_code, &a.message, response.retry_after_ms())),
        _ => Err(response.send_error("Postmark")),
    }
}

/// Postmark's API error codes (developer/api/overview#error-codes): 100
/// (maintenance) and 429 (rate limit) are worth retrying; the others (300
/// invalid email request, 406 inactive recipient, 10 bad token, 400/401
/// sender signature, 405 not allowed to send, …) are not.
fn error_code(code: i64, message: &str, after_ms: Option<u64>) -> SendError {
    let text = format!("Postmark error {code}: {message}");
    match code {
        100 | 429 => SendError::Retryable {
            message: text,
            after_ms,
        },
        _ => SendError::permanent(text),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Record {
    record_type: String,
    #[serde(default, rename = "MessageID")]
    message_id: Option<String>,
    #[serde(default)]
    metadata: HashMap<String, Value>,
    #[serde(default, rename = "Type")]
    bounce_type: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    delivered_at: Option<String>,
    #[serde(default)]
    bounced_at: Option<String>,
    #[serde(default)]
    received_at: Option<String>,
}

/// Bounce types that are not a failure of the message: an auto-reply, a
/// delay Postmark retries, and notices that are not about delivery.
const NOT_FAILURES: &[&str] = &[
    "AutoResponder",
    "Transient",
    "OpenRelayTest",
    "ChallengeVerification",
    "AddressChange",
    "Subscribe",
    "Unsubscribe",
];

/// The status in one Postmark webhook; `None` for record types that are not one.
pub fn status(body: &Value) -> Result<Option<ProviderStatus>, PluginError> {
    let record: Record = serde_json::from_value(body.clone())
        .map_err(|e| PluginError::bad_request(format!("invalid Postmark webhook: {e}")))?;
    let (state, at, error) = match record.record_type.as_str() {
        "Delivery" => (DeliveryState::Delivered, &record.delivered_at, None),
        "Bounce" => {
            let kind = record.bounce_type.clone().unwrap_or_else(|| "Bounce".to_owned());
            if NOT_FAILURES.contains(&kind.as_str()) {
                return Ok(None);
            }
            let mut reason = kind;
            if let Some(description) = record.description.as_deref().filter(|d| !d.is_empty()) {
                reason.push_str(": ");
                reason.push_str(description);
            }
            if let Some(details) = record.details.as_deref().filter(|d| !d.is_empty()) {
                reason.push_str(&format!(" ({details})"));
            }
            (DeliveryState::Failed, &record.bounced_at, Some(reason))
        }
        "SpamComplaint" => (
            DeliveryState::Failed,
            &record.bounced_at,
            Some("SpamComplaint: the recipient marked the message as spam".to_owned()),
        ),
        "Open" | "Click" => (DeliveryState::Read, &record.received_at, None),
        _ => return Ok(None),
    };
    let provider_id = record
        .message_id
        .clone()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| PluginError::bad_request("the Postmark webhook has no MessageID"))?;
    Ok(Some(ProviderStatus {
        provider: Provider::Postmark,
        our_id: record
            .metadata
            .get("omni_message_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        provider_id: Some(provider_id),
        state,
        error,
        at: at.as_deref().and_then(status::rfc3339_ms),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_sizes() {
        assert_eq!(base64_decoded_len("aGk="), 2);
        assert_eq!(base64_decoded_len("aGVsbG8="), 5);
        assert_eq!(base64_decoded_len("aGVs\nbG8h"), 6);
        assert_eq!(base64_decoded_len(""), 0);
    }

    #[test]
    fn error_codes() {
        let answer = |status: u16, body: Value| read_response(&IncomingResponse::json(status, &body));
        assert_eq!(
            answer(422, json!({"ErrorCode": 406, "Message": "inactive"})).unwrap_err(),
            SendError::permanent("Postmark error 406: inactive")
        );
        assert!(matches!(
            answer(422, json!({"ErrorCode": 429, "Message": "slow down"})).unwrap_err(),
            SendError::Retryable { .. }
        ));
        assert!(matches!(
            answer(422, json!({"ErrorCode": 100, "Message": "Maintenance"})).unwrap_err(),
            SendError::Retryable { .. }
        ));
        assert!(matches!(
            answer(401, json!({})).unwrap_err(),
            SendError::Permanent { .. }
        ));
        assert!(matches!(
            answer(503, json!({})).unwrap_err(),
            SendError::Retryable { .. }
        ));
        assert_eq!(
            answer(200, json!({"ErrorCode": 0, "MessageID": "m-1"})).unwrap(),
            Some("m-1".to_owned())
        );
    }

    #[test]
    fn unknown_record_types_are_no_status() {
        assert_eq!(status(&json!({"RecordType": "SubscriptionChange"})).unwrap(), None);
        assert_eq!(
            status(&json!({"RecordType": "Bounce", "Type": "AutoResponder", "MessageID": "x"})).unwrap(),
            None
        );
        assert_eq!(status(&json!({"RecordType": "Delivery"})).unwrap_err().status(), 400);
        assert_eq!(status(&json!({"RecordType": 5})).unwrap_err().status(), 400);
    }
}
