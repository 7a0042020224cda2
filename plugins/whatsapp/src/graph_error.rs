//! WhatsApp's own Graph API error codes, on top of the shared ones that
//! [`omni_plugin_sdk::meta::graph_failure`] knows.

use omni_plugin_sdk::meta::{self, ErrorCodes, GraphFailure};
use omni_plugin_sdk::prelude::*;

/// Codes worth retrying beyond the shared ones (1, 2, 4): throughput and
/// pair rate limits (130429, 131056), the account rate limit (80007), and
/// temporary failures (131000 something went wrong, 131016 service
/// unavailable, 133004 server temporarily unavailable).
const RETRYABLE: &[i64] = &[80007, 130429, 131000, 131016, 131056, 133004];

/// Codes a retry cannot fix whatever the HTTP status, beyond the shared ones
/// (10 and 200-299 permissions, 100 invalid parameter, 190 expired token,
/// 368 policy block): invalid parameter (131009), undeliverable (131026),
/// closed 24-hour window (131047), unsupported message type (131051), spam
/// rate limit (131048).
const PERMANENT: &[i64] = &[131009, 131026, 131047, 131048, 131051];

/// The code WhatsApp answers when the 24-hour customer service window is closed.
pub const REENGAGEMENT_REQUIRED: i64 = 131047;

/// Classifies a non-2xx answer of the Graph API.
pub fn failure(response: &IncomingResponse) -> GraphFailure {
    let codes = ErrorCodes {
        retryable: RETRYABLE,
        permanent: PERMANENT,
    };
    meta::graph_failure(response, crate::PRODUCT, &codes)
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
