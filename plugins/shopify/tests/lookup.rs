//! Lookups, links and errors against the Admin API, answered with the
//! documented responses in `fixtures/`.

use omni_plugin_sdk::LogLevel;
use omni_plugin_sdk::prelude::*;
use omni_shopify::Shopify;
use serde_json::{Value, json};

const BASE: &str = "http://127.0.0.1:9/shop";
const SEARCH: &str = include_str!("../fixtures/customers-search.json");
const SEARCH_EMPTY: &str = include_str!("../fixtures/customers-search-empty.json");
const CUSTOMER: &str = include_str!("../fixtures/customer.json");
const ORDERS: &str = include_str!("../fixtures/customer-orders.json");
const ERROR_401: &str = include_str!("../fixtures/error-401.json");
const ERROR_402: &str = include_str!("../fixtures/error-402.json");
const ERROR_403: &str = include_str!("../fixtures/error-403.json");
const ERROR_404: &str = include_str!("../fixtures/error-404.json");
const ERROR_422: &str = include_str!("../fixtures/error-422.json");
const ERROR_429: &str = include_str!("../fixtures/error-429.json");

fn host() -> testing::MockHost {
    testing::MockHost::new()
        .with_config("shop_domain", json!("acme.myshopify.com"))
        .with_config("api_base", json!(BASE))
        .with_secret("access_token", "shpat_test_token")
        .with_secret("webhook_secret", "test-client-secret")
}

fn ok(json: &str) -> IncomingResponse {
    let value: Value = serde_json::from_str(json).unwrap();
    IncomingResponse::json(200, &value)
}

fn status(code: u16, json: &str) -> IncomingResponse {
    let value: Value = serde_json::from_str(json).unwrap();
    IncomingResponse::json(code, &value)
}

fn person(identities: Vec<Identity>, records: &[&str]) -> Person {
    Person {
        id: "per_1".into(),
        display_name: Some("Bob Norman".into()),
        identities,
        records: records.iter().map(|r| r.to_string()).collect(),
    }
}

fn bob() -> Person {
    person(
        vec![
            Identity::email("bob.norman@mail.example.com").verified(),
            Identity::phone("+16136120707"),
        ],
        &[],
    )
}

fn urls(mock: &testing::MockHost) -> Vec<String> {
    mock.requests().into_iter().map(|r| r.url).collect()
}

const SEARCH_BOB: &str =
    "http://127.0.0.1:9/shop/admin/api/2024-10/customers/search.json?query=email%3Abob.norman%40mail.example.com";
const ORDERS_BOB: &str = "http://127.0.0.1:9/shop/admin/api/2024-10/customers/207119551/orders.json?status=any&limit=5";

fn expected_profile() -> Profile {
    Profile {
        record_id: Some("207119551".into()),
        name: Some("Bob Norman".into()),
        lifecycle_stage: Some("disabled".into()),
        url: Some("https://admin.shopify.com/store/acme/customers/207119551".into()),
        orders: vec![
            Order {
                id: "5123456789012".into(),
                name: "#1003".into(),
                status: "cancelled".into(),
                financial_status: Some("voided".into()),
                fulfillment_status: None,
                total: "24.00".into(),
                currency: "USD".into(),
                // 2024-10-01T09:58:41-04:00
                created_at: Some(1_727_791_121_000),
                url: Some(
                    "https://jsmith.myshopify.com/548380009/orders/0f6b1c9a3e2d4c5b8a7f6e5d4c3b2a19/authenticate?key=anothersecret"
                        .into(),
                ),
            },
            Order {
                id: "5123456789001".into(),
                name: "#1002".into(),
                status: "closed".into(),
                financial_status: Some("paid".into()),
                fulfillment_status: Some("fulfilled".into()),
                total: "175.65".into(),
                currency: "USD".into(),
                // 2024-09-15T14:30:05-04:00
                created_at: Some(1_726_425_005_000),
                url: Some(
                    "https://jsmith.myshopify.com/548380009/orders/7d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a/authenticate?key=yetanothersecret"
                        .into(),
                ),
            },
            Order {
                id: "450789469".into(),
                name: "#1001".into(),
                status: "open".into(),
                financial_status: Some("partially_refunded".into()),
                fulfillment_status: None,
                total: "598.94".into(),
                currency: "USD".into(),
                // 2008-01-10T11:00:00-05:00
                created_at: Some(1_199_980_800_000),
                url: Some(
                    "https://jsmith.myshopify.com/548380009/orders/b1946ac92492d2347c6235b4d2611184/authenticate?key=imasecretipod"
                        .into(),
                ),
            },
        ],
        attributes: vec![
            ("orders_count".into(), "1".into()),
            ("total_spent".into(), "199.65 USD".into()),
            ("tags".into(), "Léon, Noël".into()),
        ],
        ..Profile::default()
    }
}

#[test]
fn a_lookup_by_email_shows_the_customer_and_their_orders_newest_first() {
    let mock = host().respond(ok(SEARCH)).respond(ok(ORDERS));
    let profile = Shopify::lookup(&mock.host(), bob()).unwrap().unwrap();
    assert_eq!(profile, expected_profile());

    let requests = mock.requests();
    assert_eq!(urls(&mock), [SEARCH_BOB, ORDERS_BOB]);
    for request in &requests {
        assert_eq!(request.method, "GET");
        assert_eq!(request.header_value("x-shopify-access-token"), Some("shpat_test_token"));
        assert_eq!(request.header_value("accept"), Some("application/json"));
        assert!(request.body.is_empty());
    }
}

#[test]
fn a_linked_record_is_read_directly() {
    let mock = host().respond(ok(CUSTOMER)).respond(ok(ORDERS));
    let linked = person(vec![Identity::email("bob.norman@mail.example.com")], &["207119551"]);
    let profile = Shopify::lookup(&mock.host(), linked).unwrap().unwrap();
    assert_eq!(profile, expected_profile());
    assert_eq!(
        urls(&mock),
        [
            "http://127.0.0.1:9/shop/admin/api/2024-10/customers/207119551.json",
            ORDERS_BOB
        ]
    );
}

#[test]
fn a_record_shopify_no_longer_has_falls_back_to_the_search() {
    let mock = host()
        .respond(status(404, ERROR_404))
        .respond(ok(SEARCH))
        .respond(ok(ORDERS));
    let stale = person(
        vec![Identity::email("bob.norman@mail.example.com")],
        &["not-an-id", "999"],
    );
    let profile = Shopify::lookup(&mock.host(), stale).unwrap().unwrap();
    assert_eq!(profile.record_id.as_deref(), Some("207119551"));
    // The malformed record id is never put in a URL.
    assert_eq!(
        urls(&mock),
        [
            "http://127.0.0.1:9/shop/admin/api/2024-10/customers/999.json",
            SEARCH_BOB,
            ORDERS_BOB
        ]
    );
}

#[test]
fn without_an_email_match_the_phone_is_searched_and_then_nothing_is_found() {
    let mock = host().respond(ok(SEARCH_EMPTY)).respond(ok(SEARCH_EMPTY));
    assert_eq!(Shopify::lookup(&mock.host(), bob()).unwrap(), None);
    assert_eq!(
        urls(&mock),
        [
            SEARCH_BOB,
            "http://127.0.0.1:9/shop/admin/api/2024-10/customers/search.json?query=phone%3A%2B16136120707"
        ]
    );

    let nobody = testing::MockHost::new()
        .with_config("shop_domain", json!("acme.myshopify.com"))
        .with_secret("access_token", "shpat_test_token");
    let unknown = person(vec![Identity::channel_user("webchat:v-1")], &[]);
    assert_eq!(Shopify::lookup(&nobody.host(), unknown).unwrap(), None);
    assert!(nobody.requests().is_empty());
}

#[test]
fn a_search_hit_with_another_email_is_not_taken() {
    // Shopify's search also matches partially; only an exact email counts.
    let mock = host().respond(ok(SEARCH)).respond(ok(SEARCH_EMPTY));
    let other = person(
        vec![Identity::email("bob@mail.example.com"), Identity::phone("+16135550100")],
        &[],
    );
    assert_eq!(Shopify::lookup(&mock.host(), other).unwrap(), None);
}

#[test]
fn the_phone_search_matches_digits_and_emails_with_plus_are_encoded() {
    let mock = host().respond(ok(SEARCH_EMPTY)).respond(ok(SEARCH)).respond(ok(ORDERS));
    let tagged = person(
        vec![
            Identity::email("bob+shop@mail.example.com"),
            Identity::phone("+16136120707"),
        ],
        &[],
    );
    let profile = Shopify::lookup(&mock.host(), tagged).unwrap().unwrap();
    assert_eq!(profile.record_id.as_deref(), Some("207119551"));
    assert_eq!(
        urls(&mock)[0],
        "http://127.0.0.1:9/shop/admin/api/2024-10/customers/search.json?query=email%3Abob%2Bshop%40mail.example.com"
    );
}

#[test]
fn the_orders_limit_and_api_version_are_configurable() {
    let mock = host()
        .with_config("orders_limit", json!(2))
        .with_config("api_version", json!("2025-01"))
        .respond(ok(SEARCH))
        .respond(ok(ORDERS));
    let profile = Shopify::lookup(&mock.host(), bob()).unwrap().unwrap();
    // Even if Shopify sent more than asked, at most the limit is shown.
    assert_eq!(profile.orders.len(), 2);
    assert_eq!(
        urls(&mock)[1],
        "http://127.0.0.1:9/shop/admin/api/2025-01/customers/207119551/orders.json?status=any&limit=2"
    );

    let none = host().with_config("orders_limit", json!(0)).respond(ok(SEARCH));
    let profile = Shopify::lookup(&none.host(), bob()).unwrap().unwrap();
    assert!(profile.orders.is_empty());
    assert_eq!(none.requests().len(), 1);
}

#[test]
fn the_default_base_is_the_shop_domain() {
    let mock = testing::MockHost::new()
        .with_config("shop_domain", json!("Acme.myshopify.com"))
        .with_secret("access_token", "shpat_test_token")
        .respond(ok(SEARCH))
        .respond(ok(ORDERS));
    Shopify::lookup(&mock.host(), bob()).unwrap().unwrap();
    assert_eq!(
        urls(&mock)[0],
        "https://acme.myshopify.com/admin/api/2024-10/customers/search.json?query=email%3Abob.norman%40mail.example.com"
    );
}

fn lookup_error(response: IncomingResponse) -> (IntegrationError, testing::MockHost) {
    let mock = host().respond(response);
    let error = Shopify::lookup(&mock.host(), bob()).unwrap_err();
    (error, mock)
}

#[test]
fn rate_limits_and_server_errors_are_retried() {
    let (error, _) = lookup_error(status(429, ERROR_429).with_header("Retry-After", "2.0"));
    assert_eq!(
        error,
        IntegrationError::Retryable {
            message: "Shopify answered 429: Exceeded 2 calls per second for api client. Reduce request rates to \
                      resume uninterrupted service."
                .into(),
            after_ms: Some(2_000)
        }
    );
    let (error, _) = lookup_error(IncomingResponse::new(503, "<html>Service unavailable</html>"));
    assert_eq!(
        error,
        IntegrationError::Retryable {
            message: "Shopify answered 503: <html>Service unavailable</html>".into(),
            after_ms: None
        }
    );
    let mock = host().fail_http(HttpError::Timeout("no answer in 10s".into()));
    assert!(matches!(
        Shopify::lookup(&mock.host(), bob()),
        Err(IntegrationError::Retryable { .. })
    ));
}

#[test]
fn a_refused_token_is_retried_with_a_warning() {
    for (code, body, detail) in [
        (
            401,
            ERROR_401,
            "[API] Invalid API key or access token (unrecognized login or wrong password)",
        ),
        (
            403,
            ERROR_403,
            "[API] This action requires merchant approval for read_orders scope.",
        ),
    ] {
        let (error, mock) = lookup_error(status(code, body));
        let message = format!(
            "Shopify refused the access token with {code}: {detail}: check the `access_token` secret and that the \
             app has the read_customers and read_orders scopes"
        );
        assert_eq!(
            error,
            IntegrationError::Retryable {
                message: message.clone(),
                after_ms: None
            }
        );
        assert!(mock.logs().contains(&(LogLevel::Warn, message)));
    }
}

#[test]
fn other_refusals_are_permanent_with_shopifys_errors() {
    let (error, _) = lookup_error(status(402, ERROR_402));
    assert_eq!(
        error,
        IntegrationError::permanent("Shopify answered 402: Unavailable Shop")
    );
    let (error, _) = lookup_error(status(422, ERROR_422));
    assert_eq!(
        error,
        IntegrationError::permanent(r#"Shopify answered 422: {"query":["is invalid"]}"#)
    );
    // A 404 on the search means the shop or version is wrong, and does not
    // quote the customer's email.
    let (error, _) = lookup_error(status(404, ERROR_404));
    assert_eq!(
        error,
        IntegrationError::permanent(
            "Shopify answered 404 to GET customers/search.json: check `shop_domain` (acme.myshopify.com) and \
             `api_version` (2024-10)"
        )
    );
    let (error, _) = lookup_error(IncomingResponse::new(200, "<html>password page</html>"));
    assert!(matches!(error, IntegrationError::Permanent { .. }), "{error:?}");
}

#[test]
fn missing_setup_is_permanent_and_named() {
    let mock = host().fail_http(HttpError::Denied("acme.myshopify.com is not allowed".into()));
    let error = Shopify::lookup(&mock.host(), bob()).unwrap_err();
    assert!(error.to_string().contains("allowed_hosts"), "{error}");
    assert!(!error.to_string().contains("bob.norman"), "{error}");

    let no_token = testing::MockHost::new().with_config("shop_domain", json!("acme.myshopify.com"));
    let error = Shopify::lookup(&no_token.host(), bob()).unwrap_err();
    assert!(
        matches!(&error, IntegrationError::Permanent { message } if message.contains("access_token")),
        "{error:?}"
    );
    let no_shop = testing::MockHost::new().with_secret("access_token", "shpat_test_token");
    assert!(matches!(
        Shopify::lookup(&no_shop.host(), bob()),
        Err(IntegrationError::Permanent { .. })
    ));
}

fn event(kind: &str, person: Option<Person>, data: Value) -> DomainEvent {
    DomainEvent {
        position: 42,
        kind: kind.into(),
        at: 1_727_775_000_000,
        person,
        conversation_id: None,
        message_id: None,
        data,
        transcript: Vec::new(),
    }
}

#[test]
fn an_added_email_links_the_customer() {
    let mock = host().respond(ok(SEARCH));
    let added = event(
        "identity.added",
        Some(bob()),
        json!({"kind": "email", "value": "bob.norman@mail.example.com", "source": "email"}),
    );
    assert_eq!(
        Shopify::on_event(&mock.host(), added).unwrap(),
        EventOutcome::record("207119551")
    );
    assert_eq!(urls(&mock), [SEARCH_BOB]);
}

#[test]
fn an_added_phone_links_the_customer() {
    let mock = host().respond(ok(SEARCH));
    let added = event(
        "identity.added",
        Some(bob()),
        json!({"kind": "phone", "value": "+16136120707", "source": "sms"}),
    );
    assert_eq!(
        Shopify::on_event(&mock.host(), added).unwrap(),
        EventOutcome::record("207119551")
    );
    assert_eq!(
        urls(&mock),
        ["http://127.0.0.1:9/shop/admin/api/2024-10/customers/search.json?query=phone%3A%2B16136120707"]
    );
}

#[test]
fn a_new_person_with_an_email_is_linked() {
    let mock = host().respond(ok(SEARCH));
    let created = event("person.created", Some(bob()), json!({}));
    assert_eq!(
        Shopify::on_event(&mock.host(), created).unwrap(),
        EventOutcome::record("207119551")
    );
}

#[test]
fn nothing_is_linked_twice_or_without_cause() {
    // Already linked.
    let mock = host().respond(ok(SEARCH));
    let mut linked = bob();
    linked.records = vec!["207119551".into()];
    let added = event(
        "identity.added",
        Some(linked.clone()),
        json!({"kind": "email", "value": "bob.norman@mail.example.com"}),
    );
    assert_eq!(Shopify::on_event(&mock.host(), added).unwrap(), EventOutcome::none());
    let created = event("person.created", Some(linked), json!({}));
    assert_eq!(Shopify::on_event(&mock.host(), created).unwrap(), EventOutcome::none());
    assert_eq!(mock.requests().len(), 1);

    // No customer.
    let mock = host().respond(ok(SEARCH_EMPTY));
    let added = event(
        "identity.added",
        Some(bob()),
        json!({"kind": "email", "value": "bob.norman@mail.example.com"}),
    );
    assert_eq!(Shopify::on_event(&mock.host(), added).unwrap(), EventOutcome::none());

    // No request at all: an address the person does not hold, other kinds
    // of identity or event, no person.
    let mock = host();
    for ignored in [
        event(
            "identity.added",
            Some(bob()),
            json!({"kind": "email", "value": "someone.else@example.com"}),
        ),
        event(
            "identity.added",
            Some(bob()),
            json!({"kind": "channel_user", "value": "webchat:v-1"}),
        ),
        event("identity.added", Some(bob()), Value::Null),
        event(
            "identity.added",
            None,
            json!({"kind": "email", "value": "bob.norman@mail.example.com"}),
        ),
        event("message.received", Some(bob()), json!({"text": "hi"})),
        event("conversation.resolved", Some(bob()), json!({})),
        event(
            "person.created",
            Some(person(vec![Identity::channel_user("webchat:v-1")], &[])),
            json!({}),
        ),
    ] {
        assert_eq!(
            Shopify::on_event(&mock.host(), ignored.clone()).unwrap(),
            EventOutcome::none(),
            "{ignored:?}"
        );
    }
    assert!(mock.requests().is_empty());
}

#[test]
fn link_errors_are_reported_for_a_retry() {
    let mock = host().respond(status(429, ERROR_429).with_header("Retry-After", "2.0"));
    let created = event("person.created", Some(bob()), json!({}));
    assert!(matches!(
        Shopify::on_event(&mock.host(), created),
        Err(IntegrationError::Retryable {
            after_ms: Some(2_000),
            ..
        })
    ));
}

#[test]
fn the_manifest_declares_both_secrets_and_a_documented_schema() {
    let manifest = Shopify::manifest();
    assert_eq!(manifest.id, "shopify");
    assert_eq!(manifest.kind, ChannelKind::Other);
    assert_eq!(manifest.capabilities.secrets, vec!["access_token", "webhook_secret"]);
    assert!(manifest.capabilities.outbound_hosts.is_empty());
    assert!(!manifest.capabilities.kv);
    let schema = testing::documented_config_schema(&manifest);
    assert_eq!(schema["required"], json!(["shop_domain"]));
    for key in ["shop_domain", "api_base", "api_version", "orders_limit"] {
        assert!(schema["properties"][key].is_object(), "{key}");
    }
    assert_eq!(schema["properties"]["orders_limit"]["maximum"], 20);
}
