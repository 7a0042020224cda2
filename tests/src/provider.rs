//! A local stand-in for a provider's API (Twilio, Meta Graph, Telegram,
//! Postmark, ...): it records every request a connector sends and answers
//! from a script, so tests check the exact wire format and drive retries.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;

/// One request the provider received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path, e.g. `/2010-04-01/Accounts/AC1/Messages.json`.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// Headers, names lower case.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

impl Recorded {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} {} body is not JSON: {e}", self.method, self.path))
    }

    /// A field of a form-encoded body.
    pub fn form(&self, name: &str) -> Option<String> {
        form_fields(&self.body)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// Decodes `application/x-www-form-urlencoded`.
pub fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The default answer, computed from the request and how many came before it.
type Responder = dyn Fn(&Recorded, usize) -> (u16, String) + Send + Sync;

struct State {
    requests: Mutex<Vec<Recorded>>,
    script: Mutex<VecDeque<(u16, String)>>,
    responder: Box<Responder>,
    latency: Mutex<Duration>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

/// A running fake provider on 127.0.0.1.
pub struct FakeProvider {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeProvider {
    /// Starts a provider answering every request with `responder`, unless a
    /// scripted answer is queued.
    pub async fn start(responder: impl Fn(&Recorded, usize) -> (u16, String) + Send + Sync + 'static) -> Self {
        let state = Arc::new(State {
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(VecDeque::new()),
            responder: Box::new(responder),
            latency: Mutex::new(Duration::ZERO),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let shared = state.clone();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = shared.clone();
            async move { answer(&state, method, uri, headers, body).await }
        });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, state, server }
    }

    /// Queues answers for the next requests, before the default responder.
    pub fn script(&self, answers: &[(u16, &str)]) {
        let mut script = self.state.script.lock().expect("script");
        script.extend(answers.iter().map(|(s, b)| (*s, (*b).to_owned())));
    }

    /// Makes every answer take `latency` (requests are recorded on arrival).
    pub fn set_latency(&self, latency: Duration) {
        *self.state.latency.lock().expect("latency") = latency;
    }

    /// The most requests that were being answered at the same time.
    pub fn most_in_flight(&self) -> usize {
        self.state.most_in_flight.load(Ordering::SeqCst)
    }

    /// What was received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().expect("requests").clone()
    }

    /// Waits until `count` requests arrived, or panics after `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Recorded> {
        let started = Instant::now();
        loop {
            let requests = self.requests();
            if requests.len() >= count {
                return requests;
            }
            assert!(
                started.elapsed() < timeout,
                "the provider got {} of {count} expected requests: {requests:#?}",
                requests.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The origin to put in a connector's `allowed_hosts`.
    pub fn origin(&self) -> &str {
        &self.base
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn answer(state: &State, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> impl IntoResponse + use<> {
    let recorded = Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
        at: Instant::now(),
    };
    let (status, body) = {
        let mut requests = state.requests.lock().expect("requests");
        let scripted = state.script.lock().expect("script").pop_front();
        let answer = scripted.unwrap_or_else(|| (state.responder)(&recorded, requests.len()));
        requests.push(recorded);
        answer
    };
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.most_in_flight.fetch_max(now, Ordering::SeqCst);
    let latency = *state.latency.lock().expect("latency");
    tokio::time::sleep(latency).await;
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json")],
        body,
    )
}
