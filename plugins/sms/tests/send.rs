//! Outbound messages through the Messages API, answered with Twilio's documented responses.

use omni_plugin_sdk::prelude::*;
use omni_sms::Sms;
use serde_json::{Value, json};

const ACCOUNT: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const CREATED: &str = include_str!("../fixtures/message-created.json");

fn fixture(json: &str) -> Value {
    serde_json::from_str(json).unwrap()
}

fn host() -> testing::MockHost {
    testing::MockHost::new()
        .with_secret("auth_token", "test-auth-token")
        .with_config("account_sid", json!(ACCOUNT))
        .with_config("public_url", json!("https://omni.example.com/hooks/sms/"))
        .with_config("from", json!("+14155552345"))
        .with_config("api_base", json!("http://127.0.0.1:9/twilio"))
}

/// The form fields of a request, decoded the way a webhook's are.
fn fields(request: &OutgoingRequest) -> Vec<(String, String)> {
    Request::post("/", request.body.clone())
        .with_header("content-type", "application/x-www-form-urlencoded")
        .form()
        .unwrap()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn to(number: &str) -> Identity {
    Identity::phone(number)
}

#[test]
fn a_reply_is_posted_to_the_messages_api() {
    let mock = host().respond(IncomingResponse::json(201, &fixture(CREATED)));
    let message = OutboundMessage::text("msg-1", "conv-1", "Yes, it ships today!");
    let receipt = Sms::send(&mock.host(), message, to("+14155550100")).unwrap();
    assert_eq!(receipt, SendReceipt::sent("SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.url,
        "http://127.0.0.1:9/twilio/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json"
    );
    // base64("ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:test-auth-token")
    assert_eq!(
        request.header_value("authorization"),
        Some("Basic QUNhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYTp0ZXN0LWF1dGgtdG9rZW4=")
    );
    assert_eq!(
        request.header_value("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        fields(request),
        pairs(&[
            ("To", "+14155550100"),
            ("From", "+14155552345"),
            ("Body", "Yes, it ships today!"),
            ("StatusCallback", "https://omni.example.com/hooks/sms/status"),
        ])
    );
}

#[test]
fn a_messaging_service_and_media_urls_are_sent() {
    let mock = testing::MockHost::new()
        .with_secret("api_key_secret", "test-key-secret")
        .with_config("account_sid", json!(ACCOUNT))
        .with_config("public_url", json!("https://omni.example.com/hooks/sms"))
        .with_config("messaging_service_sid", json!("MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))
        .with_config("api_key_sid", json!("SKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))
        .respond(IncomingResponse::json(201, &fixture(CREATED)));
    let mut message = OutboundMessage::text("msg-2", "conv-1", "");
    message.attachments = vec![
        Attachment {
            name: Some("invoice.pdf".into()),
            content_type: "application/pdf".into(),
            size: Some(1200),
            url: Some("https://files.example.com/invoice.pdf".into()),
        },
        Attachment {
            name: None,
            content_type: "image/png".into(),
            size: None,
            url: Some("https://files.example.com/a.png".into()),
        },
    ];
    Sms::send(&mock.host(), message, Identity::channel_user("whatsapp:+14155550100")).unwrap();
    let request = &mock.requests()[0];
    // base64("SKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:test-key-secret")
    assert_eq!(
        request.header_value("authorization"),
        Some("Basic U0thYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYTp0ZXN0LWtleS1zZWNyZXQ=")
    );
    assert_eq!(
        fields(request),
        pairs(&[
            ("To", "whatsapp:+14155550100"),
            ("MessagingServiceSid", "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            ("MediaUrl", "https://files.example.com/invoice.pdf"),
            ("MediaUrl", "https://files.example.com/a.png"),
            ("StatusCallback", "https://omni.example.com/hooks/sms/status"),
        ])
    );
}

#[test]
fn twilios_refusals_are_permanent() {
    let cases = [
        (include_str!("../fixtures/error-21211.json"), "error 21211"),
        (include_str!("../fixtures/error-21408.json"), "geo permissions"),
        (include_str!("../fixtures/error-21610.json"), "replied STOP"),
        (include_str!("../fixtures/error-21614.json"), "not a mobile number"),
        (include_str!("../fixtures/error-20003.json"), "auth token"),
    ];
    for (body, needle) in cases {
        let error = fixture(body);
        let status = error["status"].as_u64().unwrap() as u16;
        let mock = host().respond(IncomingResponse::json(status, &error));
        let err = Sms::send(&mock.host(), OutboundMessage::text("m", "c", "hi"), to("+15005550001")).unwrap_err();
        match err {
            SendError::Permanent { message } => {
                assert!(message.contains(needle), "{needle}: {message}");
                assert!(message.contains(error["more_info"].as_str().unwrap()), "{message}");
            }
            other => panic!("{needle}: expected permanent, got {other:?}"),
        }
    }
}

#[test]
fn rate_limits_and_outages_are_retried() {
    let limited = IncomingResponse::json(429, &fixture(include_str!("../fixtures/error-20429.json")))
        .with_header("Retry-After", "30");
    let mock = host().respond(limited);
    let err = Sms::send(&mock.host(), OutboundMessage::text("m", "c", "hi"), to("+14155550100")).unwrap_err();
    assert_eq!(
        err,
        SendError::Retryable {
            message:
                "Twilio answered 429 with error 20429: Too Many Requests — https://www.twilio.com/docs/errors/20429"
                    .into(),
            after_ms: Some(30_000),
        }
    );

    let mock = host().respond(IncomingResponse::new(503, "<html>Service Unavailable</html>"));
    let err = Sms::send(&mock.host(), OutboundMessage::text("m", "c", "hi"), to("+14155550100")).unwrap_err();
    assert!(matches!(err, SendError::Retryable { after_ms: None, .. }), "{err:?}");

    let mock = host().fail_http(HttpError::Timeout("2s".into()));
    let err = Sms::send(&mock.host(), OutboundMessage::text("m", "c", "hi"), to("+14155550100")).unwrap_err();
    assert!(matches!(err, SendError::Retryable { .. }), "{err:?}");
}

#[test]
fn messages_twilio_would_refuse_are_not_sent() {
    let long = "x".repeat(1601);
    let cases = [
        (
            OutboundMessage::text("m", "c", &long),
            to("+14155550100"),
            "1601 characters",
        ),
        (
            OutboundMessage::text("m", "c", "  "),
            to("+14155550100"),
            "neither text nor media",
        ),
        (
            OutboundMessage::text("m", "c", "hi"),
            Identity::email("ann@example.com"),
            "phone number",
        ),
    ];
    for (message, recipient, needle) in cases {
        let mock = host();
        let err = Sms::send(&mock.host(), message, recipient).unwrap_err();
        match err {
            SendError::Permanent { message } => assert!(message.contains(needle), "{needle}: {message}"),
            other => panic!("{needle}: {other:?}"),
        }
        assert!(mock.requests().is_empty());
    }
    // Exactly 1600 characters is fine.
    let mock = host().respond(IncomingResponse::json(201, &fixture(CREATED)));
    Sms::send(
        &mock.host(),
        OutboundMessage::text("m", "c", &"é".repeat(1600)),
        to("+14155550100"),
    )
    .unwrap();
}

#[test]
fn a_missing_sender_is_a_permanent_configuration_error() {
    let mock = testing::MockHost::new()
        .with_secret("auth_token", "test-auth-token")
        .with_config("account_sid", json!(ACCOUNT));
    let err = Sms::send(&mock.host(), OutboundMessage::text("m", "c", "hi"), to("+14155550100")).unwrap_err();
    assert!(matches!(&err, SendError::Permanent { message } if message.contains("messaging_service_sid")));
    assert!(mock.requests().is_empty());
}

#[test]
fn an_answer_without_a_sid_is_not_retried() {
    let mock = host().respond(IncomingResponse::json(201, &json!({"status": "queued"})));
    let err = Sms::send(&mock.host(), OutboundMessage::text("m", "c", "hi"), to("+14155550100")).unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
}
