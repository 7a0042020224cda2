//! What agents see of a person in Shopify: the customer and their latest
//! orders.
//!
//! Orders: <https://shopify.dev/docs/api/admin-rest/2024-10/resources/customer#get-customers-customer-id-orders>
//! and the Order resource's fields,
//! <https://shopify.dev/docs/api/admin-rest/2024-10/resources/order>.

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;
use serde_json::Value;

use crate::api::AdminApi;
use crate::customer::{self, Customer, id_text};
use crate::timestamp::rfc3339_ms;

/// The person's Shopify profile, or `None` when no customer matches.
pub fn lookup(host: &Host, person: &Person) -> Result<Option<Profile>, IntegrationError> {
    let api = AdminApi::load(host)?;
    let Some(customer) = customer::find_for_person(host, &api, person)? else {
        return Ok(None);
    };
    // Filtered out by the finders; kept as a guard rather than an unwrap.
    let Some(id) = customer.id() else {
        return Ok(None);
    };
    let orders = if api.orders_limit == 0 {
        Vec::new()
    } else {
        recent_orders(host, &api, &id)?
    };
    Ok(Some(Profile {
        record_id: Some(id.clone()),
        name: customer.name(),
        url: Some(api.admin_customer_url(&id)),
        lifecycle_stage: customer.state.clone().filter(|s| !s.is_empty()),
        orders,
        attributes: attributes(&customer),
        ..Profile::default()
    }))
}

/// Order count, lifetime spend and tags, as agents read them.
pub fn attributes(customer: &Customer) -> Vec<(String, String)> {
    let mut attributes = Vec::new();
    if let Some(count) = scalar_text(&customer.orders_count) {
        attributes.push(("orders_count".to_owned(), count));
    }
    if let Some(spent) = scalar_text(&customer.total_spent) {
        let value = match customer.currency.as_deref().filter(|c| !c.is_empty()) {
            Some(currency) => format!("{spent} {currency}"),
            None => spent,
        };
        attributes.push(("total_spent".to_owned(), value));
    }
    if let Some(tags) = customer.tags.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        attributes.push(("tags".to_owned(), tags.to_owned()));
    }
    attributes
}

/// The fields of an order the plugin reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ShopOrder {
    id: Value,
    name: Option<String>,
    cancelled_at: Option<String>,
    closed_at: Option<String>,
    financial_status: Option<String>,
    fulfillment_status: Option<String>,
    total_price: Value,
    currency: Option<String>,
    created_at: Option<String>,
    order_status_url: Option<String>,
}

#[derive(Deserialize)]
struct Orders {
    #[serde(default)]
    orders: Vec<ShopOrder>,
}

/// `GET customers/{id}/orders.json?status=any&limit=N`, newest first.
fn recent_orders(host: &Host, api: &AdminApi, customer_id: &str) -> Result<Vec<Order>, IntegrationError> {
    // `status=any`: the default lists only open orders, and agents need the
    // closed and cancelled ones too.
    let path = format!(
        "customers/{customer_id}/orders.json?status=any&limit={}",
        api.orders_limit
    );
    let listed: Orders = api.get(host, &path)?.ok_or_else(|| api.not_found(&path))?;
    let mut orders: Vec<Order> = listed.orders.iter().filter_map(order).collect();
    // Shopify lists newest first; sorting keeps that promise whatever it sends.
    orders.sort_by_key(|o| std::cmp::Reverse(o.created_at.unwrap_or(i64::MIN)));
    orders.truncate(api.orders_limit as usize);
    Ok(orders)
}

/// One order for agents; `None` without an id.
pub fn order(shop: &ShopOrder) -> Option<Order> {
    let id = id_text(&shop.id)?;
    Some(Order {
        name: shop
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| id.clone()),
        id,
        status: status(shop).to_owned(),
        financial_status: shop.financial_status.clone().filter(|s| !s.is_empty()),
        fulfillment_status: shop.fulfillment_status.clone().filter(|s| !s.is_empty()),
        total: scalar_text(&shop.total_price).unwrap_or_default(),
        currency: shop.currency.clone().unwrap_or_default(),
        created_at: shop.created_at.as_deref().and_then(rfc3339_ms),
        url: shop.order_status_url.clone().filter(|u| !u.is_empty()),
    })
}

/// `cancelled` when cancelled (a cancelled order is usually closed too),
/// else `closed` when archived, else `open`.
fn status(order: &ShopOrder) -> &'static str {
    let set = |field: &Option<String>| field.as_deref().is_some_and(|v| !v.is_empty());
    if set(&order.cancelled_at) {
        "cancelled"
    } else if set(&order.closed_at) {
        "closed"
    } else {
        "open"
    }
}

/// A JSON string or number as text; `None` for anything else.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shop_order(value: Value) -> ShopOrder {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn status_prefers_cancelled_over_closed() {
        assert_eq!(status(&shop_order(json!({}))), "open");
        assert_eq!(
            status(&shop_order(json!({"closed_at": "2024-09-20T16:02:11-04:00"}))),
            "closed"
        );
        assert_eq!(
            status(&shop_order(
                json!({"cancelled_at": "2024-10-01T10:15:00-04:00", "closed_at": "2024-10-01T10:15:00-04:00"})
            )),
            "cancelled"
        );
        assert_eq!(
            status(&shop_order(json!({"cancelled_at": null, "closed_at": ""}))),
            "open"
        );
    }

    #[test]
    fn an_order_without_an_id_is_skipped() {
        assert_eq!(order(&shop_order(json!({"name": "#1"}))), None);
        let minimal = order(&shop_order(json!({"id": 7}))).unwrap();
        assert_eq!(minimal.name, "7");
        assert_eq!(minimal.total, "");
        assert_eq!(minimal.created_at, None);
    }
}
