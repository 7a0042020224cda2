//! The HTTP surface: provider webhooks under `/hooks`, the bearer-protected
//! `/v1` API with its OpenAPI document, and health probes.

pub mod api;
pub mod auth;
pub mod error;
pub mod health;
pub mod hooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get};
use omni_core::Store;
use tokio::sync::Notify;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::ApiToken;
use crate::connector::Registry;
use crate::contention::RetryLanes;

/// What every handler shares.
pub struct AppInner {
    /// The conversation store.
    pub store: Arc<dyn Store>,
    /// Connector instances.
    pub registry: Arc<Registry>,
    /// Wakes the dispatcher when a reply is queued.
    pub outbox: Arc<Notify>,
    /// Serialises retries of calls that lost a key-value race.
    pub lanes: Arc<RetryLanes>,
    /// Accepted API tokens.
    pub tokens: Vec<ApiToken>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
}

/// Shared handler state.
pub type AppState = Arc<AppInner>;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Omni API",
        description = "Conversations, persons and replies across every channel. \
                       Provider webhooks go to /hooks/{connector}/{path} and are answered by the connector plugin."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "conversations", description = "Conversation threads and replies"),
        (name = "persons", description = "The people behind the conversations"),
        (name = "health", description = "Probes"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API routes (bearer-protected and open) and the OpenAPI document
/// generated from them, so the document cannot drift from the routes.
fn api() -> (Router<AppState>, Router<AppState>, utoipa::openapi::OpenApi) {
    let (protected, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(api::list_conversations))
        .routes(routes!(api::get_conversation))
        .routes(routes!(api::post_message))
        .routes(routes!(api::get_person))
        .split_for_parts();
    let (open, health_doc) = OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .split_for_parts();
    doc.merge(health_doc);
    (protected, open, doc)
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().2
}

/// Builds the router.
pub fn router(state: AppState) -> Router {
    let (protected, open, doc) = api();
    let protected = protected.route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    let doc = Arc::new(doc);
    let hooks = Router::new()
        .route("/hooks/{instance}", any(hooks::hook))
        .route("/hooks/{instance}/", any(hooks::hook))
        .route("/hooks/{instance}/{*rest}", any(hooks::hook))
        .layer(DefaultBodyLimit::max(state.max_body_bytes));
    Router::new()
        .merge(protected)
        .merge(open)
        .merge(hooks)
        .route(
            "/v1/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(|| async { error::ApiError::not_found("no such route; see /v1/openapi.json") })
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
