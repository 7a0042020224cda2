//! Meta's webhook and Graph API conventions, for the WhatsApp, Messenger and
//! Instagram connectors.
//!
//! Meta calls one webhook URL per app: a `GET` for the subscription handshake
//! ([`verify_subscription`]), answered with `hub.challenge` when
//! `hub.verify_token` matches the [`VERIFY_TOKEN`] secret, and `POST`s whose
//! body is signed with the app secret in `X-Hub-Signature-256`
//! ([`check_signature`], against the [`APP_SECRET`] secret). [`route`] does
//! both for [`WEBHOOK_PATH`]. Failed Graph API calls answer
//! `{"error": {"message", "type", "code", "error_subcode", "error_data",
//! "fbtrace_id"}}`; [`graph_failure`] turns such an answer into a
//! [`SendError`], by the codes every Meta product shares plus the product's
//! own ([`ErrorCodes`]). [`GraphApi`] reads where the Graph API lives.
//!
//! `product` arguments name the connector in operator-facing errors and logs,
//! e.g. `"WhatsApp"`.

use serde::Deserialize;

use crate::crypto::{constant_time_eq, verify_hub_signature_256};
use crate::{Host, HttpError, IncomingResponse, PluginError, Request, Response, SendError, WebhookOutcome};

/// Secret compared with `hub.verify_token` when Meta verifies the webhook.
pub const VERIFY_TOKEN: &str = "verify_token";
/// Secret Meta signs webhook bodies with (the app secret).
pub const APP_SECRET: &str = "app_secret";
/// The path below `/hooks/{instance}` Meta calls.
pub const WEBHOOK_PATH: &str = "/webhook";
/// Where the Graph API lives unless config `api_base` says otherwise.
pub const GRAPH_API_BASE: &str = "https://graph.facebook.com";
/// The Graph API version used unless config `api_version` says otherwise.
pub const GRAPH_API_VERSION: &str = "v21.0";

/// Longest challenge echoed back; Meta sends a short number.
const MAX_CHALLENGE_LEN: usize = 256;

/// Routes a call of the webhook: `GET` [`WEBHOOK_PATH`] is the subscription
/// handshake; `POST` goes to `receive` once its signature checked out; any
/// other path is 404 and any other method 405.
pub fn route(
    host: &Host,
    request: &Request,
    product: &str,
    receive: impl FnOnce(&Host, &Request) -> Result<WebhookOutcome, PluginError>,
) -> Result<WebhookOutcome, PluginError> {
    if request.path.trim_end_matches('/') != WEBHOOK_PATH {
        return Err(PluginError::not_found(format!(
            "the {product} connector has no route {}; Meta calls {WEBHOOK_PATH}",
            request.path
        )));
    }
    match request.method.as_str() {
        "GET" => verify_subscription(host, request, product),
        "POST" => {
            check_signature(host, request, product)?;
            receive(host, request)
        }
        other => Err(PluginError::Unsupported(format!(
            "{other} is not allowed on {WEBHOOK_PATH}; use GET or POST"
        ))),
    }
}

/// Answers the subscription handshake
/// (`GET /webhook?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`):
/// 200 with the challenge when the token matches the [`VERIFY_TOKEN`] secret, else 403.
pub fn verify_subscription(host: &Host, request: &Request, product: &str) -> Result<WebhookOutcome, PluginError> {
    let expected = host.secret(VERIFY_TOKEN).ok_or_else(|| {
        PluginError::internal(format!(
            "the secret `{VERIFY_TOKEN}` is not configured for this {product} instance"
        ))
    })?;
    let mode_ok = request.query_param("hub.mode").as_deref() == Some("subscribe");
    let token_ok = request
        .query_param("hub.verify_token")
        .is_some_and(|token| constant_time_eq(token.as_bytes(), expected.as_bytes()));
    if !(mode_ok && token_ok) {
        host.warn("refused a webhook verification: hub.mode is not subscribe or hub.verify_token does not match");
        return Err(PluginError::Forbidden(format!(
            "hub.mode must be subscribe and hub.verify_token must match the {VERIFY_TOKEN} secret"
        )));
    }
    let challenge = request
        .query_param("hub.challenge")
        .filter(|c| !c.is_empty() && c.len() <= MAX_CHALLENGE_LEN)
        .ok_or_else(|| PluginError::bad_request(format!("hub.challenge must be 1 to {MAX_CHALLENGE_LEN} bytes")))?;
    host.info("Meta verified the webhook subscription");
    let response = Response::text(200, challenge).with_header("x-content-type-options", "nosniff");
    Ok(WebhookOutcome::new(response))
}

/// Refuses (401) a request whose body is not signed in `X-Hub-Signature-256`
/// with the [`APP_SECRET`] secret; a missing secret is an `internal` error.
pub fn check_signature(host: &Host, request: &Request, product: &str) -> Result<(), PluginError> {
    let secret = host.secret(APP_SECRET).ok_or_else(|| {
        PluginError::internal(format!(
            "the secret `{APP_SECRET}` (the Meta app secret) is not configured for this {product} instance"
        ))
    })?;
    let Some(header) = request.header("x-hub-signature-256") else {
        host.warn("refused an unsigned webhook: no X-Hub-Signature-256 header");
        return Err(PluginError::unauthorized("missing X-Hub-Signature-256 header"));
    };
    if !verify_hub_signature_256(secret.as_bytes(), &request.body, header) {
        host.warn("refused a webhook whose X-Hub-Signature-256 does not match the body");
        return Err(PluginError::unauthorized("X-Hub-Signature-256 does not match the body"));
    }
    Ok(())
}

/// The Graph API an instance calls: config `api_base` and `api_version`, with Meta's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphApi {
    /// Base URL without a trailing slash.
    pub base: String,
    /// Version, e.g. `v21.0`.
    pub version: String,
}

impl GraphApi {
    /// Reads config `api_base` and `api_version`; a value of the wrong shape is an `internal` error.
    pub fn load(host: &Host) -> Result<Self, PluginError> {
        let base: String = host.config_or("api_base", GRAPH_API_BASE.to_owned())?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            version: host.config_or("api_version", GRAPH_API_VERSION.to_owned())?,
        })
    }

    /// `{base}/{version}/{path}`, for a `path` without a leading slash.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}/{path}", self.base, self.version)
    }

    /// The JSON Schema properties of `api_base` and `api_version`, for a
    /// connector's config schema.
    pub fn config_schema_properties() -> serde_json::Map<String, serde_json::Value> {
        let properties = serde_json::json!({
            "api_base": {
                "type": "string",
                "pattern": "^https?://[^/?#]+(/[^?#]*)?$",
                "description": "Graph API base URL (default https://graph.facebook.com); change it only to point tests at a local server."
            },
            "api_version": {
                "type": "string",
                "pattern": "^v[0-9]+\\.[0-9]+$",
                "description": "Graph API version used for sending (default v21.0)."
            }
        });
        match properties {
            serde_json::Value::Object(map) => map,
            _ => unreachable!("a JSON object literal"),
        }
    }
}

/// Codes worth retrying in every Meta product: 1 unknown error, 2 service
/// unavailable, 4 application rate limit.
const RETRYABLE: &[i64] = &[1, 2, 4];

/// Codes a retry cannot fix in every Meta product, whatever the HTTP status:
/// 10 permission or policy, 100 invalid parameter, 190 expired token, 368
/// policy block (and 200-299 permissions).
const PERMANENT: &[i64] = &[10, 100, 190, 368];

/// A product's own Graph error codes, on top of those every Meta product shares.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorCodes<'a> {
    /// Codes worth retrying whatever the HTTP status.
    pub retryable: &'a [i64],
    /// Codes a retry cannot fix whatever the HTTP status.
    pub permanent: &'a [i64],
}

/// A failed Graph API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphFailure {
    /// The Graph error code, when the answer had one.
    pub code: Option<i64>,
    /// Its subcode.
    pub subcode: Option<i64>,
    /// What the host is told.
    pub error: SendError,
}

impl From<HttpError> for GraphFailure {
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
    /// An object with `details` (WhatsApp), or another shape elsewhere.
    #[serde(default)]
    error_data: Option<serde_json::Value>,
    #[serde(default)]
    fbtrace_id: Option<String>,
}

/// Classifies a non-2xx answer of the Graph API. A code in `codes` or among
/// the shared ones decides; an unlisted code (or an answer without a Graph
/// error body) follows the HTTP status: 408, 425, 429 and 5xx are retryable,
/// with `Retry-After` or else the `X-Business-Use-Case-Usage` hint.
pub fn graph_failure(response: &IncomingResponse, product: &str, codes: &ErrorCodes<'_>) -> GraphFailure {
    let Ok(Body { error }) = response.json_body::<Body>() else {
        // No Graph error body (a proxy's 502, say): the HTTP status decides.
        return GraphFailure {
            code: None,
            subcode: None,
            error: response.send_error(product),
        };
    };
    let retryable = match error.code {
        Some(code) if RETRYABLE.contains(&code) || codes.retryable.contains(&code) => true,
        Some(code) if PERMANENT.contains(&code) || codes.permanent.contains(&code) || (200..=299).contains(&code) => {
            false
        }
        _ => matches!(response.status, 408 | 425 | 429 | 500..=599),
    };
    let message = describe(&error, product, response.status);
    GraphFailure {
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

/// `<product> error <code>[/<subcode>]: <title>[: <details>] [HTTP <status>, fbtrace_id <id>]`.
fn describe(error: &GraphError, product: &str, status: u16) -> String {
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
    let mut text = format!("{product} error {code}: {title}");
    if let Some(details) = error
        .error_data
        .as_ref()
        .and_then(|data| data.get("details"))
        .and_then(serde_json::Value::as_str)
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

/// Meta's own retry hint: `X-Business-Use-Case-Usage` holds, per business or
/// Page, `estimated_time_to_regain_access` in minutes once a rate limit is hit.
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
    use crate::crypto::hmac_sha256_hex;
    use crate::testing::MockHost;
    use serde_json::json;

    fn mock() -> MockHost {
        MockHost::new()
            .with_secret(VERIFY_TOKEN, "vt")
            .with_secret(APP_SECRET, "app-secret")
    }

    fn received(_: &Host, _: &Request) -> Result<WebhookOutcome, PluginError> {
        Ok(WebhookOutcome::new(Response::ok()))
    }

    fn signed(body: &str) -> Request {
        let signature = format!("sha256={}", hmac_sha256_hex(b"app-secret", body.as_bytes()));
        Request::post("/webhook", body).with_header("x-hub-signature-256", &signature)
    }

    #[test]
    fn the_handshake_echoes_the_challenge_for_the_right_token() {
        let mock = mock();
        let ok = Request::get("/webhook?hub.mode=subscribe&hub.verify_token=vt&hub.challenge=42");
        let outcome = route(&mock.host(), &ok, "P", received).unwrap();
        assert_eq!(outcome.response.status, 200);
        assert_eq!(outcome.response.body, b"42");
        let wrong = Request::get("/webhook?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=42");
        assert_eq!(
            verify_subscription(&mock.host(), &wrong, "P").unwrap_err().status(),
            403
        );
        let long = format!(
            "/webhook?hub.mode=subscribe&hub.verify_token=vt&hub.challenge={}",
            "1".repeat(257)
        );
        assert_eq!(
            verify_subscription(&mock.host(), &Request::get(&long), "P")
                .unwrap_err()
                .status(),
            400
        );
        let err = verify_subscription(&MockHost::new().host(), &ok, "Acme").unwrap_err();
        assert_eq!(err.status(), 500);
        assert!(
            err.message().contains("verify_token") && err.message().contains("Acme"),
            "{err}"
        );
    }

    #[test]
    fn posts_reach_the_receiver_only_when_signed() {
        let mock = mock();
        let body = r#"{"object":"page"}"#;
        assert_eq!(
            route(&mock.host(), &signed(body), "P", received)
                .unwrap()
                .response
                .status,
            200
        );
        let forged = Request::post("/webhook", body).with_header("x-hub-signature-256", "sha256=00");
        assert_eq!(check_signature(&mock.host(), &forged, "P").unwrap_err().status(), 401);
        let unsigned = Request::post_json("/webhook", &json!({}));
        assert_eq!(route(&mock.host(), &unsigned, "P", received).unwrap_err().status(), 401);
        let err = check_signature(&MockHost::new().host(), &signed(body), "Acme").unwrap_err();
        assert_eq!(err.status(), 500);
        assert!(
            err.message().contains("app_secret") && err.message().contains("Acme"),
            "{err}"
        );
    }

    #[test]
    fn other_routes_and_methods_are_refused() {
        let mock = mock();
        let err = route(&mock.host(), &Request::get("/inbound"), "P", received).unwrap_err();
        assert_eq!(err.status(), 404);
        assert!(err.message().contains("the P connector"), "{err}");
        let err = route(&mock.host(), &Request::new("PUT", "/webhook/"), "P", received).unwrap_err();
        assert_eq!(err.status(), 405);
    }

    #[test]
    fn the_graph_api_defaults_to_meta() {
        let api = GraphApi::load(&MockHost::new().host()).unwrap();
        assert_eq!(api.url("me/messages"), "https://graph.facebook.com/v21.0/me/messages");
        let mock = MockHost::new()
            .with_config("api_base", json!("http://127.0.0.1:9/"))
            .with_config("api_version", json!("v23.0"));
        assert_eq!(
            GraphApi::load(&mock.host()).unwrap().url("1/messages"),
            "http://127.0.0.1:9/v23.0/1/messages"
        );
        let properties = GraphApi::config_schema_properties();
        assert_eq!(properties.keys().collect::<Vec<_>>(), ["api_base", "api_version"]);
        assert!(properties.values().all(|p| p["description"].is_string()));
    }

    fn graph(status: u16, error: serde_json::Value) -> IncomingResponse {
        IncomingResponse::json(status, &json!({ "error": error }))
    }

    #[test]
    fn shared_and_product_codes_decide_over_the_status() {
        let codes = ErrorCodes {
            retryable: &[7],
            permanent: &[8],
        };
        let kind = |status, code: i64| match graph_failure(&graph(status, json!({"code": code})), "P", &codes).error {
            SendError::Retryable { .. } => "retryable",
            SendError::Permanent { .. } => "permanent",
        };
        assert_eq!(kind(400, 4), "retryable");
        assert_eq!(kind(400, 7), "retryable");
        assert_eq!(kind(500, 190), "permanent");
        assert_eq!(kind(500, 8), "permanent");
        assert_eq!(kind(500, 250), "permanent");
        assert_eq!(kind(503, 999), "retryable");
        assert_eq!(kind(400, 999), "permanent");
    }

    #[test]
    fn the_message_names_code_title_details_status_and_trace() {
        let error = json!({
            "message": "(#131047) Re-engagement message",
            "code": 131047,
            "error_subcode": 2494010,
            "error_data": {"messaging_product": "whatsapp", "details": "More than 24 hours have passed"},
            "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"
        });
        let failure = graph_failure(&graph(400, error), "WhatsApp", &ErrorCodes::default());
        assert_eq!((failure.code, failure.subcode), (Some(131047), Some(2494010)));
        assert_eq!(
            failure.error,
            SendError::permanent(
                "WhatsApp error 131047/2494010: Re-engagement message: More than 24 hours have passed \
                 [HTTP 400, fbtrace_id Az8or2yhqkZfEZ-_4Qn_Bam]"
            )
        );
        // `error_data` of another shape is not an unreadable answer.
        let odd = graph(400, json!({"message": "x", "code": 100, "error_data": "{}"}));
        assert_eq!(
            graph_failure(&odd, "Messenger", &ErrorCodes::default()).error,
            SendError::permanent("Messenger error 100: x [HTTP 400]")
        );
    }

    #[test]
    fn answers_without_a_graph_body_follow_the_status() {
        let response = IncomingResponse::new(502, "Bad Gateway").with_header("retry-after", "7");
        let failure = graph_failure(&response, "P", &ErrorCodes::default());
        assert_eq!((failure.code, failure.subcode), (None, None));
        assert_eq!(
            failure.error,
            SendError::Retryable {
                message: "P answered 502: Bad Gateway".into(),
                after_ms: Some(7000)
            }
        );
        let unreachable = GraphFailure::from(HttpError::Timeout("t".into()));
        assert!(matches!(unreachable.error, SendError::Retryable { .. }));
    }

    #[test]
    fn the_usage_header_gives_a_retry_hint() {
        let usage =
            r#"{"1":[{"type":"x","estimated_time_to_regain_access":0}],"2":[{"estimated_time_to_regain_access":5}]}"#;
        let response = graph(400, json!({"code": 4})).with_header("x-business-use-case-usage", usage);
        match graph_failure(&response, "P", &ErrorCodes::default()).error {
            SendError::Retryable { after_ms, .. } => assert_eq!(after_ms, Some(300_000)),
            other => panic!("{other:?}"),
        }
        let retry_after = graph(429, json!({"code": 4}))
            .with_header("retry-after", "3")
            .with_header("x-business-use-case-usage", usage);
        match graph_failure(&retry_after, "P", &ErrorCodes::default()).error {
            SendError::Retryable { after_ms, .. } => assert_eq!(after_ms, Some(3000)),
            other => panic!("{other:?}"),
        }
    }
}
