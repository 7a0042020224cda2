//! Finding a person's Shopify customer: by a linked record id, else by
//! email, else by phone.
//!
//! Resource: <https://shopify.dev/docs/api/admin-rest/2024-10/resources/customer>
//! (`GET customers/{id}.json`, `GET customers/search.json?query=…`).

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;
use serde_json::Value;

use crate::api::{AdminApi, encode_query_value};

/// The fields of a Shopify customer the plugin reads; Shopify sends many more.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Customer {
    /// Numeric id (a JSON number).
    pub id: Value,
    /// Email address, when the customer has one.
    pub email: Option<String>,
    /// Phone number in E.164, when the customer has one.
    pub phone: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Account state: `disabled`, `invited`, `enabled` or `declined`.
    pub state: Option<String>,
    /// Number of orders (a number; older versions sent a string).
    pub orders_count: Value,
    /// Lifetime spend as a decimal string.
    pub total_spent: Value,
    /// Currency of the last order, else the shop's.
    pub currency: Option<String>,
    /// Comma-separated tags.
    pub tags: Option<String>,
}

impl Customer {
    /// The id as text; `None` unless it is a positive integer.
    pub fn id(&self) -> Option<String> {
        id_text(&self.id)
    }

    /// First and last name, or `None` when both are empty.
    pub fn name(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.first_name, &self.last_name]
            .into_iter()
            .filter_map(|p| p.as_deref().map(str::trim))
            .filter(|p| !p.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

/// A Shopify id (a JSON number, or a string of digits) as text.
pub fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => n.as_u64().filter(|&n| n > 0).map(|n| n.to_string()),
        Value::String(s) if is_record_id(s) => Some(s.clone()),
        _ => None,
    }
}

/// Whether `id` can be a Shopify customer id: digits only, so it is safe to
/// put in a URL path.
pub fn is_record_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Deserialize)]
struct One {
    customer: Customer,
}

#[derive(Deserialize)]
struct Many {
    #[serde(default)]
    customers: Vec<Customer>,
}

/// The person's customer: the first linked record Shopify still has, else
/// the customer with the person's email, else with their phone number.
pub fn find_for_person(host: &Host, api: &AdminApi, person: &Person) -> Result<Option<Customer>, IntegrationError> {
    for record in &person.records {
        if !is_record_id(record) {
            host.debug(&format!("ignored record id {record:?}: not a Shopify customer id"));
            continue;
        }
        match api.get::<One>(host, &format!("customers/{record}.json"))? {
            Some(found) => return Ok(Some(found.customer)),
            // Deleted or merged in Shopify: the link is stale, search instead.
            None => host.debug(&format!(
                "Shopify customer {record} is gone; searching by email and phone"
            )),
        }
    }
    find_by_contact(host, api, person)
}

/// The customer with the person's email (verified ones first), else with
/// their phone number; no request when the person has neither.
pub fn find_by_contact(host: &Host, api: &AdminApi, person: &Person) -> Result<Option<Customer>, IntegrationError> {
    if let Some(email) = person.email()
        && let Some(customer) = search_email(host, api, email)?
    {
        return Ok(Some(customer));
    }
    match person.phone() {
        Some(phone) => search_phone(host, api, phone),
        None => Ok(None),
    }
}

/// The customer whose email is `email` (compared case-insensitively).
pub fn search_email(host: &Host, api: &AdminApi, email: &str) -> Result<Option<Customer>, IntegrationError> {
    let email = email.trim();
    if email.is_empty() {
        return Ok(None);
    }
    let found = search(host, api, &format!("email:{email}"))?;
    Ok(found
        .into_iter()
        .find(|c| c.email.as_deref().is_some_and(|e| e.trim().eq_ignore_ascii_case(email))))
}

/// The customer whose phone number is `phone` (compared by digits).
pub fn search_phone(host: &Host, api: &AdminApi, phone: &str) -> Result<Option<Customer>, IntegrationError> {
    let wanted = digits(phone);
    if wanted.is_empty() {
        return Ok(None);
    }
    let found = search(host, api, &format!("phone:{}", phone.trim()))?;
    Ok(found
        .into_iter()
        .find(|c| c.phone.as_deref().is_some_and(|p| digits(p) == wanted)))
}

/// `GET customers/search.json?query=…`. Shopify's search also matches
/// partial and other fields, so callers keep only an exact match: a wrong
/// customer would show a stranger's orders to the agent, and the link the
/// host makes from it is trusted.
fn search(host: &Host, api: &AdminApi, query: &str) -> Result<Vec<Customer>, IntegrationError> {
    let path = format!("customers/search.json?query={}", encode_query_value(query));
    let many: Many = api.get(host, &path)?.ok_or_else(|| api.not_found(&path))?;
    Ok(many.customers.into_iter().filter(|c| c.id().is_some()).collect())
}

fn digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_positive_integers() {
        assert_eq!(id_text(&json!(207119551)).as_deref(), Some("207119551"));
        assert_eq!(
            id_text(&json!(820982911946154508_u64)).as_deref(),
            Some("820982911946154508")
        );
        assert_eq!(id_text(&json!("42")).as_deref(), Some("42"));
        assert_eq!(id_text(&json!(0)), None);
        assert_eq!(id_text(&json!(-3)), None);
        assert_eq!(id_text(&json!(1.5)), None);
        assert_eq!(id_text(&json!("../admin")), None);
        assert_eq!(id_text(&Value::Null), None);
        assert!(!is_record_id("12/orders"));
        assert!(!is_record_id(""));
    }

    #[test]
    fn names_join_what_is_there() {
        let customer = |first: Option<&str>, last: Option<&str>| Customer {
            first_name: first.map(str::to_owned),
            last_name: last.map(str::to_owned),
            ..Customer::default()
        };
        assert_eq!(
            customer(Some("Bob"), Some("Norman")).name().as_deref(),
            Some("Bob Norman")
        );
        assert_eq!(customer(None, Some("Norman")).name().as_deref(), Some("Norman"));
        assert_eq!(customer(Some(" "), None).name(), None);
    }
}
