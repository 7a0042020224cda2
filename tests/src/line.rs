//! A local LINE Messaging API for the push endpoint, honouring
//! `X-Line-Retry-Key` as LINE documents it: the first request with a key is
//! executed, a later one with the same key is answered 409 with
//! `x-line-accepted-request-id`. It counts what was executed per key, so a
//! test can prove each reply reached the person exactly once however often
//! hosts retried it. Also: LINE webhooks signed as LINE signs them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use omni_plugin_sdk::crypto::{base64, hmac_sha256};
use serde_json::{Value, json};

/// The channel secret and access token of the test hosts' LINE instances
/// (`OMNI_TEST_SECRET`).
pub const SECRET: &str = "s3cret";

#[derive(Default)]
struct State {
    /// Executed pushes by retry key: (recipient, texts).
    executed: BTreeMap<String, (String, Vec<String>)>,
    /// Requests answered 409 because their key was already executed.
    repeats: usize,
    latency: Duration,
}

/// A running fake LINE API on 127.0.0.1.
pub struct FakeLine {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeLine {
    /// Starts the API.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let shared = state.clone();
        let app = axum::Router::new().route(
            "/v2/bot/message/push",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| push(shared.clone(), headers, body)),
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, state, server }
    }

    /// Makes every push take `latency` before LINE executes it.
    pub fn set_latency(&self, latency: Duration) {
        self.state.lock().expect("state").latency = latency;
    }

    /// Texts executed, each with how many pushes carried it (1 when every
    /// reply reached the person once).
    pub fn executed_texts(&self) -> BTreeMap<String, usize> {
        let state = self.state.lock().expect("state");
        let mut texts = BTreeMap::new();
        for (_, messages) in state.executed.values() {
            for text in messages {
                *texts.entry(text.clone()).or_insert(0) += 1;
            }
        }
        texts
    }

    /// Pushes refused as repeats of an executed retry key.
    pub fn repeats(&self) -> usize {
        self.state.lock().expect("state").repeats
    }
}

impl Drop for FakeLine {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn push(state: Arc<Mutex<State>>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let latency = state.lock().expect("state").latency;
    tokio::time::sleep(latency).await;
    let key = headers
        .get("x-line-retry-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut state = state.lock().expect("state");
    if key.is_empty() || request["to"].as_str().is_none() {
        return (
            StatusCode::BAD_REQUEST,
            [("x-line-request-id", "req-refused".to_owned())],
            json!({"message": "The request body has 1 error(s)"}).to_string(),
        );
    }
    if state.executed.contains_key(&key) {
        state.repeats += 1;
        return (
            StatusCode::CONFLICT,
            [("x-line-accepted-request-id", format!("req-{key}"))],
            json!({"message": "The retry key is already accepted"}).to_string(),
        );
    }
    let texts = request["messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .filter_map(|m| m["text"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let id = state.executed.len() + 1;
    state
        .executed
        .insert(key, (request["to"].as_str().unwrap_or_default().to_owned(), texts));
    (
        StatusCode::OK,
        [("x-line-request-id", format!("req-{id}"))],
        json!({"sentMessages": [{"id": format!("{}", 500_000_000 + id), "quoteToken": "q"}]}).to_string(),
    )
}

/// A LINE webhook body with one text message event.
pub fn text_event(user: &str, message_id: &str, text: &str) -> String {
    json!({"destination": "Uxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "events": [{
        "type": "message", "mode": "active", "timestamp": 1_795_780_800_000u64,
        "source": {"type": "user", "userId": user},
        "webhookEventId": format!("01HZ{message_id}"),
        "deliveryContext": {"isRedelivery": false},
        "replyToken": "757913772c4646b784d4b7ce46d12671",
        "message": {"id": message_id, "type": "text", "quoteToken": "q", "text": text}}]})
    .to_string()
}

/// Posts a signed text event to the `line` instance of the host at `base`,
/// as LINE would; `true` when it answered 2xx.
pub async fn post_event(client: &reqwest::Client, base: &str, user: &str, message_id: &str, text: &str) -> bool {
    let body = text_event(user, message_id, text);
    let response = client
        .post(format!("{base}/hooks/line/webhook"))
        .header("content-type", "application/json")
        .header("x-line-signature", signature(SECRET, &body))
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    matches!(response, Ok(r) if r.status().is_success())
}

/// The `x-line-signature` of `body` under `secret`.
pub fn signature(secret: &str, body: &str) -> String {
    base64(&hmac_sha256(secret.as_bytes(), body.as_bytes()))
}

/// A `[[plugins]]` entry for the LINE connector pointed at `line`, with a
/// 1 s call timeout (so a 3 s delivery lease is allowed).
pub fn plugin_entry(line: &FakeLine) -> String {
    crate::process::plugin(
        "line",
        crate::wasm::line(),
        &format!(
            "allowed_hosts = [\"{0}\"]\nlimits = {{ timeout_ms = 1000 }}\n\
             secrets = {{ channel_secret = {{ env = \"OMNI_TEST_SECRET\" }}, \
             channel_access_token = {{ env = \"OMNI_TEST_SECRET\" }} }}\n[plugins.config]\napi_base = \"{0}\"\n",
            line.base
        ),
    )
}
