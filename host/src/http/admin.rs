//! `/v1/admin`: the connector instances a host runs, and reloading them from
//! the config file without a restart.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use crate::reload::ReloadReport;

/// One running connector instance.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectorInfo {
    /// Instance id (`/hooks/{id}`).
    pub id: String,
    /// The plugin's id.
    pub plugin: String,
    /// The plugin's version.
    pub version: String,
    /// Channel kind.
    pub channel: String,
    /// `channel` or `integration`.
    pub world: &'static str,
}

/// The connector instances this host runs now.
#[utoipa::path(
    get,
    path = "/v1/admin/connectors",
    tag = "admin",
    responses(
        (status = 200, description = "Connector instances", body = Vec<ConnectorInfo>),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn connectors(State(app): State<AppState>) -> Json<Vec<ConnectorInfo>> {
    let items = app
        .registry
        .ids()
        .iter()
        .filter_map(|id| app.registry.get(id))
        .map(|c| ConnectorInfo {
            id: c.id().to_string(),
            plugin: c.manifest().id.clone(),
            version: c.manifest().version.to_string(),
            channel: c.manifest().channel.clone(),
            world: if c.integration().is_some() {
                "integration"
            } else {
                "channel"
            },
        })
        .collect();
    Json(items)
}

/// Reads the config file again and applies its `[[plugins]]`: new instances
/// start, changed ones (config, secrets, limits or component file) are
/// replaced, removed ones stop. Calls in flight finish on the old instances.
/// A reload that cannot load everything changes nothing.
#[utoipa::path(
    post,
    path = "/v1/admin/reload",
    tag = "admin",
    responses(
        (status = 200, description = "Applied", body = ReloadReport),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 422, description = "The config or a plugin is unusable; nothing changed", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn reload(State(app): State<AppState>) -> Result<Json<ReloadReport>, ApiError> {
    let Some(reloader) = app.reloader.get() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting",
            "the host is still starting; try again",
        ));
    };
    reloader.reload().await.map(Json).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reload_refused",
            format!("nothing changed: {e}"),
        )
    })
}
