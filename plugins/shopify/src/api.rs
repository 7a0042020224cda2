//! The Shopify Admin REST API: where it is, how requests are authenticated,
//! and how its refusals become retries or permanent failures.
//!
//! Status codes: <https://shopify.dev/docs/api/admin-rest#status-and-error-codes>;
//! rate limits (a leaky bucket answering 429 with `Retry-After`):
//! <https://shopify.dev/docs/api/usage/limits#rest-admin-api-rate-limits>.

use omni_plugin_sdk::prelude::*;
use serde::de::DeserializeOwned;

/// Name of the secret holding the Admin API access token.
pub const ACCESS_TOKEN: &str = "access_token";

/// The API version used when config `api_version` is absent.
pub const DEFAULT_API_VERSION: &str = "2024-10";

/// Orders shown per customer when config `orders_limit` is absent.
pub const DEFAULT_ORDERS_LIMIT: u32 = 5;

/// Most orders shown per customer.
pub const MAX_ORDERS_LIMIT: u32 = 20;

/// How much of an unreadable error body goes into a message.
const BODY_EXCERPT_CHARS: usize = 200;

/// A configured connection to one shop's Admin API.
pub struct AdminApi {
    /// The shop's `*.myshopify.com` domain, lower case.
    pub shop_domain: String,
    base: String,
    version: String,
    token: String,
    /// Orders to show per customer, 0 to [`MAX_ORDERS_LIMIT`].
    pub orders_limit: u32,
}

impl AdminApi {
    /// Reads config and the access token. Missing settings are permanent
    /// failures: retrying cannot help before the operator fixes them.
    pub fn load(host: &Host) -> Result<Self, IntegrationError> {
        let shop_domain = shop_domain(host)?;
        let base: Option<String> = host.config("api_base").map_err(config_error)?;
        let base = base
            .unwrap_or_else(|| format!("https://{shop_domain}"))
            .trim_end_matches('/')
            .to_owned();
        let version: String = host
            .config_or("api_version", DEFAULT_API_VERSION.to_owned())
            .map_err(config_error)?;
        let orders_limit: u32 = host
            .config_or("orders_limit", DEFAULT_ORDERS_LIMIT)
            .map_err(config_error)?
            .min(MAX_ORDERS_LIMIT);
        let token = host
            .secret(ACCESS_TOKEN)
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                IntegrationError::permanent(format!(
                    "the secret `{ACCESS_TOKEN}` is not configured: the custom app's Admin API access token (shpat_…)"
                ))
            })?;
        Ok(Self {
            shop_domain,
            base,
            version,
            token,
            orders_limit,
        })
    }

    /// The URL of `path` (e.g. `customers/1.json?x=y`) under the versioned Admin API.
    pub fn url(&self, path: &str) -> String {
        format!("{}/admin/api/{}/{path}", self.base, self.version)
    }

    /// `GET`s `path` and reads the JSON answer; `Ok(None)` on 404, so a
    /// caller decides whether a missing resource is normal.
    pub fn get<T: DeserializeOwned>(&self, host: &Host, path: &str) -> Result<Option<T>, IntegrationError> {
        let url = self.url(path);
        let request = OutgoingRequest::get(&url)
            .header("x-shopify-access-token", &self.token)
            .header("accept", "application/json");
        let response = host.http(&request).map_err(|e| transport_error(&url, e))?;
        if response.status == 404 {
            return Ok(None);
        }
        if !response.is_success() {
            return Err(refusal(host, &response));
        }
        response.json_body().map(Some).map_err(|e| {
            IntegrationError::permanent(format!(
                "Shopify answered GET {} with unreadable JSON ({e}); check `api_base` and `api_version`",
                path_only(path)
            ))
        })
    }

    /// The error for a 404 where the resource must exist (a search, a
    /// listing): the shop domain or the API version is wrong.
    pub fn not_found(&self, path: &str) -> IntegrationError {
        IntegrationError::permanent(format!(
            "Shopify answered 404 to GET {}: check `shop_domain` ({}) and `api_version` ({})",
            path_only(path),
            self.shop_domain,
            self.version
        ))
    }

    /// Where an agent opens a customer in the Shopify admin.
    pub fn admin_customer_url(&self, customer_id: &str) -> String {
        match self.shop_domain.strip_suffix(".myshopify.com") {
            Some(store) => format!("https://admin.shopify.com/store/{store}/customers/{customer_id}"),
            None => format!("https://{}/admin/customers/{customer_id}", self.shop_domain),
        }
    }
}

/// Config `shop_domain`, trimmed and lower case.
pub fn shop_domain(host: &Host) -> Result<String, IntegrationError> {
    let domain: String = host
        .config("shop_domain")
        .map_err(config_error)?
        .ok_or_else(|| IntegrationError::permanent("config `shop_domain` is not set, e.g. \"acme.myshopify.com\""))?;
    Ok(domain.trim().trim_end_matches('/').to_ascii_lowercase())
}

fn config_error(error: PluginError) -> IntegrationError {
    IntegrationError::permanent(error.message())
}

/// The path without its query, which may hold a customer's email or phone.
fn path_only(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

/// No answer: timeouts and unreachable shops are retried; a host the
/// sandbox refuses needs the operator.
fn transport_error(url: &str, error: HttpError) -> IntegrationError {
    match error {
        HttpError::Denied(detail) => IntegrationError::permanent(format!(
            "the host refused to call {} ({detail}); list the shop's host (e.g. acme.myshopify.com) in this \
             instance's `allowed_hosts`",
            path_only(url)
        )),
        other => IntegrationError::from(other),
    }
}

/// Reads a non-2xx, non-404 answer.
///
/// - 429 (the leaky bucket is full) and 5xx: retried, after `Retry-After`.
/// - 401 and 403: retried, with a warning — the token was revoked or lacks a
///   scope, which the operator fixes without losing the events meanwhile.
/// - anything else: permanent, with Shopify's `errors` field.
pub fn refusal(host: &Host, response: &IncomingResponse) -> IntegrationError {
    let status = response.status;
    let detail = errors_field(response);
    match status {
        429 | 500..=599 => IntegrationError::Retryable {
            message: format!("Shopify answered {status}{}", suffix(&detail)),
            after_ms: retry_after_ms(response),
        },
        401 | 403 => {
            let message = format!(
                "Shopify refused the access token with {status}{}: check the `{ACCESS_TOKEN}` secret and that the \
                 app has the read_customers and read_orders scopes",
                suffix(&detail)
            );
            host.warn(&message);
            IntegrationError::Retryable {
                message,
                after_ms: retry_after_ms(response),
            }
        }
        _ => IntegrationError::permanent(format!("Shopify answered {status}{}", suffix(&detail))),
    }
}

fn suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

/// Shopify's `{"errors": …}`: a string, or an object of field messages
/// (shown as compact JSON); else the start of the body.
fn errors_field(response: &IncomingResponse) -> String {
    if let Ok(serde_json::Value::Object(body)) = response.json_body::<serde_json::Value>() {
        match body.get("errors") {
            Some(serde_json::Value::String(text)) => return text.clone(),
            Some(other) if !other.is_null() => return other.to_string(),
            _ => {}
        }
    }
    response
        .text()
        .chars()
        .take(BODY_EXCERPT_CHARS)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// `Retry-After` in seconds — Shopify sends decimals such as `2.0` — as ms.
pub fn retry_after_ms(response: &IncomingResponse) -> Option<u64> {
    let seconds: f64 = response.header("retry-after")?.trim().parse().ok()?;
    // Bounded to a day, so an absurd value cannot park the events for ever.
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds.min(86_400.0) * 1000.0).round() as u64)
}

/// Percent-encodes a query value: everything but RFC 3986's unreserved
/// characters, so `+` in an email or a phone number survives.
pub fn encode_query_value(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            encode_query_value("email:ann+shop@example.com"),
            "email%3Aann%2Bshop%40example.com"
        );
        assert_eq!(encode_query_value("phone:+16136120707"), "phone%3A%2B16136120707");
        assert_eq!(encode_query_value("é "), "%C3%A9%20");
    }

    #[test]
    fn retry_after_accepts_shopifys_decimals() {
        let with = |v: &str| IncomingResponse::new(429, "").with_header("Retry-After", v);
        assert_eq!(retry_after_ms(&with("2.0")), Some(2000));
        assert_eq!(retry_after_ms(&with("1")), Some(1000));
        assert_eq!(retry_after_ms(&with("0.5")), Some(500));
        assert_eq!(retry_after_ms(&with("1e12")), Some(86_400_000));
        assert_eq!(retry_after_ms(&with("-1")), None);
        assert_eq!(retry_after_ms(&with("NaN")), None);
        assert_eq!(retry_after_ms(&with("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(retry_after_ms(&IncomingResponse::new(429, "")), None);
    }

    #[test]
    fn errors_fields_are_strings_objects_or_the_body() {
        assert_eq!(
            errors_field(&IncomingResponse::new(404, r#"{"errors":"Not Found"}"#)),
            "Not Found"
        );
        assert_eq!(
            errors_field(&IncomingResponse::new(422, r#"{"errors":{"query":["is invalid"]}}"#)),
            r#"{"query":["is invalid"]}"#
        );
        assert_eq!(
            errors_field(&IncomingResponse::new(502, "<html>Bad gateway</html>")),
            "<html>Bad gateway</html>"
        );
        assert_eq!(errors_field(&IncomingResponse::new(500, "")), "");
    }
}
