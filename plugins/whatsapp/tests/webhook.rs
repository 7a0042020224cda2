//! The webhook with Meta's documented WhatsApp payloads (see fixtures/README.md).

use omni_plugin_sdk::LogLevel;
use omni_plugin_sdk::crypto::hmac_sha256_hex;
use omni_plugin_sdk::prelude::*;
use omni_whatsapp::{APP_SECRET, VERIFY_TOKEN, WhatsApp};
use serde_json::json;

const SECRET: &str = "test-app-secret";
const OUTBOUND_ID: &str = "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA";

fn mock() -> testing::MockHost {
    testing::MockHost::new()
        .with_secret(APP_SECRET, SECRET)
        .with_secret(VERIFY_TOKEN, "test-verify-token")
        .with_config("phone_number_id", json!("106540352242922"))
}

fn signed(body: &str) -> Request {
    let signature = format!("sha256={}", hmac_sha256_hex(SECRET.as_bytes(), body.as_bytes()));
    Request::post("/webhook", body)
        .with_header("content-type", "application/json")
        .with_header("x-hub-signature-256", &signature)
}

fn events(mock: &testing::MockHost, body: &str) -> Vec<Event> {
    let outcome = WhatsApp::handle_webhook(&mock.host(), signed(body)).unwrap();
    assert_eq!(outcome.response.status, 200);
    outcome.events
}

fn only_message(events: &[Event]) -> &InboundMessage {
    match events {
        [Event::MessageReceived(m)] => m,
        other => panic!("expected one message, got {other:?}"),
    }
}

fn sheena() -> Identity {
    Identity::phone("+16505551234").verified()
}

#[test]
fn verification_echoes_the_challenge() {
    let mock = mock();
    let request =
        Request::get("/webhook?hub.mode=subscribe&hub.verify_token=test-verify-token&hub.challenge=1158201444");
    let outcome = WhatsApp::handle_webhook(&mock.host(), request).unwrap();
    assert_eq!(outcome.response.status, 200);
    assert_eq!(outcome.response.body, b"1158201444");
    assert_eq!(
        outcome.response.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(outcome.events.is_empty());
}

#[test]
fn verification_with_a_wrong_token_or_mode_is_forbidden() {
    let mock = mock();
    for query in [
        "hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1",
        "hub.mode=unsubscribe&hub.verify_token=test-verify-token&hub.challenge=1",
        "hub.challenge=1",
    ] {
        let err = WhatsApp::handle_webhook(&mock.host(), Request::get(&format!("/webhook?{query}"))).unwrap_err();
        assert_eq!(err.status(), 403, "{query}");
    }
    let no_challenge = Request::get("/webhook?hub.mode=subscribe&hub.verify_token=test-verify-token");
    assert_eq!(
        WhatsApp::handle_webhook(&mock.host(), no_challenge)
            .unwrap_err()
            .status(),
        400
    );
}

#[test]
fn missing_secrets_are_internal_errors_naming_the_secret() {
    let mock = testing::MockHost::new();
    let err = WhatsApp::handle_webhook(&mock.host(), Request::get("/webhook?hub.mode=subscribe")).unwrap_err();
    assert_eq!(err.status(), 500);
    assert!(err.message().contains("verify_token"), "{err}");
    let err = WhatsApp::handle_webhook(&mock.host(), signed(include_str!("../fixtures/text.json"))).unwrap_err();
    assert_eq!(err.status(), 500);
    assert!(err.message().contains("app_secret"), "{err}");
}

#[test]
fn a_text_message_becomes_an_inbound_message() {
    let mock = mock();
    let events = events(&mock, include_str!("../fixtures/text.json"));
    let expected = InboundMessage::new(
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
        sheena(),
        "Does it come in another color?",
    )
    .with_display_name("Sheena Nelson")
    .with_sent_at(1_749_416_383_000);
    assert_eq!(only_message(&events), &expected);
}

#[test]
fn an_image_becomes_attachment_metadata_with_its_caption() {
    let mock = mock();
    let events = events(&mock, include_str!("../fixtures/image.json"));
    let m = only_message(&events);
    assert_eq!(
        m.external_id,
        "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzRUIwQzc2QkQ5QjQ1MEE5NDlBMQA="
    );
    assert_eq!(m.text, "CAPTION");
    assert_eq!(
        m.attachments,
        vec![Attachment {
            name: None,
            content_type: "image/jpeg".into(),
            size: None,
            url: Some("whatsapp-media:1013859600285441".into()),
        }]
    );
    assert_eq!(m.sent_at, Some(1_749_416_461_000));
}

#[test]
fn interactive_replies_carry_the_chosen_title() {
    let mock = mock();
    let events1 = events(&mock, include_str!("../fixtures/interactive_button_reply.json"));
    let m = only_message(&events1);
    assert_eq!(m.text, "button-text");
    assert_eq!(m.sender, sheena());
    assert_eq!(m.reply_to.as_deref(), Some(OUTBOUND_ID));

    let events2 = events(&mock, include_str!("../fixtures/interactive_list_reply.json"));
    let m = only_message(&events2);
    assert_eq!(m.text, "list_reply_title");
    assert_eq!(m.reply_to, None);

    let events3 = events(&mock, include_str!("../fixtures/button_quick_reply.json"));
    let m = only_message(&events3);
    assert_eq!(m.text, "No");
    assert_eq!(m.reply_to.as_deref(), Some(OUTBOUND_ID));
    assert_eq!(m.sent_at, Some(1_669_233_778_000));
}

#[test]
fn statuses_become_delivery_statuses_of_the_sent_message() {
    let mock = mock();
    let cases = [
        (
            include_str!("../fixtures/status_sent.json"),
            DeliveryState::Sent,
            1_750_263_773_000,
            None,
        ),
        (
            include_str!("../fixtures/status_delivered.json"),
            DeliveryState::Delivered,
            1_750_263_775_000,
            None,
        ),
        (
            include_str!("../fixtures/status_read.json"),
            DeliveryState::Read,
            1_750_263_790_000,
            None,
        ),
        (
            include_str!("../fixtures/status_failed.json"),
            DeliveryState::Failed,
            1_750_263_801_000,
            Some("131026: Message undeliverable (Message Undeliverable.)".to_owned()),
        ),
    ];
    for (body, state, at, error) in cases {
        let expected = DeliveryStatus {
            external_id: OUTBOUND_ID.into(),
            state,
            error,
            at: Some(at),
        };
        assert_eq!(events(&mock, body), vec![Event::DeliveryStatus(expected)]);
    }
}

#[test]
fn forged_or_missing_signatures_are_refused_without_events() {
    let mock = mock();
    let body = include_str!("../fixtures/text.json");
    let forged = format!("sha256={}", hmac_sha256_hex(b"guess", body.as_bytes()));
    let request = Request::post("/webhook", body)
        .with_header("content-type", "application/json")
        .with_header("x-hub-signature-256", &forged);
    let err = WhatsApp::handle_webhook(&mock.host(), request).unwrap_err();
    assert_eq!(err.status(), 401);

    let unsigned = Request::post("/webhook", body).with_header("content-type", "application/json");
    assert_eq!(
        WhatsApp::handle_webhook(&mock.host(), unsigned).unwrap_err().status(),
        401
    );

    // A signature over another body does not carry over.
    let mut tampered = signed(body);
    tampered.body = body.replace("another color", "a refund").into_bytes();
    assert_eq!(
        WhatsApp::handle_webhook(&mock.host(), tampered).unwrap_err().status(),
        401
    );

    let warnings = mock
        .logs()
        .into_iter()
        .filter(|(level, _)| *level == LogLevel::Warn)
        .count();
    assert_eq!(warnings, 3);
    assert!(mock.kv().is_empty(), "a refused webhook changed state");
}

#[test]
fn malformed_bodies_are_bad_requests() {
    let mock = mock();
    for body in [
        "{\"object\": ",
        "{\"entry\": []}",
        "{\"object\": \"whatsapp_business_account\"}",
        "{\"object\": \"whatsapp_business_account\", \"entry\": [{\"changes\": [{\"field\": \"messages\", \"value\": {\"messages\": [{\"type\": \"text\"}]}}]}]}",
    ] {
        let err = WhatsApp::handle_webhook(&mock.host(), signed(body)).unwrap_err();
        assert_eq!(err.status(), 400, "{body}");
    }
    let body = include_str!("../fixtures/text.json");
    let mut wrong_type = signed(body);
    wrong_type.headers.retain(|h| h.name != "content-type");
    let wrong_type = wrong_type.with_header("content-type", "text/plain");
    assert_eq!(
        WhatsApp::handle_webhook(&mock.host(), wrong_type).unwrap_err().status(),
        415
    );
}

#[test]
fn unknown_messages_changes_and_objects_are_accepted_and_ignored() {
    let mock = mock();
    assert!(events(&mock, include_str!("../fixtures/unknown.json")).is_empty());
    assert!(events(&mock, include_str!("../fixtures/template_status_update.json")).is_empty());
    assert!(events(&mock, r#"{"object":"page","entry":[{"id":"1","messaging":[]}]}"#).is_empty());
    let debug_lines = mock
        .logs()
        .into_iter()
        .filter(|(level, _)| *level == LogLevel::Debug)
        .count();
    assert_eq!(debug_lines, 3);
}

#[test]
fn a_retried_notification_yields_the_same_external_ids() {
    let mock = mock();
    let body = include_str!("../fixtures/text.json");
    assert_eq!(events(&mock, body), events(&mock, body));
}

#[test]
fn changes_about_another_business_number_are_ignored() {
    let mock = mock().with_config("phone_number_id", json!("999999999"));
    assert!(events(&mock, include_str!("../fixtures/text.json")).is_empty());
}

#[test]
fn one_notification_with_many_entries_yields_every_event() {
    let mock = mock();
    let mut text: serde_json::Value = serde_json::from_str(include_str!("../fixtures/text.json")).unwrap();
    let image: serde_json::Value = serde_json::from_str(include_str!("../fixtures/image.json")).unwrap();
    let read: serde_json::Value = serde_json::from_str(include_str!("../fixtures/status_read.json")).unwrap();
    // A second change in the first entry, and a second entry.
    let status_change = read["entry"][0]["changes"][0].clone();
    text["entry"][0]["changes"].as_array_mut().unwrap().push(status_change);
    text["entry"].as_array_mut().unwrap().push(image["entry"][0].clone());
    let events = events(&mock, &text.to_string());
    let kinds: Vec<String> = events
        .iter()
        .map(|e| match e {
            Event::MessageReceived(m) => format!("message {}", m.text),
            Event::DeliveryStatus(s) => format!("status {:?}", s.state),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "message Does it come in another color?",
            "status Read",
            "message CAPTION"
        ]
    );
}

#[test]
fn inbound_messages_record_the_messaging_window() {
    let mock = mock();
    events(&mock, include_str!("../fixtures/image.json"));
    events(&mock, include_str!("../fixtures/text.json"));
    // The text (1749416383) is older than the image (1749416461): the window keeps the latest.
    assert_eq!(
        mock.kv().get("window/16505551234").map(Vec::as_slice),
        Some(&b"1749416461"[..])
    );
    // Statuses are not messages from the person.
    let mock = self::mock();
    events(&mock, include_str!("../fixtures/status_read.json"));
    assert!(mock.kv().is_empty());
}
