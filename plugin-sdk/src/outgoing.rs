//! Requests a plugin sends to its provider, through the host's `http-send`.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{Header, SendError};

/// An HTTP request to a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingRequest {
    /// Method in upper case.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers.
    #[serde(default)]
    pub headers: Vec<Header>,
    /// Body.
    #[serde(default)]
    pub body: Vec<u8>,
}

impl OutgoingRequest {
    /// A request with a method and URL.
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A `GET`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// A `POST`.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push(Header {
            name: name.to_ascii_lowercase(),
            value: value.to_owned(),
        });
        self
    }

    /// A JSON body, with its content type.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_default();
        let mut request = self.header("content-type", "application/json");
        request.body = body;
        request
    }

    /// A form body (`application/x-www-form-urlencoded`), with its content type.
    pub fn form(self, fields: &[(&str, &str)]) -> Self {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut request = self.header("content-type", "application/x-www-form-urlencoded");
        request.body = body.into_bytes();
        request
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// `Authorization: Basic base64(user:password)`.
    pub fn basic_auth(self, user: &str, password: &str) -> Self {
        let credentials = crate::crypto::base64(format!("{user}:{password}").as_bytes());
        self.header("authorization", &format!("Basic {credentials}"))
    }

    /// The first value of a header.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
}

/// The provider's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingResponse {
    /// Status code.
    pub status: u16,
    /// Headers.
    #[serde(default)]
    pub headers: Vec<Header>,
    /// Body.
    #[serde(default)]
    pub body: Vec<u8>,
}

impl IncomingResponse {
    /// A response, for tests.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A JSON response, for tests.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::new(status, value.to_string()).with_header("content-type", "application/json")
    }

    /// Adds a header, for tests.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push(Header {
            name: name.to_ascii_lowercase(),
            value: value.to_owned(),
        });
        self
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The body parsed as JSON.
    pub fn json_body<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The provider's `Retry-After` (seconds) in milliseconds.
    pub fn retry_after_ms(&self) -> Option<u64> {
        self.header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|seconds| seconds.saturating_mul(1000))
    }

    /// The usual reading of a failed send: 408, 425, 429 and 5xx are worth
    /// retrying (honouring `Retry-After`); other 4xx are permanent. `what`
    /// prefixes the message, e.g. `"Twilio"`.
    pub fn send_error(&self, what: &str) -> SendError {
        let detail: String = self.text().chars().take(500).collect();
        let message = format!("{what} answered {}: {detail}", self.status);
        match self.status {
            408 | 425 | 429 | 500..=599 => SendError::Retryable {
                message,
                after_ms: self.retry_after_ms(),
            },
            _ => SendError::Permanent { message },
        }
    }
}

/// Why an outgoing request got no answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "kebab-case")]
pub enum HttpError {
    /// The host or address is not allowed for this connector instance.
    Denied(String),
    /// No answer before the deadline.
    Timeout(String),
    /// DNS, connection or TLS failure.
    Unreachable(String),
    /// The answer was too large.
    TooLarge(String),
    /// The request is malformed.
    Invalid(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Denied(m) => write!(f, "request denied: {m}"),
            HttpError::Timeout(m) => write!(f, "request timed out: {m}"),
            HttpError::Unreachable(m) => write!(f, "provider unreachable: {m}"),
            HttpError::TooLarge(m) => write!(f, "response too large: {m}"),
            HttpError::Invalid(m) => write!(f, "invalid request: {m}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for SendError {
    /// Timeouts and unreachable providers are worth retrying; a denied or
    /// malformed request is not.
    fn from(error: HttpError) -> Self {
        match error {
            HttpError::Timeout(_) | HttpError::Unreachable(_) => SendError::retryable(error.to_string()),
            HttpError::Denied(_) | HttpError::TooLarge(_) | HttpError::Invalid(_) => {
                SendError::permanent(error.to_string())
            }
        }
    }
}

impl From<HttpError> for crate::PluginError {
    fn from(error: HttpError) -> Self {
        crate::PluginError::Internal(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_errors_follow_the_status() {
        let limited = IncomingResponse::new(429, "slow down").with_header("Retry-After", "30");
        assert_eq!(
            limited.send_error("P"),
            SendError::Retryable {
                message: "P answered 429: slow down".into(),
                after_ms: Some(30_000)
            }
        );
        assert!(matches!(
            IncomingResponse::new(503, "").send_error("P"),
            SendError::Retryable { .. }
        ));
        assert!(matches!(
            IncomingResponse::new(400, "bad number").send_error("P"),
            SendError::Permanent { .. }
        ));
        assert!(matches!(
            SendError::from(HttpError::Timeout("t".into())),
            SendError::Retryable { .. }
        ));
        assert!(matches!(
            SendError::from(HttpError::Denied("d".into())),
            SendError::Permanent { .. }
        ));
    }

    #[test]
    fn builders_set_bodies_and_headers() {
        let request = OutgoingRequest::post("https://x.example/m")
            .basic_auth("AC1", "secret")
            .form(&[("To", "+1 415"), ("Body", "a&b")]);
        assert_eq!(request.header_value("authorization"), Some("Basic QUMxOnNlY3JldA=="));
        assert_eq!(String::from_utf8(request.body).unwrap(), "To=%2B1+415&Body=a%26b");
    }
}
