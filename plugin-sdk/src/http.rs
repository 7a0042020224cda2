//! Webhook requests and responses, and the errors a plugin answers with.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::Event;

/// One HTTP header; names are lower case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Lower-case name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// An HTTP request the host forwarded from `/hooks/{instance}/{path}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Method in upper case.
    pub method: String,
    /// Path below `/hooks/{instance}`, starting with `/`.
    pub path: String,
    /// Raw query string without `?`.
    #[serde(default)]
    pub query: String,
    /// Headers in arrival order.
    #[serde(default)]
    pub headers: Vec<Header>,
    /// Raw body.
    #[serde(default)]
    pub body: Vec<u8>,
}

impl Request {
    /// A request with the given method and path (which may carry `?query`).
    pub fn new(method: &str, path_and_query: &str) -> Self {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, query),
            None => (path_and_query, ""),
        };
        Self {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A `GET` request, for tests.
    pub fn get(path_and_query: &str) -> Self {
        Self::new("GET", path_and_query)
    }

    /// A `POST` request with a body, for tests.
    pub fn post(path_and_query: &str, body: impl Into<Vec<u8>>) -> Self {
        let mut request = Self::new("POST", path_and_query);
        request.body = body.into();
        request
    }

    /// A `POST` request with a JSON body and content type, for tests.
    pub fn post_json(path_and_query: &str, body: &serde_json::Value) -> Self {
        Self::post(path_and_query, body.to_string()).with_header("content-type", "application/json")
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push(Header {
            name: name.to_ascii_lowercase(),
            value: value.to_owned(),
        });
        self
    }

    /// The first value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The first value of a query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// Whether the method and path match.
    pub fn is(&self, method: &str, path: &str) -> bool {
        self.method.eq_ignore_ascii_case(method) && self.path.trim_end_matches('/') == path.trim_end_matches('/')
    }

    /// The body as UTF-8 text, or a `bad-request` error.
    pub fn text(&self) -> Result<&str, PluginError> {
        std::str::from_utf8(&self.body)
            .map_err(|e| PluginError::BadRequest(format!("the body is not valid UTF-8: {e}")))
    }

    /// The body as `application/x-www-form-urlencoded` fields, in order.
    /// Refuses another content type with `unsupported-media-type`.
    pub fn form(&self) -> Result<Vec<(String, String)>, PluginError> {
        let content_type = self.header("content-type").unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(PluginError::UnsupportedMediaType(format!(
                "expected content-type application/x-www-form-urlencoded, got {:?}",
                if content_type.is_empty() { "none" } else { content_type }
            )));
        }
        Ok(form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect())
    }

    /// The body parsed as JSON into `T`.
    ///
    /// Refuses a content type other than `application/json` (or `+json`)
    /// with `unsupported-media-type`, and malformed or mistyped JSON with a
    /// `bad-request` naming the line, column and field serde reported.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        let content_type = self.header("content-type").unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        let is_json =
            essence.eq_ignore_ascii_case("application/json") || essence.to_ascii_lowercase().ends_with("+json");
        if !is_json {
            return Err(PluginError::UnsupportedMediaType(format!(
                "expected content-type application/json, got {:?}",
                if content_type.is_empty() { "none" } else { content_type }
            )));
        }
        serde_json::from_slice(&self.body).map_err(|e| PluginError::BadRequest(format!("invalid JSON body: {e}")))
    }
}

/// An HTTP response for the caller of a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers.
    #[serde(default)]
    pub headers: Vec<Header>,
    /// Body.
    #[serde(default)]
    pub body: Vec<u8>,
}

impl Response {
    /// An empty response with the given status.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `200 OK` with an empty body.
    pub fn ok() -> Self {
        Self::status(200)
    }

    /// `204 No Content`.
    pub fn no_content() -> Self {
        Self::status(204)
    }

    /// A JSON body with the given status.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Self {
        // Serialising plain data into a Vec cannot fail; an empty object is a safe fallback.
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        Self::status(status)
            .with_header("content-type", "application/json")
            .with_body(body)
    }

    /// A plain-text body with the given status.
    pub fn text(status: u16, text: impl Into<String>) -> Self {
        Self::status(status)
            .with_header("content-type", "text/plain; charset=utf-8")
            .with_body(text.into())
    }

    /// A body with an explicit content type and status 200.
    pub fn content(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self::ok().with_header("content-type", content_type).with_body(body)
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push(Header {
            name: name.to_ascii_lowercase(),
            value: value.to_owned(),
        });
        self
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
}

/// What a plugin made of a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookOutcome {
    /// Returned to the caller after the host stored the events.
    pub response: Response,
    /// Events to store, in order.
    #[serde(default)]
    pub events: Vec<Event>,
}

impl WebhookOutcome {
    /// A response with no events.
    pub fn new(response: Response) -> Self {
        Self {
            response,
            events: Vec::new(),
        }
    }

    /// Adds an event.
    pub fn with_event(mut self, event: impl Into<Event>) -> Self {
        self.events.push(event.into());
        self
    }
}

/// Why a plugin refused a request; the host maps each case to an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "kebab-case")]
pub enum PluginError {
    /// Malformed input (400).
    BadRequest(String),
    /// Missing or wrong signature (401).
    Unauthorized(String),
    /// Not allowed (403).
    Forbidden(String),
    /// No such route (404).
    NotFound(String),
    /// Operation not offered (405).
    Unsupported(String),
    /// Content type not accepted (415).
    UnsupportedMediaType(String),
    /// A bug or unexpected state (500).
    Internal(String),
}

impl PluginError {
    /// The HTTP status the host answers with.
    pub fn status(&self) -> u16 {
        match self {
            PluginError::BadRequest(_) => 400,
            PluginError::Unauthorized(_) => 401,
            PluginError::Forbidden(_) => 403,
            PluginError::NotFound(_) => 404,
            PluginError::Unsupported(_) => 405,
            PluginError::UnsupportedMediaType(_) => 415,
            PluginError::Internal(_) => 500,
        }
    }

    /// The human message.
    pub fn message(&self) -> &str {
        match self {
            PluginError::BadRequest(m)
            | PluginError::Unauthorized(m)
            | PluginError::Forbidden(m)
            | PluginError::NotFound(m)
            | PluginError::Unsupported(m)
            | PluginError::UnsupportedMediaType(m)
            | PluginError::Internal(m) => m,
        }
    }

    /// `bad-request` with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        PluginError::BadRequest(message.into())
    }

    /// `unauthorized` with a message.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        PluginError::Unauthorized(message.into())
    }

    /// `not-found` with a message.
    pub fn not_found(message: impl Into<String>) -> Self {
        PluginError::NotFound(message.into())
    }

    /// `internal` with a message.
    pub fn internal(message: impl Into<String>) -> Self {
        PluginError::Internal(message.into())
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message(), self.status())
    }
}

impl std::error::Error for PluginError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        let request = Request::get("/poll?visitor=a%20b&after=3");
        assert_eq!(request.path, "/poll");
        assert_eq!(request.query_param("visitor").as_deref(), Some("a b"));
        assert_eq!(request.query_param("after").as_deref(), Some("3"));
        assert_eq!(request.query_param("missing"), None);
    }

    #[test]
    fn json_requires_json_content_type() {
        let request = Request::post("/", "{}").with_header("Content-Type", "text/plain");
        let error = request.json::<serde_json::Value>().unwrap_err();
        assert_eq!(error.status(), 415);
        let request = Request::post("/", "{}").with_header("content-type", "application/vnd.api+json; charset=utf-8");
        assert!(request.json::<serde_json::Value>().is_ok());
    }

    #[test]
    fn json_errors_name_the_problem() {
        let request = Request::post("/", "{\"a\":").with_header("content-type", "application/json");
        let error = request.json::<serde_json::Value>().unwrap_err();
        assert_eq!(error.status(), 400);
        assert!(error.message().contains("line 1"), "{error}");
    }

    #[test]
    fn path_matching_ignores_trailing_slash() {
        assert!(Request::get("/messages/").is("get", "/messages"));
        assert!(!Request::get("/messages").is("POST", "/messages"));
    }
}
