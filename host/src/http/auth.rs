//! Bearer-token authentication for the `/v1` API.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;

/// Who called the API: the name of the token they presented.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

impl Caller {
    /// The actor recorded in audit logs and events.
    pub fn actor(&self) -> String {
        format!("api:{}", self.0)
    }
}

/// SHA-256 of a token, as stored in the config.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Lets a request through only with a configured bearer token.
pub async fn require_token(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(header) = request.headers().get(AUTHORIZATION) else {
        return unauthorized("missing `Authorization: Bearer <token>` header");
    };
    let Some(token) = header.to_str().ok().and_then(|h| h.strip_prefix("Bearer ")) else {
        return unauthorized("the Authorization header must be `Bearer <token>`");
    };
    let presented = hash_token(token.trim());
    // Compare against every token so timing does not tell which one is close.
    let mut matched = None;
    for configured in &app.tokens {
        if bool::from(configured.sha256.ct_eq(&presented)) {
            matched = Some(configured.name.clone());
        }
    }
    match matched {
        Some(name) => {
            tracing::trace!(token = %name, "API request authenticated");
            request.extensions_mut().insert(Caller(name));
            next.run(request).await
        }
        None => unauthorized("the token is not valid"),
    }
}

fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    response.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer"),
    );
    response
}
