//! The HTTP surface: provider webhooks under `/hooks`, the bearer-protected
//! `/v1` API with its OpenAPI document, and health probes.

pub mod admin;
pub mod auth;
pub mod conversations;
pub mod dead_letters;
pub mod error;
pub mod events;
pub mod health;
pub mod hooks;
pub mod metrics;
pub mod persons;
pub mod subscribers;

use std::sync::Arc;

use axum::Router;
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
use crate::ingest::Inbound;
use crate::telemetry::Telemetry;

/// What every handler shares.
pub struct AppInner {
    /// The conversation store.
    pub store: Arc<dyn Store>,
    /// Connector instances.
    pub registry: Arc<Registry>,
    /// The inbound path (webhook → plugin → store).
    pub inbound: Inbound,
    /// Wakes the dispatcher when a reply is queued.
    pub outbox: Arc<Notify>,
    /// Prometheus counters.
    pub telemetry: Arc<Telemetry>,
    /// Accepted API tokens.
    pub tokens: Vec<ApiToken>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// The event log's head, for long-polls and streams.
    pub log: Arc<crate::log_watch::LogWatch>,
    /// How long each integration's `lookup` answers are reused (changed by reloads).
    pub lookup_ttls: Arc<std::sync::RwLock<std::collections::BTreeMap<omni_core::ConnectorId, std::time::Duration>>>,
    /// Rate limits and the bound on webhooks in progress.
    pub admission: Arc<crate::admission::Admission>,
    /// Applies config changes live; set once the host serves.
    pub reloader: std::sync::OnceLock<Arc<crate::reload::Reloader>>,
}

/// Shared handler state.
pub type AppState = Arc<AppInner>;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Omni API",
        description = "Conversations, persons and replies across every channel. \
                       Provider webhooks go to /hooks/{connector}/{path} and are answered by the connector plugin. \
                       API tokens have a scope: `read` may GET (outside /v1/admin), `agent` may also reply, update \
                       conversations, merge and split persons and settle suggestions, `admin` may do everything \
                       (retries, replays, /v1/admin). A token below a route's scope gets 403 `forbidden`."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "conversations", description = "Conversation threads and replies"),
        (name = "persons", description = "The people behind the conversations and their identity graph"),
        (name = "delivery", description = "Replies the dispatcher gave up on, and retrying them"),
        (name = "events", description = "The event log (long-poll and server-sent events) and the integrations following it"),
        (name = "metrics", description = "Channel metrics; Prometheus counters are at /metrics"),
        (name = "admin", description = "Connector instances, and reloading them from the config file"),
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
        .routes(routes!(conversations::list_conversations))
        .routes(routes!(
            conversations::get_conversation,
            conversations::update_conversation
        ))
        .routes(routes!(conversations::post_message))
        .routes(routes!(persons::get_person))
        .routes(routes!(persons::suggestions))
        .routes(routes!(persons::audit))
        .routes(routes!(persons::timeline))
        .routes(routes!(persons::merge))
        .routes(routes!(persons::split))
        .routes(routes!(persons::accept_suggestion))
        .routes(routes!(persons::dismiss_suggestion))
        .routes(routes!(metrics::channels))
        .routes(routes!(dead_letters::list))
        .routes(routes!(dead_letters::retry))
        .routes(routes!(events::list))
        .routes(routes!(events::stream))
        .routes(routes!(subscribers::list))
        .routes(routes!(subscribers::dead_letters))
        .routes(routes!(subscribers::retry))
        .routes(routes!(subscribers::replay))
        .routes(routes!(admin::connectors))
        .routes(routes!(admin::reload))
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
        .route("/hooks/{instance}/{*rest}", any(hooks::hook));
    Router::new()
        .merge(protected)
        .merge(open)
        .merge(hooks)
        .route("/metrics", get(metrics::prometheus))
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
