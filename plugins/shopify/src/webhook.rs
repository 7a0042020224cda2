//! Shopify's webhooks (`POST /webhooks`): abandoned checkouts and new orders
//! become events on the person's timeline.
//!
//! Every request is checked first: `X-Shopify-Hmac-Sha256` is the base64
//! HMAC-SHA256 of the raw body under the app's client secret
//! (<https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook>).
//! Shopify retries any answer other than 2xx, so topics the plugin does not
//! use are acknowledged with an empty 200.
//!
//! Payloads: the abandoned checkout resource
//! (<https://shopify.dev/docs/api/admin-rest/2024-10/resources/abandoned-checkouts>) for
//! `checkouts/create` and `checkouts/update`, the order resource for
//! `orders/create` (<https://shopify.dev/docs/api/webhooks?reference=toml>).

use omni_plugin_sdk::crypto;
use omni_plugin_sdk::prelude::*;
use serde_json::{Map, Value, json};

use crate::api;
use crate::customer::id_text;
use crate::timestamp::rfc3339_ms;

/// Name of the secret that signs webhooks: the app's client secret.
pub const WEBHOOK_SECRET: &str = "webhook_secret";

/// Handles `POST /webhooks`.
pub fn receive(host: &Host, request: &Request) -> Result<WebhookOutcome, PluginError> {
    verify(host, request)?;
    check_shop(host, request)?;
    let topic = request
        .header("x-shopify-topic")
        .map(str::trim)
        .ok_or_else(|| PluginError::bad_request("the X-Shopify-Topic header is missing"))?;
    let payload = match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(payload)) => payload,
        Ok(_) => return Err(PluginError::bad_request("the body is not a JSON object")),
        Err(e) => return Err(PluginError::bad_request(format!("the body is not valid JSON: {e}"))),
    };
    let event = match topic {
        "checkouts/create" | "checkouts/update" => abandoned_checkout(host, &payload),
        "orders/create" => order_created(host, &payload),
        other => {
            host.debug(&format!("ignored Shopify webhook topic {other:?}"));
            None
        }
    };
    let outcome = WebhookOutcome::new(Response::ok());
    Ok(match event {
        Some(event) => outcome.with_event(event),
        None => outcome,
    })
}

/// Checks `X-Shopify-Hmac-Sha256` against the raw body, in constant time.
pub fn verify(host: &Host, request: &Request) -> Result<(), PluginError> {
    let secret = host
        .secret(WEBHOOK_SECRET)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            PluginError::internal(format!(
                "the secret `{WEBHOOK_SECRET}` is not configured: the app's client secret, which signs its webhooks"
            ))
        })?;
    let given = request
        .header("x-shopify-hmac-sha256")
        .ok_or_else(|| PluginError::unauthorized("the X-Shopify-Hmac-Sha256 header is missing"))?;
    let expected = crypto::base64(&crypto::hmac_sha256(secret.trim().as_bytes(), &request.body));
    if crypto::constant_time_eq(expected.as_bytes(), given.trim().as_bytes()) {
        Ok(())
    } else {
        host.warn(&format!(
            "a webhook's X-Shopify-Hmac-Sha256 does not match: check the `{WEBHOOK_SECRET}` secret (the app's \
             client secret; for webhooks created under Settings > Notifications, the key shown there)"
        ));
        Err(PluginError::unauthorized(
            "the X-Shopify-Hmac-Sha256 signature does not match the body",
        ))
    }
}

/// A signed webhook from another shop (a secret shared by several shops'
/// apps) is refused rather than put on this instance's timelines.
fn check_shop(host: &Host, request: &Request) -> Result<(), PluginError> {
    let Some(sender) = request.header("x-shopify-shop-domain") else {
        return Ok(());
    };
    let configured = api::shop_domain(host).map_err(|e| match e {
        IntegrationError::Permanent { message } | IntegrationError::Retryable { message, .. } => {
            PluginError::internal(message)
        }
    })?;
    if sender.trim().eq_ignore_ascii_case(&configured) {
        Ok(())
    } else {
        Err(PluginError::Forbidden(format!(
            "the webhook comes from {sender:?}, not from the configured shop {configured:?}"
        )))
    }
}

/// `checkouts/create` and `checkouts/update`: an open checkout with a way
/// to reach the buyer. One event per checkout token, so Shopify's stream of
/// updates of one checkout is one event (the host drops repeats).
fn abandoned_checkout(host: &Host, checkout: &Map<String, Value>) -> Option<IntegrationEvent> {
    if text(checkout, "completed_at").is_some() {
        return None;
    }
    let Some(token) = text(checkout, "token") else {
        host.warn("ignored a checkout webhook without a token");
        return None;
    };
    let (subject, claims) = contact(checkout)?;
    let currency = text(checkout, "presentment_currency").or_else(|| text(checkout, "currency"));
    let total = amount(checkout.get("total_price"));
    let lines = line_items(checkout);
    let count: u64 = lines
        .iter()
        .map(|l| l["quantity"].as_u64().unwrap_or(0))
        .fold(0, u64::saturating_add);
    let mut summary = format!("Abandoned checkout: {count} item{}", if count == 1 { "" } else { "s" });
    if let Some(total) = &total {
        summary.push_str(&format!(", {}", money(total, currency)));
    }
    let mut event = IntegrationEvent::new(format!("checkout:{token}"), subject, "checkout.abandoned", summary);
    event.claims = claims;
    event.data = json!({
        "token": token,
        "abandoned_checkout_url": text(checkout, "abandoned_checkout_url"),
        "total_price": total,
        "currency": currency,
        "line_items": lines,
    });
    event.at = text(checkout, "updated_at")
        .or_else(|| text(checkout, "created_at"))
        .and_then(rfc3339_ms);
    Some(event)
}

/// `orders/create`: a new order, on the buyer's timeline.
fn order_created(host: &Host, order: &Map<String, Value>) -> Option<IntegrationEvent> {
    let Some(id) = order.get("id").and_then(id_text) else {
        host.warn("ignored an orders/create webhook without an id");
        return None;
    };
    let (subject, claims) = contact(order)?;
    let name = text(order, "name").unwrap_or(id.as_str());
    let currency = text(order, "currency");
    let total = amount(order.get("total_price"));
    let summary = match &total {
        Some(total) => format!("Order {name}: {}", money(total, currency)),
        None => format!("Order {name}"),
    };
    let mut event = IntegrationEvent::new(format!("order:{id}"), subject, "order.created", summary);
    event.claims = claims;
    event.data = json!({
        "id": id,
        "name": name,
        "total_price": total,
        "currency": currency,
        "financial_status": text(order, "financial_status"),
        "fulfillment_status": text(order, "fulfillment_status"),
        "order_status_url": text(order, "order_status_url"),
        // The token of the checkout it completes, to match a `checkout:<token>` event.
        "checkout_token": text(order, "checkout_token"),
        "line_items": line_items(order),
    });
    event.at = text(order, "created_at").and_then(rfc3339_ms);
    Some(event)
}

/// Who the payload is about: the email (else the phone number) as subject,
/// the phone number as a claim. Neither is verified: the shop collected them
/// at checkout but nobody proved them. `None` when there is no way to reach
/// the buyer, so the event would belong to no one.
fn contact(payload: &Map<String, Value>) -> Option<(Identity, Vec<Identity>)> {
    let customer = payload.get("customer").and_then(Value::as_object);
    let from_customer = |field: &str| customer.and_then(|c| text(c, field));
    let email = text(payload, "email")
        .or_else(|| text(payload, "contact_email"))
        .or_else(|| from_customer("email"))
        .filter(|e| e.contains('@'));
    let phone = [text(payload, "phone"), from_customer("phone")]
        .into_iter()
        .flatten()
        .find_map(e164);
    match (email, phone) {
        (Some(email), phone) => Some((Identity::email(email), phone.map(Identity::phone).into_iter().collect())),
        (None, Some(phone)) => Some((Identity::phone(phone), Vec::new())),
        (None, None) => None,
    }
}

/// A phone number written in international form (`+49 151 1234-5678`) as
/// E.164; anything else is left out, since without a country the host
/// cannot tell whose number it is.
fn e164(phone: &str) -> Option<String> {
    let compact: String = phone
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    let digits = compact.strip_prefix('+')?;
    ((7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())).then_some(compact)
}

/// `[{title, quantity, price}]` of the payload's line items.
fn line_items(payload: &Map<String, Value>) -> Vec<Value> {
    payload
        .get("line_items")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_object)
                .map(|item| {
                    json!({
                        "title": text(item, "title"),
                        "quantity": item.get("quantity").and_then(Value::as_u64).unwrap_or(0),
                        "price": amount(item.get("price")),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A non-empty string field.
fn text<'a>(object: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    object
        .get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A price: Shopify sends decimal strings; a number is accepted too.
fn amount(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn money(total: &str, currency: Option<&str>) -> String {
    match currency {
        Some(currency) => format!("{total} {currency}"),
        None => total.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_international_numbers_become_phones() {
        assert_eq!(e164("+4915112345678").as_deref(), Some("+4915112345678"));
        assert_eq!(e164("+49 (151) 1234-5678").as_deref(), Some("+4915112345678"));
        assert_eq!(e164("555-625-1199"), None);
        assert_eq!(e164("+12"), None);
        assert_eq!(e164("+4915112345678x9"), None);
    }

    #[test]
    fn contacts_prefer_the_email() {
        let payload = |value: Value| value.as_object().unwrap().clone();
        let (subject, claims) = contact(&payload(json!({"email": "a@example.com", "phone": "+14155550100"}))).unwrap();
        assert_eq!(subject, Identity::email("a@example.com"));
        assert_eq!(claims, vec![Identity::phone("+14155550100")]);
        let (subject, claims) = contact(&payload(json!({"customer": {"phone": "+14155550100"}}))).unwrap();
        assert_eq!(subject, Identity::phone("+14155550100"));
        assert!(claims.is_empty());
        assert!(contact(&payload(json!({"email": "", "phone": "555-0100", "customer": null}))).is_none());
        assert!(contact(&payload(json!({"email": 5, "line_items": "x"}))).is_none());
    }
}
