//! How Salesforce's answers become [`IntegrationError`]s.
//!
//! The REST API reports failures as a JSON array,
//! `[{"message": "...", "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["LastName"]}]`.
//! Salesforce's own trouble (5xx, `SERVER_UNAVAILABLE`), the org's API quota
//! (`REQUEST_LIMIT_EXCEEDED`, HTTP 403), row locks and transport failures are
//! worth retrying; any other refusal names the error code and what to do.

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;

/// Error codes that mean "later" whatever the HTTP status.
const RETRYABLE_CODES: [&str; 5] = [
    "REQUEST_LIMIT_EXCEEDED",
    "SERVER_UNAVAILABLE",
    "UNABLE_TO_LOCK_ROW",
    "REQUEST_RUNNING_TOO_LONG",
    "QUERY_TIMEOUT",
];

/// The org's API quota is a rolling 24-hour window and Salesforce sends no
/// `Retry-After` with it: suggest a pause rather than an immediate retry.
pub const REQUEST_LIMIT_PAUSE_MS: u64 = 5 * 60 * 1000;

/// One entry of Salesforce's error array.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiError {
    /// E.g. `REQUIRED_FIELD_MISSING`.
    #[serde(rename = "errorCode", default)]
    pub error_code: String,
    /// Human text.
    #[serde(default)]
    pub message: String,
    /// The fields concerned, when any.
    #[serde(default)]
    pub fields: Vec<String>,
}

/// The error entries of an answer; empty when the body is not Salesforce's
/// error array (a proxy's HTML page, say). A lone error object, as some
/// endpoints and old docs show, is read too.
pub fn api_errors(response: &IncomingResponse) -> Vec<ApiError> {
    if let Ok(list) = response.json_body::<Vec<ApiError>>() {
        return list;
    }
    response
        .json_body::<ApiError>()
        .map(|one| vec![one])
        .unwrap_or_default()
}

/// Whether the answer carries this error code.
pub fn has_code(response: &IncomingResponse, code: &str) -> bool {
    api_errors(response).iter().any(|e| e.error_code == code)
}

/// Reads a failed answer of the REST API. `what` says what was attempted,
/// e.g. "upserting Contact Omni_Person_Id__c/p-1".
pub fn classify(response: &IncomingResponse, what: &str) -> IntegrationError {
    let errors = api_errors(response);
    let detail = if errors.is_empty() {
        let body: String = response.text().chars().take(300).collect();
        if body.trim().is_empty() {
            "no details".to_owned()
        } else {
            body
        }
    } else {
        errors.iter().map(describe).collect::<Vec<_>>().join("; ")
    };
    let mut message = format!("Salesforce answered {} while {what}: {detail}", response.status);
    if let Some(hint) = errors.iter().find_map(|e| hint(&e.error_code, e)) {
        message.push_str(&format!(" ({hint})"));
    }

    let limited = errors.iter().any(|e| e.error_code == "REQUEST_LIMIT_EXCEEDED");
    let retryable = matches!(response.status, 408 | 425 | 429 | 500..=599)
        || errors.iter().any(|e| RETRYABLE_CODES.contains(&e.error_code.as_str()));
    if retryable {
        let after_ms = response.retry_after_ms().or(limited.then_some(REQUEST_LIMIT_PAUSE_MS));
        IntegrationError::Retryable { message, after_ms }
    } else {
        IntegrationError::Permanent { message }
    }
}

/// A transport failure: timeouts and unreachable hosts are retried; a
/// refused host is the operator's `allowed_hosts`, which retrying cannot fix.
pub fn transport(error: HttpError, url: &str) -> IntegrationError {
    let origin = url.split('/').take(3).collect::<Vec<_>>().join("/");
    match error {
        HttpError::Timeout(_) | HttpError::Unreachable(_) => {
            IntegrationError::retryable(format!("Salesforce at {origin} did not answer: {error}"))
        }
        HttpError::Denied(_) => IntegrationError::permanent(format!(
            "{error}; list the host of {origin} in this instance's allowed_hosts"
        )),
        HttpError::TooLarge(_) | HttpError::Invalid(_) => {
            IntegrationError::permanent(format!("request to {origin} failed: {error}"))
        }
    }
}

/// `CODE: message [fields]`.
fn describe(error: &ApiError) -> String {
    let code = if error.error_code.is_empty() {
        "error"
    } else {
        &error.error_code
    };
    if error.fields.is_empty() {
        format!("{code}: {}", error.message)
    } else {
        format!("{code}: {} [{}]", error.message, error.fields.join(", "))
    }
}

/// What the operator does about Salesforce's usual refusals.
fn hint(code: &str, error: &ApiError) -> Option<String> {
    Some(match code {
        "NOT_FOUND" if error.message.contains("external ID") => {
            "create the External ID field named in config on that object, and give the integration user \
             field-level access to it"
                .to_owned()
        }
        "NOT_FOUND" => "check config `object`, the External ID field names and `api_version`".to_owned(),
        "INVALID_FIELD" | "INVALID_FIELD_FOR_INSERT_UPDATE" => {
            "a field is missing or not writable for the integration user: check field-level security".to_owned()
        }
        "INVALID_TYPE" => "the object is not available to the integration user".to_owned(),
        "REQUIRED_FIELD_MISSING" => "a validation rule or a required custom field needs a value Omni does not send; \
                                     give the field a default value"
            .to_owned(),
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" => {
            "add the value to the picklist, e.g. \"Omni\" to Case Origin, or unrestrict it".to_owned()
        }
        "DUPLICATES_DETECTED" => "a duplicate rule blocks the record; allow the integration user to save \
                                  duplicates or merge them in Salesforce"
            .to_owned(),
        "FIELD_CUSTOM_VALIDATION_EXCEPTION" => "a validation rule refused the record".to_owned(),
        "INSUFFICIENT_ACCESS" | "INSUFFICIENT_ACCESS_OR_READONLY" | "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY" => {
            "the integration user lacks permission on the object or record".to_owned()
        }
        "API_DISABLED_FOR_ORG" | "API_CURRENTLY_DISABLED" => {
            "the org's edition or the user's profile has no API access (\"API Enabled\")".to_owned()
        }
        "INVALID_EMAIL_ADDRESS" => "Salesforce refuses the person's email address".to_owned(),
        "STRING_TOO_LONG" => "a value is longer than the field allows".to_owned(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_arrays_are_read() {
        let response = IncomingResponse::new(
            400,
            r#"[{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]}]"#,
        );
        let error = classify(&response, "upserting");
        assert!(matches!(&error, IntegrationError::Permanent { message }
            if message.contains("REQUIRED_FIELD_MISSING: Required fields are missing: [LastName] [LastName]")));
    }

    #[test]
    fn unreadable_bodies_still_classify() {
        assert!(matches!(
            classify(&IncomingResponse::new(502, "<html>bad gateway</html>"), "x"),
            IntegrationError::Retryable { .. }
        ));
        assert!(matches!(
            classify(&IncomingResponse::new(400, ""), "x"),
            IntegrationError::Permanent { message } if message.ends_with("no details")
        ));
        assert!(matches!(
            classify(&IncomingResponse::new(400, vec![0xff, 0xfe]), "x"),
            IntegrationError::Permanent { .. }
        ));
    }

    #[test]
    fn row_locks_are_retried() {
        let response = IncomingResponse::new(
            400,
            r#"[{"message":"unable to obtain exclusive access to this record","errorCode":"UNABLE_TO_LOCK_ROW","fields":[]}]"#,
        );
        assert!(matches!(
            classify(&response, "x"),
            IntegrationError::Retryable { after_ms: None, .. }
        ));
    }

    #[test]
    fn transport_failures() {
        assert!(matches!(
            transport(
                HttpError::Timeout("t".into()),
                "https://acme.my.salesforce.com/services/data"
            ),
            IntegrationError::Retryable { .. }
        ));
        assert!(matches!(
            transport(HttpError::Denied("d".into()), "https://acme.my.salesforce.com/x"),
            IntegrationError::Permanent { message } if message.contains("https://acme.my.salesforce.com in this instance's allowed_hosts")
        ));
    }
}
