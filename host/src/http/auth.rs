//! Bearer-token authentication for the `/v1` API, and the scope each route
//! needs.

use std::fmt;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{Method, StatusCode};
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

/// What a token may do; each scope includes the ones below it
/// (`Read < Agent < Admin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `GET` (and `HEAD`) requests only.
    Read,
    /// Read, plus a helpdesk agent's work: reply, update conversations,
    /// merge and split persons, accept or dismiss suggestions.
    Agent,
    /// Everything: retries and replays, connector listing and reloads.
    Admin,
}

impl Scope {
    /// Every scope, lowest first.
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Agent, Scope::Admin];

    /// The name written in the config (`scope = "agent"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Agent => "agent",
            Scope::Admin => "admin",
        }
    }

    /// The scope named `name`, as written in the config.
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The least scope that may call `method` on the matched route `path`
/// (axum's route template, e.g. `/v1/conversations/{id}/messages`).
///
/// Every route of the OpenAPI document must have a row in [`ROUTES`] (a unit
/// test checks it); anything else falls back to `read` for `GET`/`HEAD`
/// outside `/v1/admin` and to `admin` otherwise.
pub fn required(method: &Method, path: &str) -> Scope {
    listed(method, path).unwrap_or_else(|| {
        let reading = *method == Method::GET || *method == Method::HEAD;
        if reading && !path.starts_with("/v1/admin/") {
            Scope::Read
        } else {
            Scope::Admin
        }
    })
}

/// The deliberate scope of each `/v1` route: (method, route template, scope).
/// A new route without a row here fails a unit test.
const ROUTES: &[(&str, &str, Scope)] = &[
    ("GET", "/v1/conversations", Scope::Read),
    ("GET", "/v1/conversations/{id}", Scope::Read),
    ("PATCH", "/v1/conversations/{id}", Scope::Agent),
    ("POST", "/v1/conversations/{id}/messages", Scope::Agent),
    ("GET", "/v1/persons/{id}", Scope::Read),
    ("GET", "/v1/persons/{id}/suggestions", Scope::Read),
    ("GET", "/v1/persons/{id}/audit", Scope::Read),
    ("GET", "/v1/persons/{id}/timeline", Scope::Read),
    ("POST", "/v1/persons/{id}/merge", Scope::Agent),
    ("POST", "/v1/persons/{id}/split", Scope::Agent),
    ("POST", "/v1/suggestions/{id}/accept", Scope::Agent),
    ("POST", "/v1/suggestions/{id}/dismiss", Scope::Agent),
    ("GET", "/v1/metrics/channels", Scope::Read),
    ("GET", "/v1/dead-letters", Scope::Read),
    ("POST", "/v1/dead-letters/{id}/retry", Scope::Admin),
    ("GET", "/v1/events", Scope::Read),
    ("GET", "/v1/events/stream", Scope::Read),
    ("GET", "/v1/subscribers", Scope::Read),
    ("GET", "/v1/subscribers/dead-letters", Scope::Read),
    ("POST", "/v1/subscribers/dead-letters/{id}/retry", Scope::Admin),
    ("POST", "/v1/subscribers/{name}/replay", Scope::Admin),
    ("GET", "/v1/admin/connectors", Scope::Admin),
    ("POST", "/v1/admin/reload", Scope::Admin),
];

/// The row of [`ROUTES`] for a request; `HEAD` is `GET`.
fn listed(method: &Method, path: &str) -> Option<Scope> {
    let method = if *method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    ROUTES
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, scope)| *scope)
}

/// SHA-256 of a token, as stored in the config.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Lets a request through only with a configured bearer token whose scope
/// covers the route: `401` without a valid token, `403` when its scope is
/// too low.
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
            matched = Some((configured.name.clone(), configured.scope));
        }
    }
    let Some((name, scope)) = matched else {
        return unauthorized("the token is not valid");
    };
    let method = request.method().clone();
    let path = match request.extensions().get::<MatchedPath>() {
        Some(matched) => matched.as_str().to_owned(),
        None => request.uri().path().to_owned(),
    };
    let needed = required(&method, &path);
    if scope < needed {
        tracing::debug!(token = %name, %scope, %needed, %method, %path, "API request refused: scope too low");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this token has scope \"{scope}\"; {method} {path} needs scope \"{needed}\"{}",
                if needed == Scope::Admin { "" } else { " or higher" }
            ),
        )
        .into_response();
    }
    tracing::trace!(token = %name, %scope, "API request authenticated");
    request.extensions_mut().insert(Caller(name));
    next.run(request).await
}

fn unauthorized(message: &str) -> Response {
    tracing::debug!("API request refused: {message}");
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    response.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Routes outside the bearer check: they need no scope.
    const OPEN: &[&str] = &["/healthz", "/readyz"];

    /// Every operation of the OpenAPI document, as (method, path).
    fn operations() -> Vec<(Method, String)> {
        let doc = crate::http::openapi();
        let mut out = Vec::new();
        for (path, item) in &doc.paths.paths {
            let methods = [
                (Method::GET, &item.get),
                (Method::PUT, &item.put),
                (Method::POST, &item.post),
                (Method::DELETE, &item.delete),
                (Method::OPTIONS, &item.options),
                (Method::HEAD, &item.head),
                (Method::PATCH, &item.patch),
                (Method::TRACE, &item.trace),
            ];
            for (method, operation) in methods {
                if operation.is_some() {
                    out.push((method, path.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn every_route_in_the_openapi_document_has_a_deliberate_scope() {
        let operations = operations();
        assert!(
            operations.len() > 20,
            "the document lists too few routes: {operations:?}"
        );
        let unlisted: Vec<_> = operations
            .iter()
            .filter(|(_, path)| !OPEN.contains(&path.as_str()))
            .filter(|(method, path)| listed(method, path).is_none())
            .map(|(method, path)| format!("{method} {path}"))
            .collect();
        assert!(
            unlisted.is_empty(),
            "give these routes a scope in `http::auth::ROUTES`: {unlisted:?}"
        );
        for (method, path) in &operations {
            if OPEN.contains(&path.as_str()) {
                continue;
            }
            let scope = required(method, path);
            // Reading never needs more than `read`, except connector listing.
            if *method == Method::GET && !path.starts_with("/v1/admin/") {
                assert_eq!(scope, Scope::Read, "GET {path}");
                assert_eq!(required(&Method::HEAD, path), Scope::Read, "HEAD {path}");
            }
            // Every change needs more than `read`.
            if *method != Method::GET {
                assert!(scope > Scope::Read, "{method} {path} is open to read-only tokens");
            }
        }
    }

    #[test]
    fn the_table_has_no_stale_rows() {
        // A renamed or removed route must not leave its old scope behind.
        let operations: BTreeSet<(String, String)> = operations()
            .into_iter()
            .map(|(method, path)| (method.to_string(), path))
            .collect();
        for (method, path, _) in ROUTES {
            assert!(
                operations.contains(&((*method).to_owned(), (*path).to_owned())),
                "{method} {path} has a scope in `ROUTES` but is not in the OpenAPI document"
            );
        }
        let unique: BTreeSet<_> = ROUTES.iter().map(|(m, p, _)| (m, p)).collect();
        assert_eq!(unique.len(), ROUTES.len(), "a route is listed twice in `ROUTES`");
    }

    #[test]
    fn each_scope_gets_what_its_role_needs() {
        use Scope::{Admin, Agent, Read};
        let cases = [
            (Method::GET, "/v1/conversations", Read),
            (Method::HEAD, "/v1/conversations/{id}", Read),
            (Method::GET, "/v1/events/stream", Read),
            (Method::POST, "/v1/conversations/{id}/messages", Agent),
            (Method::PATCH, "/v1/conversations/{id}", Agent),
            (Method::POST, "/v1/persons/{id}/merge", Agent),
            (Method::POST, "/v1/persons/{id}/split", Agent),
            (Method::POST, "/v1/suggestions/{id}/accept", Agent),
            (Method::POST, "/v1/suggestions/{id}/dismiss", Agent),
            (Method::POST, "/v1/dead-letters/{id}/retry", Admin),
            (Method::POST, "/v1/subscribers/dead-letters/{id}/retry", Admin),
            (Method::POST, "/v1/subscribers/{name}/replay", Admin),
            (Method::GET, "/v1/admin/connectors", Admin),
            (Method::POST, "/v1/admin/reload", Admin),
            // Unknown routes: reading is `read` outside /v1/admin, the rest is `admin`.
            (Method::GET, "/v1/something-new", Read),
            (Method::GET, "/v1/admin/something-new", Admin),
            (Method::POST, "/v1/something-new", Admin),
            (Method::DELETE, "/v1/conversations/{id}", Admin),
            (Method::PUT, "/v1/conversations/{id}", Admin),
        ];
        for (method, path, scope) in cases {
            assert_eq!(required(&method, path), scope, "{method} {path}");
        }
    }

    #[test]
    fn scopes_are_ordered_and_named() {
        assert!(Scope::Read < Scope::Agent && Scope::Agent < Scope::Admin);
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Scope::parse("Admin"), None);
        assert_eq!(Scope::parse("write"), None);
    }
}
