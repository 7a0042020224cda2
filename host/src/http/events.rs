//! `/v1/events`: the event log for headless consumers, as long-polled pages
//! and as a server-sent event stream. Positions increase in commit order,
//! so a consumer that stores the last position it handled never misses an
//! event and can resume after a restart.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use omni_core::LoggedEvent;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ErrorBody, query_error};

/// Longest long-poll wait.
const MAX_WAIT_SECONDS: u64 = 60;
/// Events read from the store at a time.
const PAGE: u32 = 200;

/// Which events to read.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Return events after this position (default 0: from the start).
    after: Option<i64>,
    /// Most events to return, 1 to 500 (default 100).
    limit: Option<u32>,
    /// Seconds to wait for an event when there is none yet, 0 to 60 (default 0).
    wait: Option<u64>,
    /// Comma-separated kinds or families, e.g. `person.*,message.received` (default: all).
    kinds: Option<String>,
}

/// A page of the event log.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// Events in log order.
    pub events: Vec<LoggedEvent>,
    /// Pass as `after` next time: the last position looked at (filtered-out events included).
    pub next_after: i64,
}

/// Event kinds a consumer asked for.
struct Kinds(Vec<String>);

impl Kinds {
    fn parse(text: Option<&str>) -> Result<Self, ApiError> {
        let mut kinds = Vec::new();
        for kind in text.unwrap_or("*").split(',').map(str::trim).filter(|k| !k.is_empty()) {
            let body = kind.strip_suffix('*').unwrap_or(kind);
            if !body
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
            {
                return Err(ApiError::invalid(format!(
                    "`kinds`: {kind:?} is not an event kind or family like person.* or message.received"
                )));
            }
            kinds.push(kind.to_owned());
        }
        Ok(Self(kinds))
    }

    fn wants(&self, kind: &str) -> bool {
        self.0.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => kind.starts_with(prefix),
            None => p == kind,
        })
    }
}

/// Events after a position, in log order. With `wait`, an empty answer
/// waits up to that many seconds for the next event (long-polling).
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "events",
    params(EventsQuery),
    responses(
        (status = 200, description = "A page of events", body = EventPage),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(app): State<AppState>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Json<EventPage>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let kinds = Kinds::parse(query.kinds.as_deref())?;
    let limit = query.limit.unwrap_or(100).clamp(1, 500);
    let wait = Duration::from_secs(query.wait.unwrap_or(0).min(MAX_WAIT_SECONDS));
    let deadline = tokio::time::Instant::now() + wait;
    let mut after = query.after.unwrap_or(0).max(0);
    loop {
        let batch = app.store.events_after(after, limit).await.map_err(ApiError::store)?;
        let scanned_to = batch.last().map_or(after, |e| e.position);
        let events: Vec<LoggedEvent> = batch.into_iter().filter(|e| kinds.wants(&e.kind)).collect();
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !events.is_empty() || remaining.is_zero() {
            return Ok(Json(EventPage {
                events,
                next_after: scanned_to,
            }));
        }
        after = scanned_to;
        if scanned_to >= app.log.head() {
            app.log.wait_beyond(scanned_to, remaining).await;
        }
    }
}

/// Resuming a stream.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Start after this position; the `Last-Event-ID` header wins when present.
    after: Option<i64>,
    /// Comma-separated kinds or families (default: all).
    kinds: Option<String>,
}

/// The event log as server-sent events: `id` is the position, `event` the
/// kind, `data` the event as JSON. Reconnecting clients send
/// `Last-Event-ID` and continue where they were.
#[utoipa::path(
    get,
    path = "/v1/events/stream",
    tag = "events",
    params(StreamQuery),
    responses(
        (status = 200, description = "A text/event-stream of events", content_type = "text/event-stream"),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn stream(
    State(app): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<StreamQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let kinds = Kinds::parse(query.kinds.as_deref())?;
    let last_event_id = match headers.get("last-event-id") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .ok_or_else(|| ApiError::invalid("Last-Event-ID must be an event position"))?,
        ),
    };
    let after = last_event_id.or(query.after).unwrap_or(0).max(0);
    let state = StreamState {
        app,
        kinds,
        after,
        buffered: VecDeque::new(),
    };
    let events = futures_util::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(event) = state.buffered.pop_front() {
                return Some((Ok(sse_event(&event)), state));
            }
            match state.app.store.events_after(state.after, PAGE).await {
                Ok(batch) if !batch.is_empty() => {
                    state.after = batch.last().map_or(state.after, |e| e.position);
                    state.buffered = batch.into_iter().filter(|e| state.kinds.wants(&e.kind)).collect();
                }
                Ok(_) => {
                    state.app.log.wait_beyond(state.after, Duration::from_secs(30)).await;
                }
                Err(e) => {
                    // The client reconnects with Last-Event-ID and loses nothing.
                    tracing::warn!("event stream ends: {e}");
                    return None;
                }
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

struct StreamState {
    app: AppState,
    kinds: Kinds,
    after: i64,
    buffered: VecDeque<LoggedEvent>,
}

fn sse_event(event: &LoggedEvent) -> Event {
    Event::default()
        .id(event.position.to_string())
        .event(&event.kind)
        .data(serde_json::to_string(event).unwrap_or_default())
}
