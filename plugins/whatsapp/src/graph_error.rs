//! Reading the Graph API's error answers (`{"error": {"message", "type",
//! "code", "error_subcode", "error_data": {"details"}, "fbtrace_id"}}`) and
//! deciding whether a retry can help, by WhatsApp's documented error codes.

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;

/// Codes worth retrying: throughput and pair rate limits (130429, 131056),
/// app and account rate limits (4, 80007), and temporary failures (1, 2,
/// 131000 something went wrong, 131016 service unavailable, 133004 server
/// temporarily unavailable).
const RETRYABLE: &[i64] = &[1, 2, 4, 80007, 130429, 131000, 131016, 131056, 133004];

/// Codes a retry cannot fix whatever the HTTP status: invalid parameters
/// (100, 131009), permissions (10, 200-299), expired token (190), policy
/// block (368), undeliverable (131026), closed 24-hour window (131047),
/// unsupported message type (131051), spam rate limit (131048).
const PERMANENT: &[i64] = &[10, 100, 190, 368, 131009, 131026, 131047, 131048, 131051];

/// The code WhatsApp answers when the 24-hour customer service window is closed.
pub const REENGAGEMENT_REQUIRED: i64 = 131047;

/// A failed Graph API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The Graph error code, when the answer had one.
    pub code: Option<i64>,
    /// What the host is told.
    pub error: SendError,
}

impl From<HttpError> for Failure {
    fn from(error: HttpError) -> Self {
        Self {
            code: None,
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
    error_data: Option<ErrorData>,
    #[serde(default)]
    fbtrace_id: Option<String>,
}

#[derive(Deserialize)]
struct ErrorData {
    #[serde(default)]
    details: Option<String>,
}

/// Classifies a non-2xx answer of the Graph API.
pub fn failure(response: &IncomingResponse) -> Failure {
    let Ok(Body { error }) = response.json_body::<Body>() else {
        // No Graph error body (a proxy's 502, say): the HTTP status decides.
        return Failure {
            code: None,
            error: response.send_error("WhatsApp"),
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

/// `WhatsApp error <code>: <title>: <details> [HTTP <status>, fbtrace_id <id>]`.
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
    let mut text = format!("WhatsApp error {code}: {title}");
    if let Some(details) = error.error_data.as_ref().and_then(|d| d.details.as_deref())
        && !details.is_empty()
    {
        text.push_str(&format!(": {details}"));
    }
    text.push_str(&format!(" [HTTP {status}"));
    if let Some(trace) = &error.fbtrace_id {
        text.push_str(&format!(", fbtrace_id {trace}"));
    }
    text.push(']');
    text
}

/// Meta's own retry hint: `X-Business-Use-Case-Usage` holds, per business,
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

    fn graph(status: u16, code: i64) -> IncomingResponse {
        IncomingResponse::json(
            status,
            &serde_json::json!({"error": {"message": "(#1) x", "code": code}}),
        )
    }

    #[test]
    fn codes_decide_over_the_http_status() {
        assert!(matches!(
            failure(&graph(400, 130429)).error,
            SendError::Retryable { .. }
        ));
        assert!(matches!(failure(&graph(400, 80007)).error, SendError::Retryable { .. }));
        assert!(matches!(
            failure(&graph(500, 131047)).error,
            SendError::Permanent { .. }
        ));
        assert!(matches!(failure(&graph(403, 200)).error, SendError::Permanent { .. }));
        assert!(matches!(failure(&graph(403, 368)).error, SendError::Permanent { .. }));
        // An unlisted code follows the status.
        assert!(matches!(failure(&graph(503, 999)).error, SendError::Retryable { .. }));
        assert!(matches!(failure(&graph(400, 999)).error, SendError::Permanent { .. }));
    }

    #[test]
    fn answers_without_a_graph_body_follow_the_status() {
        let failure = failure(&IncomingResponse::new(502, "Bad Gateway").with_header("retry-after", "7"));
        assert_eq!(failure.code, None);
        assert_eq!(
            failure.error,
            SendError::Retryable {
                message: "WhatsApp answered 502: Bad Gateway".into(),
                after_ms: Some(7000)
            }
        );
    }

    #[test]
    fn the_usage_header_gives_a_retry_hint() {
        let usage = r#"{"102290129340398":[{"type":"whatsapp","call_count":100,"total_cputime":10,"total_time":12,"estimated_time_to_regain_access":3}]}"#;
        let response = graph(400, 80007).with_header("x-business-use-case-usage", usage);
        match failure(&response).error {
            SendError::Retryable { after_ms, .. } => assert_eq!(after_ms, Some(180_000)),
            other => panic!("{other:?}"),
        }
    }
}
