//! `/v1/metrics/channels` (which channel lags) and `/metrics` (Prometheus).

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use omni_core::Timestamp;
use omni_core::metrics::{MetricsQuery, MetricsReport};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::error::{ApiError, ErrorBody, query_error};

/// The range of a report.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// Start, RFC 3339, inclusive (default: 7 days before `to`).
    from: Option<String>,
    /// End, RFC 3339, exclusive (default: now).
    to: Option<String>,
}

fn time(field: &str, value: &Option<String>) -> Result<Option<Timestamp>, ApiError> {
    value
        .as_deref()
        .map(|text| {
            Timestamp::parse_rfc3339(text)
                .ok_or_else(|| ApiError::invalid(format!("`{field}` must be an RFC 3339 time, got {text:?}")))
        })
        .transpose()
}

/// Volume, first response and resolution times, first-contact resolution,
/// CSAT and delivery failures, per channel and per connector instance.
#[utoipa::path(
    get,
    path = "/v1/metrics/channels",
    tag = "metrics",
    params(RangeQuery),
    responses(
        (status = 200, description = "Metrics over the range", body = MetricsReport),
        (status = 400, description = "Bad range", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn channels(
    State(app): State<AppState>,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Json<MetricsReport>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let to = time("to", &query.to)?.unwrap_or_else(Timestamp::now);
    let from = time("from", &query.from)?.unwrap_or_else(|| to.minus(Duration::from_secs(7 * 24 * 3600)));
    if from >= to {
        return Err(ApiError::invalid("`from` must be before `to`"));
    }
    let report = app
        .store
        .metrics(MetricsQuery { from, to })
        .await
        .map_err(ApiError::store)?;
    Ok(Json(report))
}

/// Prometheus counters in the text exposition format.
pub async fn prometheus(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.telemetry.encode(),
    )
}
