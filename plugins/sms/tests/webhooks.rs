//! Twilio's incoming-message and status webhooks, with the documented payloads in `fixtures/`.

use omni_plugin_sdk::LogLevel;
use omni_plugin_sdk::crypto::twilio_signature;
use omni_plugin_sdk::prelude::*;
use omni_sms::Sms;
use omni_sms::inbound::EMPTY_TWIML;
use serde_json::json;

const TOKEN: &str = "test-auth-token";
const PUBLIC_URL: &str = "https://omni.example.com/hooks/sms";
const ACCOUNT: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

const INCOMING_SMS: &str = include_str!("../fixtures/incoming-sms.form");
const INCOMING_MMS: &str = include_str!("../fixtures/incoming-mms.form");
const STATUS_QUEUED: &str = include_str!("../fixtures/status-queued.form");
const STATUS_SENT: &str = include_str!("../fixtures/status-sent.form");
const STATUS_DELIVERED: &str = include_str!("../fixtures/status-delivered.form");
const STATUS_UNDELIVERED: &str = include_str!("../fixtures/status-undelivered.form");

fn host() -> testing::MockHost {
    testing::MockHost::new()
        .with_secret("auth_token", TOKEN)
        .with_config("public_url", json!(PUBLIC_URL))
        .with_config("account_sid", json!(ACCOUNT))
        .with_config("from", json!("+14155552345"))
}

fn unsigned(path: &str, body: &str) -> Request {
    Request::post(path, body).with_header("content-type", "application/x-www-form-urlencoded")
}

/// The request as Twilio sends it: signed with the auth token over the public URL.
fn signed_with(token: &str, path: &str, body: &str) -> Request {
    let request = unsigned(path, body);
    let params = request.form().unwrap();
    let signature = twilio_signature(token, &format!("{PUBLIC_URL}{path}"), &params);
    request.with_header("x-twilio-signature", &signature)
}

fn signed(path: &str, body: &str) -> Request {
    signed_with(TOKEN, path, body)
}

fn message(outcome: &WebhookOutcome) -> &InboundMessage {
    match &outcome.events[..] {
        [Event::MessageReceived(m)] => m,
        other => panic!("expected one message, got {other:?}"),
    }
}

fn receipt(outcome: &WebhookOutcome) -> &DeliveryStatus {
    match &outcome.events[..] {
        [Event::DeliveryStatus(s)] => s,
        other => panic!("expected one receipt, got {other:?}"),
    }
}

fn warned(mock: &testing::MockHost) -> bool {
    mock.logs().iter().any(|(level, _)| *level == LogLevel::Warn)
}

#[test]
fn an_incoming_sms_becomes_a_message_from_a_verified_phone() {
    let mock = host();
    let outcome = Sms::handle_webhook(&mock.host(), signed("/sms", INCOMING_SMS)).unwrap();

    assert_eq!(outcome.response.status, 200);
    assert_eq!(outcome.response.header("content-type"), Some("text/xml"));
    assert_eq!(outcome.response.body, EMPTY_TWIML.as_bytes());
    assert_eq!(
        EMPTY_TWIML,
        r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#
    );
    let expected = InboundMessage::new(
        "SMb7c0a2ce80504485a6f653a7110836f5",
        Identity::phone("+14155550100").verified(),
        "Hi! Is my order #42 on its way?",
    );
    assert_eq!(message(&outcome), &expected);
}

#[test]
fn an_incoming_mms_lists_its_media_as_attachments() {
    let mock = host();
    let outcome = Sms::handle_webhook(&mock.host(), signed("/sms", INCOMING_MMS)).unwrap();
    let m = message(&outcome);
    assert_eq!(m.external_id, "MMc781610ec0b3400c9e0cab8e757da937");
    assert_eq!(m.text, "Here is the photo and the receipt");
    let media = "https://api.twilio.com/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/MMc781610ec0b3400c9e0cab8e757da937/Media";
    assert_eq!(
        m.attachments,
        vec![
            Attachment {
                name: None,
                content_type: "image/jpeg".into(),
                size: None,
                url: Some(format!("{media}/ME56662bd51a33b8a7a5eb3d0b1d4bde0a")),
            },
            Attachment {
                name: None,
                content_type: "application/pdf".into(),
                size: None,
                url: Some(format!("{media}/ME7e8a3b1b2c3d4e5f60718293a4b5c6d7")),
            },
        ]
    );
}

#[test]
fn a_twilio_retry_gives_the_same_external_id() {
    let mock = host();
    let first = Sms::handle_webhook(&mock.host(), signed("/sms", INCOMING_SMS)).unwrap();
    // Twilio retries carry an idempotency token header, which is not signed.
    let retry = signed("/sms", INCOMING_SMS).with_header("i-twilio-idempotency-token", "a1b2c3");
    let second = Sms::handle_webhook(&mock.host(), retry).unwrap();
    assert_eq!(first.events, second.events);
    assert_eq!(message(&second).external_id, "SMb7c0a2ce80504485a6f653a7110836f5");
}

#[test]
fn stop_keywords_pass_through_as_messages() {
    let mock = host();
    let body = INCOMING_SMS.replace("Body=Hi%21+Is+my+order+%2342+on+its+way%3F", "Body=STOP");
    let outcome = Sms::handle_webhook(&mock.host(), signed("/sms", &body)).unwrap();
    assert_eq!(message(&outcome).text, "STOP");
}

#[test]
fn a_whatsapp_sender_keeps_its_channel_address_and_profile_name() {
    let mock = host();
    let body = INCOMING_SMS.replace(
        "From=%2B14155550100",
        "From=whatsapp%3A%2B14155550100&ProfileName=Ann+Lee",
    );
    let outcome = Sms::handle_webhook(&mock.host(), signed("/sms", &body)).unwrap();
    let m = message(&outcome);
    assert_eq!(m.sender, Identity::channel_user("whatsapp:+14155550100").verified());
    assert_eq!(m.display_name.as_deref(), Some("Ann Lee"));
}

#[test]
fn a_forged_signature_is_refused_with_401_and_no_events() {
    let mock = host();
    let forged = signed_with("guessed-token", "/sms", INCOMING_SMS);
    let err = Sms::handle_webhook(&mock.host(), forged).unwrap_err();
    assert_eq!(err.status(), 401);
    assert!(warned(&mock));

    // A genuine signature over another body does not sign this one.
    let mut tampered = signed("/sms", INCOMING_SMS);
    tampered.body = INCOMING_SMS.replace("Body=Hi", "Body=Bye").into_bytes();
    assert_eq!(Sms::handle_webhook(&mock.host(), tampered).unwrap_err().status(), 401);

    // A signature for the status route does not sign the message route.
    let mut moved = signed("/status", INCOMING_SMS);
    moved.path = "/sms".into();
    assert_eq!(Sms::handle_webhook(&mock.host(), moved).unwrap_err().status(), 401);
}

#[test]
fn a_missing_signature_is_refused_with_401() {
    let mock = host();
    let err = Sms::handle_webhook(&mock.host(), unsigned("/sms", INCOMING_SMS)).unwrap_err();
    assert_eq!(err.status(), 401);
    assert!(warned(&mock));
    let err = Sms::handle_webhook(&mock.host(), unsigned("/status", STATUS_SENT)).unwrap_err();
    assert_eq!(err.status(), 401);
}

#[test]
fn a_missing_auth_token_is_an_operator_error() {
    let mock = testing::MockHost::new().with_config("public_url", json!(PUBLIC_URL));
    let err = Sms::handle_webhook(&mock.host(), signed("/sms", INCOMING_SMS)).unwrap_err();
    assert_eq!(err.status(), 500);
    assert!(err.message().contains("auth_token"), "{err}");
}

#[test]
fn another_accounts_webhook_is_forbidden() {
    let mock = host();
    let body = INCOMING_SMS.replace(ACCOUNT, "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    let err = Sms::handle_webhook(&mock.host(), signed("/sms", &body)).unwrap_err();
    assert_eq!(err.status(), 403);
}

#[test]
fn malformed_bodies_are_refused_with_400_or_415() {
    let mock = host();
    let cases = [
        (
            INCOMING_SMS
                .replace("MessageSid=", "Other=")
                .replace("SmsSid=", "Other2="),
            "MessageSid",
        ),
        (INCOMING_SMS.replace("From=", "Sender="), "From"),
        (INCOMING_SMS.replace("NumMedia=0", "NumMedia=many"), "NumMedia"),
        (INCOMING_SMS.replace("NumMedia=0", "NumMedia=1"), "MediaUrl0"),
        (
            INCOMING_SMS.replace(
                "MessageSid=SMb7c0a2ce80504485a6f653a7110836f5",
                "MessageSid=SM%2F..%2Fx",
            ),
            "MessageSid",
        ),
    ];
    for (body, needle) in cases {
        let err = Sms::handle_webhook(&mock.host(), signed("/sms", &body)).unwrap_err();
        assert_eq!(err.status(), 400, "{body}");
        assert!(err.message().contains(needle), "{needle}: {err}");
    }
    let json = signed("/sms", INCOMING_SMS);
    let mut json = json;
    json.headers.retain(|h| h.name != "content-type");
    let json = json.with_header("content-type", "application/json");
    assert_eq!(Sms::handle_webhook(&mock.host(), json).unwrap_err().status(), 415);
}

#[test]
fn status_callbacks_become_delivery_receipts_for_the_sent_message() {
    let mock = host();
    let sent = Sms::handle_webhook(&mock.host(), signed("/status", STATUS_SENT)).unwrap();
    assert_eq!(sent.response.status, 204);
    assert_eq!(
        receipt(&sent),
        &DeliveryStatus::new("SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", DeliveryState::Sent)
    );
    let delivered = Sms::handle_webhook(&mock.host(), signed("/status", STATUS_DELIVERED)).unwrap();
    assert_eq!(
        receipt(&delivered),
        &DeliveryStatus::new("SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", DeliveryState::Delivered)
    );
    let read = STATUS_DELIVERED.replace("Status=delivered", "Status=read");
    let read = Sms::handle_webhook(&mock.host(), signed("/status", &read)).unwrap();
    assert_eq!(receipt(&read).state, DeliveryState::Read);
}

#[test]
fn undelivered_and_failed_messages_carry_the_error_code() {
    let mock = host();
    let outcome = Sms::handle_webhook(&mock.host(), signed("/status", STATUS_UNDELIVERED)).unwrap();
    let mut expected = DeliveryStatus::new("SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", DeliveryState::Failed);
    expected.error = Some("undelivered: Twilio error 30003 (unreachable destination handset)".into());
    assert_eq!(receipt(&outcome), &expected);

    let failed = STATUS_UNDELIVERED
        .replace("Status=undelivered", "Status=failed")
        .replace("ErrorCode=30003", "ErrorCode=30007&ErrorMessage=Carrier+violation");
    let outcome = Sms::handle_webhook(&mock.host(), signed("/status", &failed)).unwrap();
    assert_eq!(
        receipt(&outcome).error.as_deref(),
        Some("failed: Twilio error 30007 (Carrier violation)")
    );
}

#[test]
fn early_and_unknown_statuses_are_accepted_and_ignored() {
    let mock = host();
    let queued = Sms::handle_webhook(&mock.host(), signed("/status", STATUS_QUEUED)).unwrap();
    assert_eq!(queued.response.status, 204);
    assert!(queued.events.is_empty());
    for status in ["sending", "accepted", "scheduled", "partially_delivered"] {
        let body = STATUS_QUEUED.replace("Status=queued", &format!("Status={status}"));
        let outcome = Sms::handle_webhook(&mock.host(), signed("/status", &body)).unwrap();
        assert_eq!(outcome.response.status, 204, "{status}");
        assert!(outcome.events.is_empty(), "{status}");
    }
}

#[test]
fn a_status_callback_without_a_status_is_a_bad_request() {
    let mock = host();
    let body = STATUS_SENT
        .replace("MessageStatus=sent&", "")
        .replace("SmsStatus=sent&", "");
    let err = Sms::handle_webhook(&mock.host(), signed("/status", &body)).unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(err.message().contains("MessageStatus"), "{err}");
}
