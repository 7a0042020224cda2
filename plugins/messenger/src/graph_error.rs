//! Reading the Send API's error answers (`{"error": {"message", "type",
//! "code", "error_subcode", "fbtrace_id"}}`) and deciding whether a retry can
//! help, by the Messenger Platform's documented error codes.

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;

/// Codes worth retrying: rate limits (4 application, 17 user, 32 Page, 613
/// calls) and temporary failures (1 unknown, 2 service, 1200 temporary send failure).
const RETRYABLE: &[i64] = &[1, 2, 4, 17, 32, 613, 1200];

/// Codes a retry cannot fix whatever the HTTP status: policy or window (10),
/// invalid parameter or no matching user (100), expired token (190),
/// permissions (200-299, 230), policy block (368), person unavailable (551).
const PERMANENT: &[i64] = &[10, 100, 190, 230, 368, 551];

/// Subcodes of code 10 meaning "sent outside of the allowed window":
/// 2018278 for Messenger, 2534022 for Instagram.
const OUTSIDE_WINDOW: &[i64] = &[2018278, 2534022];

/// A failed Send API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The Graph error code, when the answer had one.
    pub code: Option<i64>,
    /// Its subcode.
    pub subcode: Option<i64>,
    /// What the host is told.
    pub error: SendError,
}

impl Failure {
    /// Whether Meta refused the message for falling outside the 24-hour window.
    pub fn is_outside_window(&self) -> bool {
        self.code == Some(10) && self.subcode.is_some_and(|s| OUTSIDE_WINDOW.contains(&s))
    }
}

impl From<HttpError> for Failure {
    fn from(error: HttpError) -> Self {
        Self {
            code: None,
            subcode: None,
            error: error.into(),
        }
    }
}

#[derive(Deserialize)]
struct Body {
    error: GraphError,
}

#[derive(Deserialize)]
struct GraphError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    error_subcode: Option<i64>,
    #[serde(default)]
    fbtrace_id: Option<String>,
}

/// Classifies a non-2xx answer of the Send API.
pub fn failure(response: &IncomingResponse) -> Failure {
    let Ok(Body { error }) = response.json_body::<Body>() else {
        // No Graph error body (a proxy's 502, say): the HTTP status decides.
        return Failure {
            code: None,
            subcode: None,
            error: response.send_error("Messenger"),
        };
    };
    let retryable = match error.code {
        Some(code) if RETRYABLE.contains(&code) => true,
        Some(code) if PERMANENT.contains(&code) || (200..=299).contains(&code) => false,
        _ => matches!(response.status, 408 | 425 | 429 | 500..=599),
    };
    let message = describe(&error, response.status);
    Failure {
        code: error.code,
        subcode: error.error_subcode,
        error: if retryable {
            SendError::Retryable {
                message,
                after_ms: response.retry_after_ms().or_else(|| regain_access_hint(response)),
            }
        } else {
            SendError::permanent(message)
        },
    }
}

/// `Messenger error <code>/<subcode>: <message> [HTTP <status>, fbtrace_id <id>]`.
fn describe(error: &GraphError, status: u16) -> String {
    let code = match (error.code, error.error_subcode) {
        (Some(code), Some(sub)) => format!("{code}/{sub}"),
        (Some(code), None) => code.to_string(),
        (None, _) => "?".to_owned(),
    };
    // The title is the message after its "(#code) " prefix.
    let title = match error.message.split_once(") ") {
        Some((prefix, rest)) if prefix.starts_with("(#") => rest,
        _ => error.message.as_str(),
    };
    let mut text = format!("Messenger error {code}: {title} [HTTP {status}");
    if let Some(trace) = &error.fbtrace_id {
        text.push_str(&format!(", fbtrace_id {trace}"));
    }
    text.push(']');
    text
}

/// Meta's own retry hint: `X-Business-Use-Case-Usage` holds, per Page,
/// `estimated_time_to_regain_access` in minutes once a rate limit is hit.
fn regain_access_hint(response: &IncomingResponse) -> Option<u64> {
    let usage: serde_json::Value = serde_json::from_str(response.header("x-business-use-case-usage")?).ok()?;
    let minutes = usage
        .as_object()?
        .values()
        .filter_map(serde_json::Value::as_array)
        .flatten()
        .filter_map(|entry| entry.get("estimated_time_to_regain_access")?.as_u64())
        .max()?;
    (minutes > 0).then(|| minutes.saturating_mul(60_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(status: u16, code: i64, subcode: Option<i64>) -> IncomingResponse {
        let mut error = serde_json::json!({"message": "(#1) x", "type": "OAuthException", "code": code});
        if let Some(subcode) = subcode {
            error["error_subcode"] = subcode.into();
        }
        IncomingResponse::json(status, &serde_json::json!({ "error": error }))
    }

    #[test]
    fn codes_decide_over_the_http_status() {
        assert!(matches!(
            failure(&graph(400, 32, None)).error,
            SendError::Retryable { .. }
        ));
        assert!(matches!(
            failure(&graph(400, 4, None)).error,
            SendError::Retryable { .. }
        ));
        assert!(matches!(
            failure(&graph(500, 551, None)).error,
            SendError::Permanent { .. }
        ));
        assert!(matches!(
            failure(&graph(403, 230, None)).error,
            SendError::Permanent { .. }
        ));
        assert!(matches!(
            failure(&graph(503, 999, None)).error,
            SendError::Retryable { .. }
        ));
        assert!(matches!(
            failure(&graph(400, 999, None)).error,
            SendError::Permanent { .. }
        ));
    }

    #[test]
    fn the_window_refusal_is_recognised_on_both_platforms() {
        assert!(failure(&graph(400, 10, Some(2018278))).is_outside_window());
        assert!(failure(&graph(400, 10, Some(2534022))).is_outside_window());
        assert!(!failure(&graph(400, 10, Some(2018065))).is_outside_window());
        assert!(!failure(&graph(400, 100, Some(2018278))).is_outside_window());
    }

    #[test]
    fn the_usage_header_gives_a_retry_hint() {
        let usage = r#"{"123":[{"type":"messenger","call_count":100,"estimated_time_to_regain_access":2}]}"#;
        let response = graph(400, 613, None).with_header("x-business-use-case-usage", usage);
        match failure(&response).error {
            SendError::Retryable { after_ms, .. } => assert_eq!(after_ms, Some(120_000)),
            other => panic!("{other:?}"),
        }
    }
}
