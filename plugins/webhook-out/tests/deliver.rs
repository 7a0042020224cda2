//! Signed deliveries to a receiver, checked the way a receiver checks them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use omni_plugin_sdk::prelude::*;
use omni_webhook_out::WebhookOut;
use serde_json::{Value, json};
use sha2::Sha256;

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const URL: &str = "https://hooks.example.com/omni";
const RESOLVED: &str = include_str!("../fixtures/conversation-resolved.event.json");
const RESOLVED_BODY: &str = include_str!("../fixtures/conversation-resolved.body.json");
const RECEIVED: &str = include_str!("../fixtures/message-received.event.json");

fn event(json: &str) -> DomainEvent {
    serde_json::from_str(json).unwrap()
}

fn host() -> testing::MockHost {
    testing::MockHost::new()
        .with_config("url", json!(URL))
        .with_secret("signing_secret", SECRET)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// What a receiver does: decode the secret after `whsec_`, HMAC
/// `{id}.{timestamp}.{body}`, and compare with each `v1,` signature.
fn receiver_accepts(request: &OutgoingRequest) -> bool {
    let key = STANDARD.decode(SECRET.strip_prefix("whsec_").unwrap()).unwrap();
    let id = request.header_value("webhook-id").unwrap();
    let timestamp = request.header_value("webhook-timestamp").unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&request.body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    request
        .header_value("webhook-signature")
        .unwrap()
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| s == expected)
}

fn send(mock: &testing::MockHost, json: &str) -> Result<EventOutcome, IntegrationError> {
    WebhookOut::on_event(&mock.host(), event(json))
}

#[test]
fn an_event_is_posted_with_the_standard_webhooks_headers() {
    let mock = host().respond(IncomingResponse::new(204, ""));
    let before = now();
    assert_eq!(send(&mock, RESOLVED).unwrap(), EventOutcome::none());
    let after = now();

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, URL);
    let names: Vec<&str> = request.headers.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "content-type",
            "user-agent",
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature"
        ]
    );
    assert_eq!(request.header_value("content-type"), Some("application/json"));
    assert_eq!(request.header_value("user-agent"), Some("omni-webhook-out/0.1.0"));
    assert_eq!(request.header_value("webhook-id"), Some("evt_4711"));
    let timestamp: u64 = request.header_value("webhook-timestamp").unwrap().parse().unwrap();
    assert!(
        (before..=after).contains(&timestamp),
        "{timestamp} is not the send time"
    );
    let signature = request.header_value("webhook-signature").unwrap();
    assert!(signature.starts_with("v1,") && !signature.contains(' '), "{signature}");
    assert!(receiver_accepts(request));

    // The body, and its top-level order as the spec shows it.
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let expected: Value = serde_json::from_str(RESOLVED_BODY).unwrap();
    assert_eq!(body, expected);
    assert!(
        request
            .body
            .starts_with(br#"{"type":"conversation.resolved","timestamp":"#)
    );
}

#[test]
fn a_tampered_body_or_id_fails_the_receivers_check() {
    let mock = host().respond(IncomingResponse::new(200, ""));
    send(&mock, RESOLVED).unwrap();
    let original = mock.requests().remove(0);

    let mut body = original.clone();
    body.body = body.body.iter().map(|&b| if b == b'1' { b'2' } else { b }).collect();
    assert!(!receiver_accepts(&body));

    let mut id = original.clone();
    for header in &mut id.headers {
        if header.name == "webhook-id" {
            header.value = "evt_4712".into();
        }
    }
    assert!(!receiver_accepts(&id));
}

#[test]
fn the_webhook_id_is_the_same_on_every_attempt() {
    let mock = host()
        .respond(IncomingResponse::new(503, "busy"))
        .respond(IncomingResponse::new(200, "ok"));
    assert!(matches!(send(&mock, RESOLVED), Err(IntegrationError::Retryable { .. })));
    send(&mock, RESOLVED).unwrap();
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].header_value("webhook-id"), Some("evt_4711"));
    assert_eq!(requests[1].header_value("webhook-id"), Some("evt_4711"));
    assert_eq!(requests[0].body, requests[1].body);
    assert!(requests.iter().all(receiver_accepts));
}

#[test]
fn absent_fields_are_null_and_an_empty_transcript_is_left_out() {
    let mock = host().respond(IncomingResponse::new(200, ""));
    send(&mock, RECEIVED).unwrap();
    let body: Value = serde_json::from_slice(&mock.requests()[0].body).unwrap();
    assert_eq!(
        body,
        json!({
            "type": "message.received",
            "timestamp": "2024-10-01T09:31:00.000Z",
            "data": {
                "position": 4712,
                "person": {
                    "id": "per_01J9ZK5W3V6Q8R2T4Y7U0X1C3B",
                    "display_name": null,
                    "identities": [{ "kind": "email", "value": "ann.lee@example.com", "verified": true }]
                },
                "conversation_id": "conv_01J9ZK6A0B1C2D3E4F5G6H7J8K",
                "message_id": "msg_01J9ZK7B2C3D4E5F6G7H8J9K0L",
                "details": { "channel": "email", "connector_id": "email", "text": "Thanks!", "attachments": [] }
            }
        })
    );

    let mock = host().respond(IncomingResponse::new(200, ""));
    let bare = DomainEvent {
        position: 1,
        kind: "person.split".into(),
        at: 0,
        person: None,
        conversation_id: None,
        message_id: None,
        data: Value::Null,
        transcript: Vec::new(),
    };
    WebhookOut::on_event(&mock.host(), bare).unwrap();
    let body: Value = serde_json::from_slice(&mock.requests()[0].body).unwrap();
    assert_eq!(
        body,
        json!({
            "type": "person.split",
            "timestamp": "1970-01-01T00:00:00.000Z",
            "data": { "position": 1, "person": null, "conversation_id": null, "message_id": null, "details": null }
        })
    );
}

#[test]
fn extra_headers_are_added_but_cannot_replace_the_signature() {
    let mock = host()
        .with_config(
            "extra_headers",
            json!({ "X-Tenant": "acme", "Authorization": "Bearer t0k3n" }),
        )
        .respond(IncomingResponse::new(200, ""));
    send(&mock, RESOLVED).unwrap();
    let request = &mock.requests()[0];
    assert_eq!(request.header_value("x-tenant"), Some("acme"));
    assert_eq!(request.header_value("authorization"), Some("Bearer t0k3n"));
    assert!(receiver_accepts(request));

    let mock = host().with_config("extra_headers", json!({ "Webhook-Signature": "v1,forged" }));
    let error = send(&mock, RESOLVED).unwrap_err();
    assert!(
        matches!(&error, IntegrationError::Permanent { message } if message.contains("cannot be replaced")),
        "{error:?}"
    );
    assert!(mock.requests().is_empty());
}

fn answered(response: IncomingResponse) -> Result<EventOutcome, IntegrationError> {
    let mock = host().respond(response);
    send(&mock, RESOLVED)
}

#[test]
fn every_2xx_is_a_delivery() {
    for status in [200, 201, 202, 204, 299] {
        assert_eq!(
            answered(IncomingResponse::new(status, "")).unwrap(),
            EventOutcome::none()
        );
    }
}

#[test]
fn gone_is_permanent() {
    let error = answered(IncomingResponse::new(410, "bye")).unwrap_err();
    assert_eq!(
        error,
        IntegrationError::permanent(
            "the receiver answered 410 Gone: it removed the endpoint; update or remove this instance's `url`"
        )
    );
}

#[test]
fn timeouts_rate_limits_and_server_errors_are_retried_after_retry_after() {
    assert_eq!(
        answered(IncomingResponse::new(429, "slow down").with_header("Retry-After", "120")).unwrap_err(),
        IntegrationError::Retryable {
            message: "the receiver answered 429: slow down".into(),
            after_ms: Some(120_000)
        }
    );
    assert_eq!(
        answered(IncomingResponse::new(503, "").with_header("Retry-After", "5")).unwrap_err(),
        IntegrationError::Retryable {
            message: "the receiver answered 503".into(),
            after_ms: Some(5_000)
        }
    );
    for status in [408, 500, 502, 504] {
        assert!(
            matches!(
                answered(IncomingResponse::new(status, "")),
                Err(IntegrationError::Retryable { after_ms: None, .. })
            ),
            "{status}"
        );
    }
    for failure in [
        HttpError::Timeout("no answer in 10s".into()),
        HttpError::Unreachable("connection refused".into()),
    ] {
        let mock = host().fail_http(failure);
        assert!(matches!(send(&mock, RESOLVED), Err(IntegrationError::Retryable { .. })));
    }
}

#[test]
fn other_refusals_are_permanent_with_the_status_and_200_bytes_of_body() {
    let long = format!("invalid payload: {}", "x".repeat(400));
    let error = answered(IncomingResponse::new(422, long.clone())).unwrap_err();
    assert_eq!(
        error,
        IntegrationError::permanent(format!("the receiver refused the event with 422: {}", &long[..200]))
    );
    assert_eq!(
        answered(IncomingResponse::new(401, "")).unwrap_err(),
        IntegrationError::permanent("the receiver refused the event with 401")
    );
    let error =
        answered(IncomingResponse::new(301, "").with_header("Location", "https://new.example.com/omni")).unwrap_err();
    assert_eq!(
        error,
        IntegrationError::permanent(
            "the receiver answered 301 redirecting to https://new.example.com/omni; set `url` to the final address"
        )
    );
}

#[test]
fn a_receiver_outside_allowed_hosts_is_permanent_and_says_so() {
    let mock = host().fail_http(HttpError::Denied("hooks.example.com is not allowed".into()));
    let error = send(&mock, RESOLVED).unwrap_err();
    assert!(
        matches!(&error, IntegrationError::Permanent { message } if message.contains("allowed_hosts")),
        "{error:?}"
    );
}

#[test]
fn a_secret_not_in_whsec_format_is_refused_before_sending() {
    for secret in ["C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "whsec_%%%", "whsec_c2hvcnQ=", "  "] {
        let mock = testing::MockHost::new()
            .with_config("url", json!(URL))
            .with_secret("signing_secret", secret);
        let error = send(&mock, RESOLVED).unwrap_err();
        assert!(
            matches!(error, IntegrationError::Permanent { .. }),
            "{secret:?}: {error:?}"
        );
        assert!(!error.to_string().contains("C2FVsBQ"), "the secret leaked: {error}");
        assert!(mock.requests().is_empty());
    }
    let unset = testing::MockHost::new().with_config("url", json!(URL));
    assert!(matches!(
        send(&unset, RESOLVED),
        Err(IntegrationError::Permanent { .. })
    ));
}

#[test]
fn a_missing_or_odd_url_is_permanent() {
    let mock = testing::MockHost::new().with_secret("signing_secret", SECRET);
    assert!(matches!(send(&mock, RESOLVED), Err(IntegrationError::Permanent { .. })));
    let mock = host().with_config("url", json!("ftp://hooks.example.com/"));
    assert!(matches!(send(&mock, RESOLVED), Err(IntegrationError::Permanent { .. })));
    assert!(mock.requests().is_empty());
}

#[test]
fn webhooks_and_lookups_are_not_offered() {
    let mock = host();
    let person = Person {
        id: "p".into(),
        display_name: None,
        identities: Vec::new(),
        records: Vec::new(),
    };
    assert_eq!(WebhookOut::lookup(&mock.host(), person).unwrap(), None);
    assert_eq!(
        WebhookOut::handle_webhook(&mock.host(), Request::post("/", "{}"))
            .unwrap_err()
            .status(),
        404
    );
}
