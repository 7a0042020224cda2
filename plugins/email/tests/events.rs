//! Delivery webhooks: Postmark, SendGrid's Event Webhook and Mailgun.

mod support;

use omni_email::Email;
use omni_plugin_sdk::prelude::*;
use serde_json::{Value, json};
use support::*;

const POSTMARK_DELIVERY: &str = include_str!("../fixtures/postmark-delivery.json");
const POSTMARK_BOUNCE: &str = include_str!("../fixtures/postmark-bounce.json");
const POSTMARK_OPEN: &str = include_str!("../fixtures/postmark-open.json");
const POSTMARK_SPAM: &str = include_str!("../fixtures/postmark-spam-complaint.json");
const POSTMARK_OK: &str = include_str!("../fixtures/postmark-send-response.json");
const SENDGRID_EVENTS: &str = include_str!("../fixtures/sendgrid-events.json");
const MAILGUN_DELIVERED: &str = include_str!("../fixtures/mailgun-event-delivered.json");
const MAILGUN_FAILED: &str = include_str!("../fixtures/mailgun-event-failed.json");

const OUR_ID: &str = "0190c9e8-9999-7000-8000-00000000abcd@acme.example";
const POSTMARK_ID: &str = "883953f4-6105-42a2-a16a-77a8eac79483";

/// A host that sent one reply through Postmark, answered with `POSTMARK_ID`.
fn host_after_postmark_send() -> testing::MockHost {
    let mut answer: Value = serde_json::from_str(POSTMARK_OK).unwrap();
    answer["MessageID"] = json!(POSTMARK_ID);
    let mock = basic_host()
        .with_config("provider", json!("postmark"))
        .with_config("from", json!("support@acme.example"))
        .with_secret("api_key", "test-api-key")
        .respond(IncomingResponse::json(200, &answer));
    let message = OutboundMessage::text("0190c9e8-9999-7000-8000-00000000abcd", "conv-1", "Hi");
    let receipt = Email::send(&mock.host(), message, Identity::email("john@example.com")).unwrap();
    assert_eq!(receipt.external_id, OUR_ID);
    mock
}

fn events(mock: &testing::MockHost, body: &str) -> WebhookOutcome {
    call(mock, post("/events", "application/json", body)).unwrap()
}

#[test]
fn postmark_delivery_maps_to_the_receipt_id() {
    let mock = host_after_postmark_send();
    let outcome = events(&mock, POSTMARK_DELIVERY);
    assert_eq!(outcome.response.status, 200);
    assert_eq!(
        statuses(&outcome),
        vec![DeliveryStatus {
            external_id: OUR_ID.into(),
            state: DeliveryState::Delivered,
            error: None,
            at: Some(1_572_971_634_907),
        }]
    );
}

#[test]
fn postmark_bounce_open_and_spam_complaint() {
    let mock = host_after_postmark_send();
    assert_eq!(
        statuses(&events(&mock, POSTMARK_BOUNCE)),
        vec![DeliveryStatus {
            external_id: OUR_ID.into(),
            state: DeliveryState::Failed,
            error: Some(
                "HardBounce: The server was unable to deliver your message (ex: unknown user, mailbox not found). \
                 (Test bounce details)"
                    .into()
            ),
            at: Some(1_572_971_634_907),
        }]
    );
    assert_eq!(
        statuses(&events(&mock, POSTMARK_OPEN)),
        vec![DeliveryStatus {
            external_id: OUR_ID.into(),
            state: DeliveryState::Read,
            error: None,
            at: Some(1_572_971_634_907),
        }]
    );
    // The complaint in the example is about a message we did not send...
    assert!(events(&mock, POSTMARK_SPAM).events.is_empty());
    // ...and about one we did.
    let mut spam: Value = serde_json::from_str(POSTMARK_SPAM).unwrap();
    spam["MessageID"] = json!(POSTMARK_ID);
    assert_eq!(
        statuses(&events(&mock, &spam.to_string())),
        vec![DeliveryStatus {
            external_id: OUR_ID.into(),
            state: DeliveryState::Failed,
            error: Some("SpamComplaint: the recipient marked the message as spam".into()),
            at: Some(1_572_971_634_907),
        }]
    );
}

#[test]
fn postmark_metadata_maps_without_kv() {
    let mut delivery: Value = serde_json::from_str(POSTMARK_DELIVERY).unwrap();
    delivery["Metadata"] = json!({"omni_message_id": "other-1@acme.example"});
    let outcome = events(&basic_host(), &delivery.to_string());
    assert_eq!(statuses(&outcome)[0].external_id, "other-1@acme.example");
}

#[test]
fn statuses_of_unknown_messages_and_unknown_types_are_ignored() {
    let mock = basic_host();
    let outcome = events(&mock, POSTMARK_DELIVERY);
    assert_eq!(outcome.response.status, 200);
    assert!(outcome.events.is_empty());
    let change = json!({"RecordType": "SubscriptionChange", "MessageID": POSTMARK_ID, "SuppressSending": true});
    assert!(events(&mock, &change.to_string()).events.is_empty());
    let unknown = json!({"hello": "world"});
    let outcome = events(&mock, &unknown.to_string());
    assert_eq!(outcome.response.status, 200);
    assert!(outcome.events.is_empty());
}

#[test]
fn sendgrid_event_batch() {
    let mock = basic_host();
    mock.host()
        .kv_set_json("sent/sendgrid/Y3rcDBQARMGsjq5jlgWhWw", OUR_ID)
        .unwrap();
    let outcome = events(&mock, SENDGRID_EVENTS);
    assert_eq!(
        statuses(&outcome),
        vec![
            // delivered and then opened: the furthest state stands.
            DeliveryStatus {
                external_id: OUR_ID.into(),
                state: DeliveryState::Read,
                error: None,
                at: Some(1_513_299_580_000),
            },
            // Not ours (no mapping, no custom arg): the bounce is ignored.
            // Dropped, mapped by the custom argument.
            DeliveryStatus {
                external_id: "0190c9e8-3333-7000-8000-000000000003@acme.example".into(),
                state: DeliveryState::Failed,
                error: Some("dropped: Bounced Address".into()),
                at: Some(1_513_299_572_000),
            },
        ]
    );
}

#[test]
fn sendgrid_bounce_reason() {
    let mock = basic_host();
    mock.host()
        .kv_set_json("sent/sendgrid/Zx9aB8cD7eF6gH5iJ4kL3m", OUR_ID)
        .unwrap();
    let all: Vec<Value> = serde_json::from_str(SENDGRID_EVENTS).unwrap();
    let bounce = Value::Array(all.into_iter().filter(|e| e["event"] == "bounce").collect());
    assert_eq!(
        statuses(&events(&mock, &bounce.to_string())),
        vec![DeliveryStatus {
            external_id: OUR_ID.into(),
            state: DeliveryState::Failed,
            error: Some("bounce: 5.0.0 500 unknown recipient".into()),
            at: Some(1_513_299_571_000),
        }]
    );
}

#[test]
fn mailgun_webhooks_with_signatures() {
    let mock = mailgun_host();
    mock.host()
        .kv_set_json("sent/mailgun/20240305101500.1.5E6F7A8B9C0D1E2F@mg.acme.example", OUR_ID)
        .unwrap();
    let request = |body: &str| Request::post_json("/events", &serde_json::from_str(body).unwrap());
    let outcome = call(&mock, request(MAILGUN_DELIVERED)).unwrap();
    assert_eq!(
        statuses(&outcome),
        vec![DeliveryStatus {
            external_id: OUR_ID.into(),
            state: DeliveryState::Delivered,
            error: None,
            at: Some(1_521_472_262_908),
        }]
    );
    let outcome = call(&mock, request(MAILGUN_FAILED)).unwrap();
    assert_eq!(
        statuses(&outcome),
        vec![DeliveryStatus {
            external_id: "0190c9e8-4444-7000-8000-000000000004@acme.example".into(),
            state: DeliveryState::Failed,
            error: Some("failed: Not delivering to previously bounced address".into()),
            at: Some(1_521_233_195_375),
        }]
    );
}

#[test]
fn forged_or_missing_signatures_are_refused() {
    let mock = mailgun_host();
    let mut forged: Value = serde_json::from_str(MAILGUN_DELIVERED).unwrap();
    forged["signature"]["signature"] = json!("0".repeat(64));
    let err = call(&mock, Request::post_json("/events", &forged)).unwrap_err();
    assert_eq!(err.status(), 401);
    let mut unsigned: Value = serde_json::from_str(MAILGUN_DELIVERED).unwrap();
    unsigned.as_object_mut().unwrap().remove("signature");
    assert_eq!(
        call(&mock, Request::post_json("/events", &unsigned))
            .unwrap_err()
            .status(),
        401
    );
    // Postmark and SendGrid bodies are unsigned: refused in mailgun mode.
    let postmark: Value = serde_json::from_str(POSTMARK_DELIVERY).unwrap();
    assert_eq!(
        call(&mock, Request::post_json("/events", &postmark))
            .unwrap_err()
            .status(),
        401
    );

    // Basic mode: no credentials, wrong credentials.
    let basic_mode = host_after_postmark_send();
    let missing = Request::post("/events", POSTMARK_DELIVERY).with_header("content-type", "application/json");
    let outcome = call(&basic_mode, missing).unwrap();
    assert_eq!(outcome.response.status, 401);
    assert!(outcome.events.is_empty());
    let wrong = Request::post("/events", POSTMARK_DELIVERY)
        .with_header("content-type", "application/json")
        .with_header("authorization", &basic("omni", "nope"));
    let outcome = call(&basic_mode, wrong).unwrap();
    assert_eq!(outcome.response.status, 401);
    assert!(outcome.events.is_empty());
}

#[test]
fn malformed_event_bodies() {
    let mock = basic_host();
    assert_eq!(
        call(&mock, post("/events", "application/json", "[{\"event\":"))
            .unwrap_err()
            .status(),
        400
    );
    assert_eq!(
        call(&mock, post("/events", "application/json", "[1, 2]"))
            .unwrap_err()
            .status(),
        400
    );
    assert_eq!(
        call(
            &mock,
            post("/events", "application/json", "{\"RecordType\": \"Delivery\"}")
        )
        .unwrap_err()
        .status(),
        400
    );
    assert_eq!(
        call(&mock, post("/events", "text/plain", POSTMARK_DELIVERY))
            .unwrap_err()
            .status(),
        415
    );
}
