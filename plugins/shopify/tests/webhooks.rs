//! Shopify's signed webhooks, with the payloads in `fixtures/`.

use omni_plugin_sdk::LogLevel;
use omni_plugin_sdk::crypto;
use omni_plugin_sdk::prelude::*;
use omni_shopify::Shopify;
use serde_json::{Value, json};

const SECRET: &str = "test-client-secret";
const CHECKOUT: &str = include_str!("../fixtures/checkouts-create.json");
const ORDER: &str = include_str!("../fixtures/orders-create.json");

fn host() -> testing::MockHost {
    testing::MockHost::new()
        .with_config("shop_domain", json!("acme.myshopify.com"))
        .with_secret("webhook_secret", SECRET)
        .with_secret("access_token", "shpat_test")
}

/// The request as Shopify sends it: raw body, base64 HMAC-SHA256 under the client secret.
fn signed_with(secret: &str, topic: &str, body: &str) -> Request {
    let hmac = crypto::base64(&crypto::hmac_sha256(secret.as_bytes(), body.as_bytes()));
    Request::post("/webhooks", body)
        .with_header("Content-Type", "application/json")
        .with_header("X-Shopify-Topic", topic)
        .with_header("X-Shopify-Hmac-Sha256", &hmac)
        .with_header("X-Shopify-Shop-Domain", "acme.myshopify.com")
        .with_header("X-Shopify-API-Version", "2024-10")
        .with_header("X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
}

fn signed(topic: &str, body: &str) -> Request {
    signed_with(SECRET, topic, body)
}

fn receive(mock: &testing::MockHost, request: Request) -> Result<WebhookOutcome, PluginError> {
    Shopify::handle_webhook(&mock.host(), request)
}

fn only_event(outcome: &WebhookOutcome) -> &IntegrationEvent {
    match &outcome.events[..] {
        [Event::Integration(event)] => event,
        other => panic!("expected one integration event, got {other:?}"),
    }
}

fn edited(json: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut value: Value = serde_json::from_str(json).unwrap();
    edit(&mut value);
    value.to_string()
}

#[test]
fn an_open_checkout_becomes_an_abandoned_checkout_event() {
    let mock = host();
    let outcome = receive(&mock, signed("checkouts/create", CHECKOUT)).unwrap();
    assert_eq!(outcome.response, Response::ok());
    assert!(outcome.response.body.is_empty());

    let mut expected = IntegrationEvent::new(
        "checkout:4b2a9c1e8d7f6a5b4c3d2e1f0a9b8c7d",
        Identity::email("ann.lee@example.com"),
        "checkout.abandoned",
        "Abandoned checkout: 2 items, 59.90 EUR",
    );
    expected.claims = vec![Identity::phone("+4915112345678")];
    expected.data = json!({
        "token": "4b2a9c1e8d7f6a5b4c3d2e1f0a9b8c7d",
        "abandoned_checkout_url": "https://acme.myshopify.com/72312345678/checkouts/ac/Z2NwLWV1cm9wZS13ZXN0MzowMUo5WkszNEY3SjBNMlBRNlFIMFhKNUZURQ/recover?key=5e1f2a3b4c5d6e7f",
        "total_price": "59.90",
        "currency": "EUR",
        "line_items": [
            { "title": "Organic Cotton T-Shirt", "quantity": 1, "price": "24.95" },
            { "title": "Canvas Tote Bag", "quantity": 1, "price": "34.95" }
        ]
    });
    // updated_at 2024-10-01T11:44:03+02:00
    expected.at = Some(1_727_775_843_000);
    assert_eq!(only_event(&outcome), &expected);
    assert!(!only_event(&outcome).subject.verified);
    // Nothing is fetched to answer a webhook.
    assert!(mock.requests().is_empty());
}

#[test]
fn every_update_of_a_checkout_has_the_same_external_id() {
    let mock = host();
    let first = receive(&mock, signed("checkouts/create", CHECKOUT)).unwrap();
    let update = edited(CHECKOUT, |c| {
        c["line_items"][0]["quantity"] = json!(3);
        c["total_price"] = json!("109.80");
        c["updated_at"] = json!("2024-10-01T11:50:00+02:00");
    });
    let second = receive(&mock, signed("checkouts/update", &update)).unwrap();
    assert_eq!(only_event(&first).external_id, only_event(&second).external_id);
    assert_eq!(only_event(&second).summary, "Abandoned checkout: 4 items, 109.80 EUR");
}

#[test]
fn a_completed_checkout_is_no_event() {
    let mock = host();
    let completed = edited(CHECKOUT, |c| c["completed_at"] = json!("2024-10-01T12:05:43+02:00"));
    let outcome = receive(&mock, signed("checkouts/update", &completed)).unwrap();
    assert_eq!(outcome.response, Response::ok());
    assert!(outcome.events.is_empty());
}

#[test]
fn a_checkout_without_a_contact_is_no_event_and_a_phone_alone_is_enough() {
    let mock = host();
    let anonymous = edited(CHECKOUT, |c| {
        c["email"] = Value::Null;
        c["phone"] = Value::Null;
        c["customer"] = Value::Null;
    });
    assert!(
        receive(&mock, signed("checkouts/create", &anonymous))
            .unwrap()
            .events
            .is_empty()
    );

    let phone_only = edited(CHECKOUT, |c| {
        c["email"] = Value::Null;
        c["customer"] = Value::Null;
        c["line_items"] = json!([{ "title": "Canvas Tote Bag", "quantity": 1, "price": "34.95" }]);
        c["total_price"] = json!("34.95");
    });
    let outcome = receive(&mock, signed("checkouts/create", &phone_only)).unwrap();
    let event = only_event(&outcome);
    assert_eq!(event.subject, Identity::phone("+4915112345678"));
    assert!(event.claims.is_empty());
    assert_eq!(event.summary, "Abandoned checkout: 1 item, 34.95 EUR");
}

#[test]
fn a_new_order_becomes_an_order_created_event() {
    let mock = host();
    let outcome = receive(&mock, signed("orders/create", ORDER)).unwrap();
    assert_eq!(outcome.response, Response::ok());
    let mut expected = IntegrationEvent::new(
        "order:820982911946154508",
        Identity::email("ann.lee@example.com"),
        "order.created",
        "Order #1001: 59.90 EUR",
    );
    // The order's own phone is null; the customer's is used.
    expected.claims = vec![Identity::phone("+4915112345678")];
    expected.data = json!({
        "id": "820982911946154508",
        "name": "#1001",
        "total_price": "59.90",
        "currency": "EUR",
        "financial_status": "paid",
        "fulfillment_status": null,
        "order_status_url": "https://acme.myshopify.com/72312345678/orders/9f8e7d6c5b4a39281706f5e4d3c2b1a0/authenticate?key=a1b2c3d4e5f6",
        "checkout_token": "4b2a9c1e8d7f6a5b4c3d2e1f0a9b8c7d",
        "line_items": [
            { "title": "Organic Cotton T-Shirt", "quantity": 1, "price": "24.95" },
            { "title": "Canvas Tote Bag", "quantity": 1, "price": "34.95" }
        ]
    });
    // created_at 2024-10-01T12:05:44+02:00
    expected.at = Some(1_727_777_144_000);
    assert_eq!(only_event(&outcome), &expected);
}

#[test]
fn other_topics_are_acknowledged_without_events() {
    let mock = host();
    for (topic, body) in [
        ("products/update", r#"{"id":632910392,"title":"IPod Nano - 8GB"}"#),
        ("orders/paid", ORDER),
        ("app/uninstalled", r#"{"id":548380009,"name":"Acme"}"#),
    ] {
        let outcome = receive(&mock, signed(topic, body)).unwrap();
        assert_eq!(outcome.response, Response::ok(), "{topic}");
        assert!(outcome.events.is_empty(), "{topic}");
    }
}

#[test]
fn a_forged_or_missing_signature_is_refused_before_anything_is_read() {
    let mock = host();
    let forged = signed_with("someone-elses-secret", "checkouts/create", CHECKOUT);
    assert_eq!(receive(&mock, forged).unwrap_err().status(), 401);
    assert!(
        mock.logs()
            .iter()
            .any(|(level, line)| *level == LogLevel::Warn && line.contains("webhook_secret"))
    );

    // A body changed after signing.
    let mut tampered = signed("checkouts/create", CHECKOUT);
    tampered.body = CHECKOUT.replace("59.90", "5.99").into_bytes();
    assert_eq!(receive(&mock, tampered).unwrap_err().status(), 401);

    let unsigned = Request::post("/webhooks", CHECKOUT).with_header("X-Shopify-Topic", "checkouts/create");
    let error = receive(&mock, unsigned).unwrap_err();
    assert_eq!(error.status(), 401);
    assert!(error.message().contains("missing"), "{error:?}");

    // Even malformed JSON is refused for its signature first.
    let forged_garbage = signed_with("someone-elses-secret", "checkouts/create", "{not json");
    assert_eq!(receive(&mock, forged_garbage).unwrap_err().status(), 401);
}

#[test]
fn without_the_secret_every_webhook_fails_loudly() {
    let mock = testing::MockHost::new().with_config("shop_domain", json!("acme.myshopify.com"));
    let error = receive(&mock, signed("checkouts/create", CHECKOUT)).unwrap_err();
    assert_eq!(error.status(), 500);
    assert!(error.message().contains("webhook_secret"), "{error:?}");
}

#[test]
fn malformed_json_with_a_valid_signature_is_a_bad_request() {
    let mock = host();
    for body in ["{not json", "[1,2]", ""] {
        assert_eq!(
            receive(&mock, signed("checkouts/create", body)).unwrap_err().status(),
            400,
            "{body:?}"
        );
    }
    let no_topic = {
        let mut request = signed("checkouts/create", CHECKOUT);
        request.headers.retain(|h| h.name != "x-shopify-topic");
        request
    };
    assert_eq!(receive(&mock, no_topic).unwrap_err().status(), 400);
}

#[test]
fn odd_but_valid_payloads_do_not_fail() {
    let mock = host();
    for body in [
        r#"{"token": 5, "email": ["x"], "line_items": "none"}"#,
        r#"{"token": "t", "email": "a@example.com", "line_items": [null, 3, {"quantity": -1}], "total_price": null}"#,
        r#"{}"#,
    ] {
        let outcome = receive(&mock, signed("checkouts/update", body)).unwrap();
        assert_eq!(outcome.response.status, 200, "{body}");
    }
    let outcome = receive(
        &mock,
        signed(
            "checkouts/update",
            r#"{"token": "t", "email": "a@example.com", "line_items": [null, {"quantity": -1}]}"#,
        ),
    )
    .unwrap();
    assert_eq!(only_event(&outcome).summary, "Abandoned checkout: 0 items");
    let outcome = receive(
        &mock,
        signed("orders/create", r#"{"id": "x", "email": "a@example.com"}"#),
    )
    .unwrap();
    assert!(outcome.events.is_empty());
}

#[test]
fn a_webhook_of_another_shop_is_forbidden() {
    let mock = host();
    let mut request = signed("orders/create", ORDER);
    request.headers.retain(|h| h.name != "x-shopify-shop-domain");
    let request = request.with_header("X-Shopify-Shop-Domain", "other-shop.myshopify.com");
    assert_eq!(receive(&mock, request).unwrap_err().status(), 403);
}
