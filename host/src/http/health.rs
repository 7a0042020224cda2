//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;

/// A probe's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// What is wrong, when something is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Loaded connector instances.
    pub connectors: Vec<String>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz(State(app): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        reason: None,
        connectors: app.registry.ids().iter().map(ToString::to_string).collect(),
    })
}

/// The host can take traffic: the store answers and plugins are loaded.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health))
)]
pub async fn readyz(State(app): State<AppState>) -> (StatusCode, Json<Health>) {
    let connectors = app.registry.ids().iter().map(ToString::to_string).collect();
    match app.store.health().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                status: "ok",
                reason: None,
                connectors,
            }),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "unavailable",
                reason: Some(format!("store: {e}")),
                connectors,
            }),
        ),
    }
}
