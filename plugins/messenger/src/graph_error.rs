//! The Messenger Platform's own Send API error codes, on top of the Graph
//! API's shared ones that [`omni_plugin_sdk::meta::graph_failure`] knows, and
//! the refusal of a reply outside the 24-hour window.

use omni_plugin_sdk::meta::{self, ErrorCodes, GraphFailure};
use omni_plugin_sdk::prelude::*;

/// Codes worth retrying beyond the shared ones (1, 2, 4): rate limits (17
/// user, 32 Page, 613 calls) and 1200 temporary send failure.
const RETRYABLE: &[i64] = &[17, 32, 613, 1200];

/// Codes a retry cannot fix whatever the HTTP status, beyond the shared ones
/// (10 policy or window, 100 invalid parameter or no matching user, 190
/// expired token, 200-299 permissions, 368 policy block): 230 permissions,
/// 551 person unavailable.
const PERMANENT: &[i64] = &[230, 551];

/// Subcodes of code 10 meaning "sent outside of the allowed window":
/// 2018278 for Messenger, 2534022 for Instagram.
const OUTSIDE_WINDOW: &[i64] = &[2018278, 2534022];

/// Classifies a non-2xx answer of the Send API.
pub fn failure(response: &IncomingResponse) -> GraphFailure {
    let codes = ErrorCodes {
        retryable: RETRYABLE,
        permanent: PERMANENT,
    };
    meta::graph_failure(response, crate::PRODUCT, &codes)
}

/// Whether Meta refused the message for falling outside the 24-hour window.
pub fn is_outside_window(failure: &GraphFailure) -> bool {
    failure.code == Some(10) && failure.subcode.is_some_and(|s| OUTSIDE_WINDOW.contains(&s))
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
        assert!(is_outside_window(&failure(&graph(400, 10, Some(2018278)))));
        assert!(is_outside_window(&failure(&graph(400, 10, Some(2534022)))));
        assert!(!is_outside_window(&failure(&graph(400, 10, Some(2018065)))));
        assert!(!is_outside_window(&failure(&graph(400, 100, Some(2018278)))));
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
