//! One delivery attempt: the signed `POST` to the receiver, and how its
//! answer becomes success, a retry or a permanent failure.

use std::collections::BTreeMap;

use omni_plugin_sdk::prelude::*;

use crate::payload;
use crate::signature::{SIGNING_SECRET, SigningKey};

/// `user-agent` of every request.
pub const USER_AGENT: &str = concat!("omni-webhook-out/", env!("CARGO_PKG_VERSION"));

/// How much of a refusing receiver's body goes into the error message.
const BODY_EXCERPT_BYTES: usize = 200;

/// Headers the plugin sets itself; `extra_headers` may not replace them.
const RESERVED_HEADERS: [&str; 5] = [
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "transfer-encoding",
];

/// Sends `event` to the configured URL once. `Ok` means the receiver
/// answered 2xx; the host retries a `Retryable` error later with the same
/// `webhook-id` and a fresh timestamp and signature.
pub fn deliver(host: &Host, event: &DomainEvent) -> Result<(), IntegrationError> {
    let target = Target::read(host)?;
    let id = payload::webhook_id(event);
    let body = payload::body(event)?;
    let timestamp = now_seconds()?;
    let signature = target.key.sign(&id, timestamp, &body);

    let mut request = OutgoingRequest::post(&target.url);
    for (name, value) in &target.extra_headers {
        request = request.header(name, value);
    }
    let mut request = request
        .header("content-type", "application/json")
        .header("user-agent", USER_AGENT)
        .header("webhook-id", &id)
        .header("webhook-timestamp", &timestamp.to_string())
        .header("webhook-signature", &signature);
    request.body = body;

    let response = host.http(&request).map_err(|e| transport_error(&target.url, e))?;
    classify(&response)
}

/// The receiver and how to sign for it.
struct Target {
    url: String,
    extra_headers: BTreeMap<String, String>,
    key: SigningKey,
}

impl Target {
    /// Reads config and secret. Mistakes here are permanent: retrying the
    /// same event cannot fix them, and the host keeps failed events for a
    /// replay once the operator has corrected the config.
    fn read(host: &Host) -> Result<Self, IntegrationError> {
        let url: String = host
            .config("url")
            .map_err(|e| IntegrationError::permanent(e.message()))?
            .ok_or_else(|| IntegrationError::permanent("config `url` is not set: the receiver's https:// URL"))?;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(IntegrationError::permanent(format!(
                "config `url` must start with https:// (or http:// for a local receiver), got {url:?}"
            )));
        }
        let extra_headers: BTreeMap<String, String> = host
            .config("extra_headers")
            .map_err(|e| IntegrationError::permanent(e.message()))?
            .unwrap_or_default();
        for (name, value) in &extra_headers {
            check_extra_header(name, value).map_err(IntegrationError::permanent)?;
        }
        let secret = host
            .secret(SIGNING_SECRET)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                IntegrationError::permanent(format!(
                    "the secret `{SIGNING_SECRET}` is not configured; without it receivers cannot verify requests"
                ))
            })?;
        let key = SigningKey::parse(&secret).map_err(IntegrationError::permanent)?;
        Ok(Self {
            url,
            extra_headers,
            key,
        })
    }
}

/// Whether a static header from config is acceptable: an HTTP token as
/// name, no line breaks in the value, and not one of the headers the
/// signature scheme or the body depend on.
pub fn check_extra_header(name: &str, value: &str) -> Result<(), String> {
    let lower = name.to_ascii_lowercase();
    let is_token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !is_token {
        return Err(format!("config `extra_headers`: {name:?} is not a valid header name"));
    }
    if lower.starts_with("webhook-") || RESERVED_HEADERS.contains(&lower.as_str()) {
        return Err(format!(
            "config `extra_headers`: {name:?} is set by the plugin itself and cannot be replaced"
        ));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(format!(
            "config `extra_headers`: the value of {name:?} contains a line break"
        ));
    }
    Ok(())
}

/// Unix seconds now, from the WASI wall clock.
fn now_seconds() -> Result<u64, IntegrationError> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .ok()
        .filter(|&s| s > 0)
        .ok_or_else(|| IntegrationError::retryable("the wall clock is unavailable; cannot timestamp the request"))
}

/// A request that got no answer. Timeouts and unreachable receivers are
/// retried; a host refused by the sandbox needs the operator.
fn transport_error(url: &str, error: HttpError) -> IntegrationError {
    match error {
        HttpError::Denied(detail) => IntegrationError::permanent(format!(
            "the host refused to call {url} ({detail}); list the receiver's host in this instance's \
             `allowed_hosts` in omni.toml"
        )),
        other => IntegrationError::from(other),
    }
}

/// Reads the receiver's answer, following the status handling the Standard
/// Webhooks spec suggests ("Delivery success and failure").
pub fn classify(response: &IncomingResponse) -> Result<(), IntegrationError> {
    let status = response.status;
    match status {
        200..=299 => Ok(()),
        410 => Err(IntegrationError::permanent(
            "the receiver answered 410 Gone: it removed the endpoint; update or remove this instance's `url`",
        )),
        408 | 429 | 500..=599 => Err(IntegrationError::Retryable {
            message: format!("the receiver answered {status}{}", excerpt_suffix(response)),
            after_ms: response.retry_after_ms(),
        }),
        // Redirects are not followed (the host's rule, and the spec's advice).
        300..=399 => Err(IntegrationError::permanent(format!(
            "the receiver answered {status} redirecting to {}; set `url` to the final address",
            response.header("location").unwrap_or("an unnamed location")
        ))),
        _ => Err(IntegrationError::permanent(format!(
            "the receiver refused the event with {status}{}",
            excerpt_suffix(response)
        ))),
    }
}

/// `": <first 200 bytes of the body>"`, or nothing for an empty body.
fn excerpt_suffix(response: &IncomingResponse) -> String {
    let text = response.text();
    let mut end = text.len().min(BODY_EXCERPT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let excerpt = text[..end].trim();
    if excerpt.is_empty() {
        String::new()
    } else {
        format!(": {excerpt}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_headers_are_checked() {
        assert!(check_extra_header("X-Tenant", "acme").is_ok());
        assert!(check_extra_header("Authorization", "Bearer abc").is_ok());
        assert!(check_extra_header("Webhook-Signature", "v1,x").is_err());
        assert!(check_extra_header("content-type", "text/plain").is_err());
        assert!(check_extra_header("bad name", "x").is_err());
        assert!(check_extra_header("", "x").is_err());
        assert!(check_extra_header("X-A", "a\r\nX-B: b").is_err());
    }

    #[test]
    fn excerpts_stop_at_200_bytes_on_a_character_boundary() {
        let long = "é".repeat(150); // 300 bytes
        let response = IncomingResponse::new(400, long);
        let suffix = excerpt_suffix(&response);
        assert_eq!(suffix.len(), 2 + 200);
        assert_eq!(excerpt_suffix(&IncomingResponse::new(400, "")), "");
    }
}
