//! `/v1/subscribers`: the integrations following the event log, their
//! progress, their dead letters, and replays.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use omni_core::{ConnectorId, ParkedEvent, SubscriberStatus};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ErrorBody, json_error, path_error, query_error};

/// Every subscriber's cursor, lag, waiting events and dead letters.
#[utoipa::path(
    get,
    path = "/v1/subscribers",
    tag = "events",
    responses(
        (status = 200, description = "Subscribers", body = Vec<SubscriberStatus>),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list(State(app): State<AppState>) -> Result<Json<Vec<SubscriberStatus>>, ApiError> {
    Ok(Json(app.store.subscribers().await.map_err(ApiError::store)?))
}

/// Filters of the subscribers' dead letters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeadQuery {
    /// Only this subscriber's.
    subscriber: Option<String>,
    /// Most to return, 1 to 1000 (default 100).
    limit: Option<u32>,
}

/// Events subscribers gave up on, oldest first.
#[utoipa::path(
    get,
    path = "/v1/subscribers/dead-letters",
    tag = "events",
    params(DeadQuery),
    responses(
        (status = 200, description = "Dead letters", body = Vec<ParkedEvent>),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn dead_letters(
    State(app): State<AppState>,
    query: Result<Query<DeadQuery>, QueryRejection>,
) -> Result<Json<Vec<ParkedEvent>>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let items = app
        .store
        .subscriber_dead_letters(query.subscriber.as_deref(), query.limit.unwrap_or(100))
        .await
        .map_err(ApiError::store)?;
    Ok(Json(items))
}

/// Delivers a dead letter again, with a fresh attempt budget.
#[utoipa::path(
    post,
    path = "/v1/subscribers/dead-letters/{id}/retry",
    tag = "events",
    params(("id" = i64, Path, description = "Dead letter id")),
    responses(
        (status = 202, description = "Back in line", body = ParkedEvent),
        (status = 404, description = "No such dead letter (or already retried)", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn retry(
    State(app): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<(StatusCode, Json<ParkedEvent>), ApiError> {
    let Path(id) = id.map_err(path_error)?;
    let parked = app
        .store
        .retry_subscriber_dead_letter(id)
        .await
        .map_err(ApiError::store)?;
    app.log.nudge();
    Ok((StatusCode::ACCEPTED, Json(parked)))
}

/// Where a replay starts.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Deliver the events after this position again (0: the whole log).
    from: i64,
}

/// Moves a subscriber's cursor so the events after `from` are delivered
/// again; integrations are idempotent, so nothing is created twice.
#[utoipa::path(
    post,
    path = "/v1/subscribers/{name}/replay",
    tag = "events",
    params(("name" = String, Path, description = "The integration's instance id")),
    request_body = ReplayRequest,
    responses(
        (status = 202, description = "Replay scheduled", body = SubscriberStatus),
        (status = 400, description = "Bad position", body = ErrorBody),
        (status = 404, description = "No such integration", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn replay(
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    body: Result<Json<ReplayRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<SubscriberStatus>), ApiError> {
    let Path(name) = name.map_err(path_error)?;
    let Json(body) = body.map_err(json_error)?;
    let known = ConnectorId::new(&name)
        .ok()
        .and_then(|id| app.registry.get(&id))
        .is_some_and(|c| c.integration().is_some());
    if !known {
        return Err(ApiError::not_found(format!(
            "no integration instance {name:?} is configured"
        )));
    }
    app.store
        .replay_subscriber(&name, body.from)
        .await
        .map_err(ApiError::store)?;
    app.log.nudge();
    let status = app
        .store
        .subscribers()
        .await
        .map_err(ApiError::store)?
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| ApiError::not_found(format!("subscriber {name:?}")))?;
    Ok((StatusCode::ACCEPTED, Json(status)))
}
