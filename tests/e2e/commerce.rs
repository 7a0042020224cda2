//! Commerce and outgoing webhooks end to end: Shopify's abandoned-checkout
//! webhook lands on the person's timeline and reaches a business's webhook
//! receiver signed the Standard Webhooks way; every channel's agent sees
//! the person's orders from Shopify's Admin API (a local stand-in).

use std::time::Duration;

use omni_plugin_sdk::crypto::{base64, base64_decode, hmac_sha256};
use omni_tests::process::{OmniProcess, WEBHOOK_SECRET, plugin};
use omni_tests::provider::FakeProvider;
use omni_tests::wasm;
use serde_json::{Value, json};

const SECRET: &str = "s3cret";
const CHECKOUT: &str = include_str!("../../plugins/shopify/fixtures/checkouts-create.json");
const ORDERS: &str = include_str!("../../plugins/shopify/fixtures/customer-orders.json");
const CUSTOMERS: &str = include_str!("../../plugins/shopify/fixtures/customers-search.json");

/// Shopify's Admin API: the fixture customer for any search, and their orders.
async fn shopify() -> FakeProvider {
    FakeProvider::start(|request, _| {
        if request.path.ends_with("/customers/search.json") {
            let mut customers: Value = serde_json::from_str(CUSTOMERS).unwrap();
            customers["customers"][0]["email"] = json!("ann.lee@example.com");
            customers["customers"][0]["phone"] = json!("+4915112345678");
            (200, customers.to_string())
        } else if request.path.ends_with("/orders.json") {
            (200, ORDERS.to_owned())
        } else {
            (404, json!({"errors": "Not Found"}).to_string())
        }
    })
    .await
}

async fn start(shop: &FakeProvider, receiver: &FakeProvider) -> OmniProcess {
    let config = [
        plugin(
            "shopify",
            wasm::shopify(),
            &format!(
                "allowed_hosts = [\"{0}\"]\nsecrets = {{ access_token = {{ env = \"OMNI_TEST_SECRET\" }}, \
                 webhook_secret = {{ env = \"OMNI_TEST_SECRET\" }} }}\n\
                 [plugins.config]\nshop_domain = \"acme.myshopify.com\"\napi_base = \"{0}\"\n",
                shop.origin()
            ),
        ),
        plugin(
            "campaigns",
            wasm::webhook_out(),
            &format!(
                "allowed_hosts = [\"{0}\"]\nsecrets = {{ signing_secret = {{ env = \"OMNI_TEST_WEBHOOK_SECRET\" }} }}\n\
                 [plugins.config]\nurl = \"{0}/omni-events\"\n[plugins.subscribe]\nevents = [\"integration.*\"]\n",
                receiver.origin()
            ),
        ),
    ]
    .join("\n");
    OmniProcess::start(&config).await
}

async fn checkout_webhook(omni: &OmniProcess, body: &str, signature: &str) -> (u16, String) {
    let response = omni
        .client
        .post(omni.url("/hooks/shopify/webhooks"))
        .header("content-type", "application/json")
        .header("x-shopify-topic", "checkouts/create")
        .header("x-shopify-shop-domain", "acme.myshopify.com")
        .header("x-shopify-hmac-sha256", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

fn shopify_signature(body: &str) -> String {
    base64(&hmac_sha256(SECRET.as_bytes(), body.as_bytes()))
}

/// Checks a Standard Webhooks signature the way a receiver would.
fn verify_standard_webhook(request: &omni_tests::provider::Recorded) {
    let id = request.header("webhook-id").expect("webhook-id");
    let timestamp = request.header("webhook-timestamp").expect("webhook-timestamp");
    let signature = request.header("webhook-signature").expect("webhook-signature");
    let secret = base64_decode(WEBHOOK_SECRET.strip_prefix("whsec_").unwrap()).unwrap();
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(&request.body);
    let expected = format!("v1,{}", base64(&hmac_sha256(&secret, &signed)));
    assert_eq!(signature, expected);
    let sent: i64 = timestamp.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - sent).abs() < 300, "timestamp {sent} is not now ({now})");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_abandoned_checkout_reaches_the_timeline_and_signed_outgoing_webhooks() {
    let shop = shopify().await;
    let receiver = FakeProvider::start(|_, _| (204, String::new())).await;
    let omni = start(&shop, &receiver).await;

    let (status, body) = checkout_webhook(&omni, CHECKOUT, "forged").await;
    assert_eq!(status, 401, "{body}");
    let signature = shopify_signature(CHECKOUT);
    let (status, body) = checkout_webhook(&omni, CHECKOUT, &signature).await;
    assert_eq!(status, 200, "{body}");
    // Shopify retries deliveries: the same checkout is one event.
    let (status, _) = checkout_webhook(&omni, CHECKOUT, &signature).await;
    assert_eq!(status, 200);

    let (_, page) = omni.api_get("/v1/events?kinds=integration.*").await;
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{page:#}");
    let event = &events[0];
    assert_eq!(event["kind"], "integration.checkout.abandoned");
    assert_eq!(event["data"]["source"], "shopify");
    assert!(event["data"]["summary"].as_str().unwrap().contains("59.90"), "{event}");
    let person = event["person_id"].as_str().unwrap();
    let (_, timeline) = omni.api_get(&format!("/v1/persons/{person}/timeline")).await;
    assert!(
        timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "integration.checkout.abandoned"),
        "{timeline:#}"
    );

    // The campaign tool's receiver gets it once, signed.
    let received = receiver.wait_for(1, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.requests().len(), 1, "only integration.* events are forwarded");
    let request = &received[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/omni-events")
    );
    verify_standard_webhook(request);
    let payload = request.json();
    assert_eq!(payload["type"], "integration.checkout.abandoned");
    assert_eq!(payload["data"]["person"]["id"], person);
    assert_eq!(
        request.header("webhook-id"),
        Some(format!("evt_{}", event["position"]).as_str())
    );

    // Agents see the person's orders, looked up in the shop.
    let (_, p) = omni.api_get(&format!("/v1/persons/{person}")).await;
    let profile = &p["profiles"]["shopify"]["profile"];
    assert_eq!(profile["record_id"], "207119551", "{p:#}");
    let orders = profile["orders"].as_array().unwrap();
    assert!(orders.iter().any(|o| o["name"] == "#1001"), "{orders:#?}");
    let lookups = shop.requests().len();
    // Cached: asking again does not call the shop.
    omni.api_get(&format!("/v1/persons/{person}")).await;
    assert_eq!(shop.requests().len(), lookups);
}
