//! `/v1/dead-letters`: replies the dispatcher gave up on, for an operator to
//! inspect and send again once the cause (a wrong number, a provider outage
//! longer than the retry budget, a revoked token) is fixed.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use omni_core::{ConnectorId, DeadLetter, DeadLetterQuery, Message, Page};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody, path_error, query_error};

/// Filters of the dead-letter list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterParams {
    /// Only this connector instance's.
    connector: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<i64>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<u32>,
}

/// Replies that failed permanently or ran out of attempts, oldest first.
#[utoipa::path(
    get,
    path = "/v1/dead-letters",
    tag = "delivery",
    params(DeadLetterParams),
    responses(
        (status = 200, description = "A page of dead letters", body = Page<DeadLetter>),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(app): State<AppState>,
    params: Result<Query<DeadLetterParams>, QueryRejection>,
) -> Result<Json<Page<DeadLetter>>, ApiError> {
    let Query(params) = params.map_err(query_error)?;
    let connector = params
        .connector
        .map(ConnectorId::new)
        .transpose()
        .map_err(|e| ApiError::invalid(format!("`connector`: {e}")))?;
    let limit = params.limit.unwrap_or(50).clamp(1, 200);
    let items = app
        .store
        .dead_letters(DeadLetterQuery {
            connector,
            after: params.cursor,
            limit,
        })
        .await
        .map_err(ApiError::store)?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(|d| d.id.to_string()))
        .flatten();
    Ok(Json(Page { items, next_cursor }))
}

/// Puts a dead letter back in the outbox with a fresh attempt budget; the
/// message is `queued` again and the retry is on the person's timeline.
#[utoipa::path(
    post,
    path = "/v1/dead-letters/{id}/retry",
    tag = "delivery",
    params(("id" = i64, Path, description = "Dead letter id")),
    responses(
        (status = 202, description = "Queued again", body = Message),
        (status = 404, description = "No such dead letter (or already retried)", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn retry(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<(axum::http::StatusCode, Json<Message>), ApiError> {
    let Path(id) = id.map_err(path_error)?;
    let message = app
        .store
        .retry_dead_letter(id, &caller.actor())
        .await
        .map_err(ApiError::store)?;
    app.outbox.notify_one();
    app.log.nudge();
    Ok((axum::http::StatusCode::ACCEPTED, Json(message)))
}
