//! `/hooks/{instance}/{*path}`: where providers and widgets call plugins.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
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
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match handle(app, params, method, uri, headers, body).await {
        Ok(response) => response,
        Err(error) => {
            let too_large = error.status == StatusCode::PAYLOAD_TOO_LARGE;
            let mut response = error.into_response();
            if too_large {
                // The rest of the body was never read: close the connection
                // so the client does not send its next request into it.
                response
                    .headers_mut()
                    .insert(axum::http::header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        }
    }
}

async fn handle(
    app: AppState,
    params: HashMap<String, String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
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
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                "payload_too_large",
                format!("the body is larger than the {}-byte limit", app.max_body_bytes),
            )
        } else {
            ApiError::new(status, "invalid_body", rejection.body_text())
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
