//! JSON error bodies with a stable code and a message a person can act on.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::events::EventError;
use crate::ingest::HookError;
use crate::runtime::CallError;
use crate::runtime::bindings::wit;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `not_found`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    /// Message.
    pub message: String,
    /// When to try again (`Retry-After`), for 429 and 503.
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    /// An error with status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// Maps a store error: 404, 422 and 409 for the caller's mistakes and
    /// refused merges; otherwise 503 `store_unavailable`, logged, to retry.
    pub fn store(error: omni_core::StoreError) -> Self {
        match error {
            omni_core::StoreError::NotFound(what) => Self::not_found(format!("{what} not found")),
            omni_core::StoreError::Invalid(message) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", message)
            }
            omni_core::StoreError::MergeRefused(why) => {
                Self::new(StatusCode::CONFLICT, "merge_refused", format!("merge refused: {why}"))
            }
            other => {
                tracing::error!("store failure: {other}");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the store is unavailable; retry later",
                )
            }
        }
    }
}

/// A malformed query string.
pub fn query_error(rejection: axum::extract::rejection::QueryRejection) -> ApiError {
    ApiError::invalid(rejection.body_text())
}

/// A malformed path parameter.
pub fn path_error(rejection: axum::extract::rejection::PathRejection) -> ApiError {
    ApiError::invalid(format!("invalid id in the path: {}", rejection.body_text()))
}

/// A malformed or mistyped JSON body.
pub fn json_error(rejection: axum::extract::rejection::JsonRejection) -> ApiError {
    ApiError::new(rejection.status(), "invalid_request", rejection.body_text())
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<crate::admission::Refusal> for ApiError {
    fn from(refusal: crate::admission::Refusal) -> Self {
        match refusal {
            crate::admission::Refusal::RateLimited { whose, retry_after } => Self {
                retry_after: Some(retry_after),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("too many webhooks from {whose}; retry after {retry_after:?}"),
                )
            },
            crate::admission::Refusal::Overloaded { retry_after } => Self {
                retry_after: Some(retry_after),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "the host is at its limit of webhooks in progress; retry shortly",
                )
            },
        }
    }
}

impl From<HookError> for ApiError {
    fn from(error: HookError) -> Self {
        match error {
            HookError::Plugin(e) => {
                let message = crate::ingest::plugin_message(&e).to_owned();
                let (status, code) = match e {
                    wit::PluginError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
                    wit::PluginError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
                    wit::PluginError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
                    wit::PluginError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
                    wit::PluginError::Unsupported(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
                    wit::PluginError::UnsupportedMediaType(_) => {
                        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
                    }
                    wit::PluginError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "plugin_error"),
                };
                Self::new(status, code, message)
            }
            HookError::Call(e) => {
                let status = match e {
                    CallError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
                    CallError::InvalidOutput(_) => StatusCode::BAD_GATEWAY,
                    CallError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
                    CallError::MemoryLimit { .. } | CallError::Trap(_) | CallError::Host(_) => {
                        StatusCode::INTERNAL_SERVER_ERROR
                    }
                };
                Self::new(status, e.code(), e.to_string())
            }
            HookError::Events(e @ EventError::OverLimit(_)) => Self::new(
                StatusCode::BAD_GATEWAY,
                "plugin_invalid_output",
                format!("the plugin returned invalid output: {e}"),
            ),
            HookError::Events(e @ EventError::Invalid { .. }) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_event", e.to_string())
            }
            HookError::Store(e) => Self::store(e),
        }
    }
}
