//! CORS for widgets embedded on the business's own site.

use omni_plugin_sdk::prelude::*;

/// The CORS decision for one request.
pub struct Cors {
    allow_origin: Option<String>,
}

impl Cors {
    /// Decides from the `Origin` header and the `allowed_origins` config.
    pub fn from_config(host: &Host, request: &Request) -> Result<Self, PluginError> {
        let allowed: Vec<String> = host.config_or("allowed_origins", Vec::new())?;
        let allow_origin = request.header("origin").and_then(|origin| {
            allowed
                .iter()
                .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
                .then(|| origin.to_owned())
        });
        Ok(Self { allow_origin })
    }

    /// The answer to a preflight request.
    pub fn preflight(&self) -> Response {
        let response = Response::no_content();
        match &self.allow_origin {
            Some(_) => self
                .headers(response)
                .with_header("access-control-allow-methods", "GET, POST, OPTIONS")
                .with_header("access-control-allow-headers", "content-type")
                .with_header("access-control-max-age", "600"),
            None => response,
        }
    }

    /// Adds the CORS headers to a normal response.
    pub fn apply(&self, mut outcome: WebhookOutcome) -> WebhookOutcome {
        outcome.response = self.headers(outcome.response);
        outcome
    }

    fn headers(&self, response: Response) -> Response {
        match &self.allow_origin {
            Some(origin) => response
                .with_header("access-control-allow-origin", origin)
                .with_header("vary", "origin"),
            None => response,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Webchat;

    #[test]
    fn allowed_origin_gets_cors_headers() {
        let mock = testing::MockHost::new().with_config("allowed_origins", serde_json::json!(["https://shop.example"]));
        let request = Request::new("OPTIONS", "/messages").with_header("origin", "https://shop.example");
        let outcome = Webchat::handle_webhook(&mock.host(), request).unwrap();
        assert_eq!(outcome.response.status, 204);
        assert_eq!(
            outcome.response.header("access-control-allow-origin"),
            Some("https://shop.example")
        );

        let request = Request::new("OPTIONS", "/messages").with_header("origin", "https://evil.example");
        let outcome = Webchat::handle_webhook(&mock.host(), request).unwrap();
        assert_eq!(outcome.response.header("access-control-allow-origin"), None);
    }
}
