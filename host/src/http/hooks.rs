//! `/hooks/{instance}/{*path}`: where providers and widgets call plugins.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use omni_core::ConnectorId;

use super::AppState;
use super::error::ApiError;
use crate::runtime::bindings::wit;

/// Headers a plugin may not set: they describe the connection, not the reply.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

/// Handles any method on a hook path.
pub async fn hook(
    State(app): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    request: Request,
) -> Response {
    match handle(app, params, request).await {
        Ok(response) => response,
        Err(error) => {
            let too_large = error.status == StatusCode::PAYLOAD_TOO_LARGE;
            let retry_after = error.retry_after;
            let mut response = error.into_response();
            if too_large {
                // The rest of the body was never read: close the connection
                // so the client does not send its next request into it.
                response
                    .headers_mut()
                    .insert(axum::http::header::CONNECTION, HeaderValue::from_static("close"));
            }
            if let Some(after) = retry_after {
                // Whole seconds, rounded up: `Retry-After: 0` invites a stampede.
                let seconds = after.as_millis().div_ceil(1000).max(1);
                if let Ok(value) = HeaderValue::try_from(seconds.to_string()) {
                    response.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
                }
            }
            response
        }
    }
}

async fn handle(app: AppState, params: HashMap<String, String>, request: Request) -> Result<Response, ApiError> {
    let instance = params.get("instance").map(String::as_str).unwrap_or_default();
    let connector = ConnectorId::new(instance)
        .ok()
        .and_then(|id| app.registry.get(&id))
        .ok_or_else(|| {
            let known: Vec<String> = app.registry.ids().iter().map(ToString::to_string).collect();
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_connector",
                format!(
                    "no connector instance {instance:?} is configured (configured: {})",
                    known.join(", ")
                ),
            )
        })?;
    // Admit before reading the body, so a flood holds no bodies in memory.
    let source = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let _admitted = app.admission.admit(source, connector.id()).await.map_err(|refusal| {
        app.telemetry.webhook(connector.id().as_str(), refusal.code());
        ApiError::from(refusal)
    })?;
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let body = axum::body::to_bytes(body, app.max_body_bytes).await.map_err(|error| {
        let too_large =
            std::error::Error::source(&error).is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is larger than the {}-byte limit", app.max_body_bytes),
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                format!("cannot read the body: {error}"),
            )
        }
    })?;
    let mut request_headers = Vec::with_capacity(headers.len());
    for (name, value) in &headers {
        let value = value.to_str().map_err(|_| {
            ApiError::invalid(format!(
                "header {name} is not valid UTF-8; the host only forwards text headers"
            ))
        })?;
        request_headers.push(wit::Header {
            name: name.as_str().to_owned(),
            value: value.to_owned(),
        });
    }
    let rest = params.get("rest").map(String::as_str).unwrap_or("");
    let request = wit::HttpRequest {
        method: method.as_str().to_owned(),
        path: format!("/{rest}"),
        query: uri.query().unwrap_or("").to_owned(),
        headers: request_headers,
        body: body.to_vec(),
    };

    let result = app.inbound.handle_webhook(connector.as_ref(), request).await;
    let response = result.map_err(|error| {
        let api = ApiError::from(error);
        if api.status.is_server_error() {
            tracing::error!(connector = %connector.id(), code = api.code, "webhook failed: {}", api.message);
        } else {
            tracing::info!(connector = %connector.id(), code = api.code, "webhook refused: {}", api.message);
        }
        api
    })?;
    Ok(to_http(connector.id(), response))
}

fn to_http(connector: &ConnectorId, response: wit::HttpResponse) -> Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK);
    let mut out = Response::new(Body::from(response.body));
    *out.status_mut() = status;
    for header in response.headers {
        if HOP_BY_HOP.contains(&header.name.to_ascii_lowercase().as_str()) {
            continue;
        }
        match (
            HeaderName::try_from(header.name.as_str()),
            HeaderValue::try_from(header.value.as_str()),
        ) {
            (Ok(name), Ok(value)) => {
                out.headers_mut().append(name, value);
            }
            _ => {
                tracing::warn!(%connector, header = %header.name, "dropping an invalid response header from the plugin")
            }
        }
    }
    out
}
