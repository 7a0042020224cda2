//! How HubSpot's refusals are read: which are worth retrying, and what the
//! operator is told.
//!
//! HubSpot answers errors with `{"status":"error","message":…,
//! "correlationId":…,"category":"VALIDATION_ERROR"}`; rate limits use
//! `errorType` and `policyName` instead of `category`. Every field is
//! optional in HubSpot's own words, so a body that is not JSON still gives a
//! useful message.

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;

/// HubSpot's error body; every field may be missing.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Human-readable reason.
    #[serde(default)]
    pub message: Option<String>,
    /// E.g. `VALIDATION_ERROR`, `CONFLICT`, `INVALID_AUTHENTICATION`, `MISSING_SCOPES`.
    #[serde(default)]
    pub category: Option<String>,
    /// HubSpot's id of the request, for its support.
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// `RATE_LIMIT` on 429 answers.
    #[serde(default)]
    pub error_type: Option<String>,
    /// Which rate limit was hit, e.g. `SECONDLY` or `DAILY`.
    #[serde(default)]
    pub policy_name: Option<String>,
}

impl ErrorBody {
    /// The body of a failed answer; empty when it is not HubSpot's JSON.
    pub fn of(response: &IncomingResponse) -> Self {
        response.json_body().unwrap_or_default()
    }

    /// The message, or the start of the raw body when there is none.
    pub fn message_or_body(&self, response: &IncomingResponse) -> String {
        match self.message.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
            Some(message) => message.to_owned(),
            None => {
                let text: String = response.text().chars().take(300).collect();
                if text.trim().is_empty() {
                    "no details".to_owned()
                } else {
                    text.trim().to_owned()
                }
            }
        }
    }
}

/// Reads a failed answer to `doing` (e.g. "the contact search").
///
/// Rate limits (429), HubSpot's own failures (5xx), 408 and 425 are retried,
/// honouring `Retry-After`. So is a refused token (401): nothing the plugin
/// sends will succeed until the operator fixes the secret, and retrying lets
/// every parked event catch up then instead of being lost; the warning says
/// what to fix. Any other 4xx is permanent: the request itself is wrong.
pub fn classify(host: &Host, response: &IncomingResponse, doing: &str) -> IntegrationError {
    let body = ErrorBody::of(response);
    let mut message = describe(response, &body, doing);
    match response.status {
        401 => {
            host.warn(&format!(
                "{message}. HubSpot refused the access token: check the `access_token` secret (a private app \
                 token of this HubSpot account, not revoked or rotated); events are retried and catch up once it \
                 is fixed"
            ));
            IntegrationError::Retryable {
                message,
                after_ms: response.retry_after_ms(),
            }
        }
        408 | 425 | 429 | 500..=599 => IntegrationError::Retryable {
            message,
            after_ms: response.retry_after_ms(),
        },
        _ => {
            if body.category.as_deref() == Some("MISSING_SCOPES") {
                message.push_str(
                    " (give the private app the scopes crm.objects.contacts.read and crm.objects.contacts.write)",
                );
            }
            IntegrationError::Permanent { message }
        }
    }
}

/// `HubSpot answered 400 to creating a contact: VALIDATION_ERROR: … (correlation id …)`.
pub fn describe(response: &IncomingResponse, body: &ErrorBody, doing: &str) -> String {
    let mut message = format!("HubSpot answered {} to {doing}: ", response.status);
    if let Some(kind) = body.category.as_deref().or(body.error_type.as_deref()) {
        message.push_str(kind);
        if let Some(policy) = &body.policy_name {
            message.push_str(&format!(" ({policy})"));
        }
        message.push_str(": ");
    }
    message.push_str(&body.message_or_body(response));
    if let Some(id) = &body.correlation_id {
        message.push_str(&format!(" (correlation id {id})"));
    }
    message
}

/// A request to `doing` that got no answer. Timeouts and unreachable servers
/// are retried; a request the host refused (a host not in `allowed_hosts`)
/// or could not make is permanent.
pub fn no_answer(error: HttpError, doing: &str) -> IntegrationError {
    match error {
        HttpError::Timeout(_) | HttpError::Unreachable(_) => {
            IntegrationError::retryable(format!("HubSpot did not answer {doing}: {error}"))
        }
        HttpError::Denied(_) => IntegrationError::permanent(format!(
            "the host refused the request for {doing}: {error}; the host of config `api_base` must be in the \
             instance's allowed_hosts"
        )),
        HttpError::TooLarge(_) | HttpError::Invalid(_) => {
            IntegrationError::permanent(format!("the request for {doing} failed: {error}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_category_and_correlation_id() {
        let response = IncomingResponse::json(
            400,
            &serde_json::json!({"status": "error", "message": "Bad email", "correlationId": "c-1", "category": "VALIDATION_ERROR"}),
        );
        assert_eq!(
            describe(&response, &ErrorBody::of(&response), "creating a contact"),
            "HubSpot answered 400 to creating a contact: VALIDATION_ERROR: Bad email (correlation id c-1)"
        );
        let response = IncomingResponse::new(502, "<html>Bad gateway</html>");
        assert_eq!(
            describe(&response, &ErrorBody::of(&response), "the search"),
            "HubSpot answered 502 to the search: <html>Bad gateway</html>"
        );
        let response = IncomingResponse::new(404, "");
        assert_eq!(
            describe(&response, &ErrorBody::of(&response), "x"),
            "HubSpot answered 404 to x: no details"
        );
    }
}
