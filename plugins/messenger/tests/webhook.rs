//! The webhook with Meta's documented Messenger and Instagram payloads (see fixtures/README.md).

use omni_messenger::{APP_SECRET, Messenger, VERIFY_TOKEN};
use omni_plugin_sdk::LogLevel;
use omni_plugin_sdk::crypto::hmac_sha256_hex;
use omni_plugin_sdk::prelude::*;
use serde_json::json;

const SECRET: &str = "test-app-secret";

fn mock() -> testing::MockHost {
    testing::MockHost::new()
        .with_secret(APP_SECRET, SECRET)
        .with_secret(VERIFY_TOKEN, "test-verify-token")
}

fn signed(body: &str) -> Request {
    let signature = format!("sha256={}", hmac_sha256_hex(SECRET.as_bytes(), body.as_bytes()));
    Request::post("/webhook", body)
        .with_header("content-type", "application/json")
        .with_header("x-hub-signature-256", &signature)
}

fn events(mock: &testing::MockHost, body: &str) -> Vec<Event> {
    let outcome = Messenger::handle_webhook(&mock.host(), signed(body)).unwrap();
    assert_eq!(outcome.response.status, 200);
    outcome.events
}

fn only_message(events: &[Event]) -> &InboundMessage {
    match events {
        [Event::MessageReceived(m)] => m,
        other => panic!("expected one message, got {other:?}"),
    }
}

fn statuses(events: &[Event]) -> Vec<(String, DeliveryState, Option<i64>)> {
    events
        .iter()
        .map(|e| match e {
            Event::DeliveryStatus(s) => (s.external_id.clone(), s.state, s.at),
            other => panic!("expected a status, got {other:?}"),
        })
        .collect()
}

fn remember(mock: &testing::MockHost, user: &str, sent: serde_json::Value) {
    mock.host().kv_set_json(&format!("sent/{user}"), &sent).unwrap();
}

#[test]
fn verification_echoes_the_challenge() {
    let mock = mock();
    let request =
        Request::get("/webhook?hub.mode=subscribe&hub.verify_token=test-verify-token&hub.challenge=CHALLENGE_ACCEPTED");
    let outcome = Messenger::handle_webhook(&mock.host(), request).unwrap();
    assert_eq!(outcome.response.status, 200);
    assert_eq!(outcome.response.body, b"CHALLENGE_ACCEPTED");
    assert_eq!(
        outcome.response.header("content-type"),
        Some("text/plain; charset=utf-8")
    );

    let wrong = Request::get("/webhook?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1");
    assert_eq!(
        Messenger::handle_webhook(&mock.host(), wrong).unwrap_err().status(),
        403
    );
    let no_secret = testing::MockHost::new();
    let err = Messenger::handle_webhook(&no_secret.host(), Request::get("/webhook?hub.mode=subscribe")).unwrap_err();
    assert_eq!(err.status(), 500);
    assert!(err.message().contains("verify_token"));
}

#[test]
fn a_text_message_becomes_an_inbound_message() {
    let mock = mock();
    let events = events(&mock, include_str!("../fixtures/message_text.json"));
    let expected = InboundMessage::new(
        "mid.1457764197618:41d102a3e1ae206a38",
        Identity::channel_user("<PSID>").verified(),
        "hello, world!",
    )
    .with_sent_at(1_458_692_752_478);
    assert_eq!(only_message(&events), &expected);
    // The person's last message time opens the messaging window.
    assert_eq!(
        mock.kv().get("window/<PSID>").map(Vec::as_slice),
        Some(&b"1458692752478"[..])
    );
}

#[test]
fn attachments_and_replies_are_kept() {
    let mock = mock();
    let events1 = events(&mock, include_str!("../fixtures/message_attachment.json"));
    let m = only_message(&events1);
    assert_eq!(m.external_id, "mid.$cAAJdkrCd2ORnva8ErFhjGm0X_Q_c");
    assert_eq!(m.text, "");
    assert_eq!(
        m.attachments,
        vec![Attachment {
            name: None,
            content_type: "image/*".into(),
            size: None,
            url: Some("<ATTACHMENT_URL>".into()),
        }]
    );
    assert_eq!(m.sent_at, Some(1_518_479_195_308));

    let events2 = events(&mock, include_str!("../fixtures/message_reply.json"));
    let m = only_message(&events2);
    assert_eq!(m.reply_to.as_deref(), Some("m_1fTq8oLumEyIp3Q2MR-aY7IfLZDamVrALniheU"));
}

#[test]
fn a_postback_becomes_a_message_with_the_button_title() {
    let mock = mock();
    let events = events(&mock, include_str!("../fixtures/postback.json"));
    let expected = InboundMessage::new(
        "m_MESSAGE-ID",
        Identity::channel_user("<PSID>").verified(),
        "<TITLE_FOR_THE_CTA>",
    )
    // The documented example gives seconds; they are read as such.
    .with_sent_at(1_527_459_824_000);
    assert_eq!(only_message(&events), &expected);
}

#[test]
fn an_instagram_message_uses_the_same_connector() {
    let mock = mock();
    let events = events(&mock, include_str!("../fixtures/instagram_message.json"));
    let expected = InboundMessage::new(
        "<MESSAGE_ID>",
        Identity::channel_user("<IGSID>").verified(),
        "<MESSAGE_CONTENT>",
    )
    .with_sent_at(1_569_262_485_349);
    assert_eq!(only_message(&events), &expected);
}

#[test]
fn echoes_of_the_pages_own_messages_are_ignored() {
    let mock = mock();
    assert!(events(&mock, include_str!("../fixtures/message_echo.json")).is_empty());
    // Flagged as echo even when the sender is not the entry's Page.
    let echo = include_str!("../fixtures/message_echo.json").replace(
        "\"sender\": {\n            \"id\": \"<PAGE_ID>\"",
        "\"sender\": {\n            \"id\": \"<OTHER>\"",
    );
    assert!(echo.contains("<OTHER>"));
    assert!(events(&mock, &echo).is_empty());
}

#[test]
fn a_delivery_receipt_marks_the_named_messages_delivered() {
    let mock = mock();
    let events = events(&mock, include_str!("../fixtures/delivery.json"));
    assert_eq!(
        statuses(&events),
        vec![(
            "mid.1458668856218:ed81099e15d3f4f233".to_owned(),
            DeliveryState::Delivered,
            Some(1_458_668_856_253)
        )]
    );
}

#[test]
fn a_delivery_receipt_without_mids_uses_the_watermark() {
    let mock = mock();
    remember(
        &mock,
        "<PSID>",
        json!([{"mid": "m_a", "at": 1_458_668_856_000i64}, {"mid": "m_b", "at": 1_458_668_857_000i64}]),
    );
    let body = include_str!("../fixtures/delivery.json").replace(
        "\"mids\": [\n              \"mid.1458668856218:ed81099e15d3f4f233\"\n            ],\n",
        "",
    );
    assert!(!body.contains("mids"));
    assert_eq!(
        statuses(&events(&mock, &body)),
        vec![("m_a".to_owned(), DeliveryState::Delivered, Some(1_458_668_856_253))]
    );
}

#[test]
fn a_read_receipt_marks_messages_sent_up_to_the_watermark_read_once() {
    let mock = mock();
    remember(
        &mock,
        "<PSID>",
        json!([
            {"mid": "m_before", "at": 1_458_668_850_000i64},
            {"mid": "m_at", "at": 1_458_668_856_253i64},
            {"mid": "m_after", "at": 1_458_668_900_000i64}
        ]),
    );
    let body = include_str!("../fixtures/read.json");
    assert_eq!(
        statuses(&events(&mock, body)),
        vec![
            ("m_before".to_owned(), DeliveryState::Read, Some(1_458_668_856_253)),
            ("m_at".to_owned(), DeliveryState::Read, Some(1_458_668_856_253)),
        ]
    );
    // Read messages are forgotten; the later one stays for the next receipt.
    assert!(events(&mock, body).is_empty());
    assert_eq!(
        mock.host().kv_get_json::<serde_json::Value>("sent/<PSID>").unwrap(),
        Some(json!([{"mid": "m_after", "at": 1_458_668_900_000i64}]))
    );
}

#[test]
fn an_instagram_read_receipt_names_the_last_message_read() {
    let mock = mock();
    remember(
        &mock,
        "<IGSID>",
        json!([{"mid": "m_older", "at": 1_569_262_400_000i64}, {"mid": "<MESSAGE_ID>", "at": 1_569_262_480_000i64}]),
    );
    assert_eq!(
        statuses(&events(&mock, include_str!("../fixtures/instagram_read.json"))),
        vec![
            ("m_older".to_owned(), DeliveryState::Read, Some(1_569_262_485_349)),
            ("<MESSAGE_ID>".to_owned(), DeliveryState::Read, Some(1_569_262_485_349)),
        ]
    );
}

#[test]
fn forged_or_missing_signatures_are_refused_without_events() {
    let mock = mock();
    let body = include_str!("../fixtures/message_text.json");
    let forged = format!("sha256={}", hmac_sha256_hex(b"guess", body.as_bytes()));
    let request = Request::post("/webhook", body)
        .with_header("content-type", "application/json")
        .with_header("x-hub-signature-256", &forged);
    assert_eq!(
        Messenger::handle_webhook(&mock.host(), request).unwrap_err().status(),
        401
    );
    let unsigned = Request::post("/webhook", body).with_header("content-type", "application/json");
    assert_eq!(
        Messenger::handle_webhook(&mock.host(), unsigned).unwrap_err().status(),
        401
    );
    let sha1 = Request::post("/webhook", body)
        .with_header("content-type", "application/json")
        .with_header("x-hub-signature", "sha1=0000");
    assert_eq!(Messenger::handle_webhook(&mock.host(), sha1).unwrap_err().status(), 401);
    let warnings = mock
        .logs()
        .into_iter()
        .filter(|(level, _)| *level == LogLevel::Warn)
        .count();
    assert_eq!(warnings, 3);
    assert!(mock.kv().is_empty());

    let no_secret = testing::MockHost::new();
    let err = Messenger::handle_webhook(&no_secret.host(), signed(body)).unwrap_err();
    assert_eq!(err.status(), 500);
    assert!(err.message().contains("app_secret"));
}

#[test]
fn malformed_bodies_are_bad_requests() {
    let mock = mock();
    for body in [
        "not json",
        "{\"object\": \"page\"}",
        "{\"entry\": []}",
        "{\"object\": \"page\", \"entry\": [{\"id\": \"1\", \"messaging\": [{\"message\": {\"mid\": \"m\"}}]}]}",
        "{\"object\": \"page\", \"entry\": [{\"id\": \"1\", \"messaging\": [{\"sender\": {\"id\": \"2\"}, \"message\": {\"text\": \"no mid\"}}]}]}",
    ] {
        let err = Messenger::handle_webhook(&mock.host(), signed(body)).unwrap_err();
        assert_eq!(err.status(), 400, "{body}");
    }
}

#[test]
fn unknown_objects_and_event_kinds_are_accepted_and_ignored() {
    let mock = mock();
    assert!(events(&mock, include_str!("../fixtures/optin.json")).is_empty());
    assert!(events(&mock, r#"{"object":"whatsapp_business_account","entry":[]}"#).is_empty());
    assert!(
        events(
            &mock,
            r#"{"object":"page","entry":[{"id":"1","time":1,"changes":[{"field":"feed"}]}]}"#
        )
        .is_empty()
    );
    assert!(mock.kv().is_empty());
}

#[test]
fn a_retried_notification_yields_the_same_external_ids() {
    let mock = mock();
    for body in [
        include_str!("../fixtures/message_text.json"),
        include_str!("../fixtures/postback.json"),
    ] {
        assert_eq!(events(&mock, body), events(&mock, body));
    }
}

#[test]
fn events_of_another_page_are_ignored_when_the_page_is_configured() {
    let mock = mock().with_config("page_id", json!("682498302938465"));
    assert!(events(&mock, include_str!("../fixtures/message_text.json")).is_empty());
    assert_eq!(
        events(&mock, include_str!("../fixtures/message_attachment.json")).len(),
        1
    );
    // Instagram entries carry the Instagram account id, not the Page's.
    assert_eq!(
        events(&mock, include_str!("../fixtures/instagram_message.json")).len(),
        1
    );
}

#[test]
fn one_notification_with_many_entries_and_events_yields_every_event() {
    let mock = mock();
    let mut text: serde_json::Value = serde_json::from_str(include_str!("../fixtures/message_text.json")).unwrap();
    let postback: serde_json::Value = serde_json::from_str(include_str!("../fixtures/postback.json")).unwrap();
    let delivery: serde_json::Value = serde_json::from_str(include_str!("../fixtures/delivery.json")).unwrap();
    text["entry"][0]["messaging"]
        .as_array_mut()
        .unwrap()
        .push(delivery["entry"][0]["messaging"][0].clone());
    text["entry"].as_array_mut().unwrap().push(postback["entry"][0].clone());
    let ids: Vec<String> = events(&mock, &text.to_string())
        .iter()
        .map(|e| match e {
            Event::MessageReceived(m) => m.external_id.clone(),
            Event::DeliveryStatus(s) => format!("delivered {}", s.external_id),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        ids,
        vec![
            "mid.1457764197618:41d102a3e1ae206a38",
            "delivered mid.1458668856218:ed81099e15d3f4f233",
            "m_MESSAGE-ID"
        ]
    );
}
