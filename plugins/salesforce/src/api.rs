//! Authenticated calls to the REST API, with one token refresh on 401.

use omni_plugin_sdk::prelude::*;

use crate::auth::{self, Credentials, Token};
use crate::config::Config;
use crate::errors;

/// A REST API session for one plugin call.
pub struct Api<'a> {
    host: Host<'a>,
    /// The instance's config.
    pub config: Config,
    credentials: Credentials,
    token: Option<Token>,
}

impl<'a> Api<'a> {
    /// Reads config and credentials; both failing is permanent. No request
    /// is sent until the first call.
    pub fn new(host: Host<'a>) -> Result<Self, IntegrationError> {
        let config = Config::read(&host)?;
        let credentials = Credentials::read(&host)?;
        Ok(Self {
            host,
            config,
            credentials,
            token: None,
        })
    }

    /// The host, for logs and the key-value store.
    pub fn host(&self) -> &Host<'a> {
        &self.host
    }

    /// `GET url`.
    pub fn get(&mut self, url: &str) -> Result<IncomingResponse, IntegrationError> {
        self.send(OutgoingRequest::get(url))
    }

    /// `PATCH url` with a JSON body.
    pub fn patch(&mut self, url: &str, body: &serde_json::Value) -> Result<IncomingResponse, IntegrationError> {
        self.send(OutgoingRequest::new("PATCH", url).json(body))
    }

    /// Sends a request with the current token. On 401 with a cached token
    /// the refresh flow runs once and the request is repeated; a 401 with a
    /// token just obtained (or the static one) is reported to the operator
    /// and retried later, since the events are fine and only the
    /// credentials need fixing. Any other answer is the caller's to read.
    fn send(&mut self, request: OutgoingRequest) -> Result<IncomingResponse, IntegrationError> {
        let token = match &self.token {
            Some(token) => token.clone(),
            None => auth::current(&self.host, &self.config, &self.credentials)?,
        };
        self.token = Some(token.clone());
        let response = self.attempt(&request, &token.value)?;
        if response.status != 401 {
            return Ok(response);
        }
        if matches!(self.credentials, Credentials::Refresh { .. }) && !token.fresh {
            self.host
                .debug("Salesforce refused the cached access token; running the refresh token flow");
            let renewed = auth::refresh(&self.host, &self.config, &self.credentials)?;
            self.token = Some(renewed.clone());
            let response = self.attempt(&request, &renewed.value)?;
            if response.status != 401 {
                return Ok(response);
            }
            return Err(self.unauthorized(&response, &renewed));
        }
        Err(self.unauthorized(&response, &token))
    }

    fn attempt(&self, request: &OutgoingRequest, token: &str) -> Result<IncomingResponse, IntegrationError> {
        let request = request.clone().bearer(token).header("accept", "application/json");
        self.host.http(&request).map_err(|e| errors::transport(e, &request.url))
    }

    fn unauthorized(&self, response: &IncomingResponse, token: &Token) -> IntegrationError {
        let detail = errors::api_errors(response)
            .first()
            .map(|e| format!("{}: {}", e.error_code, e.message))
            .unwrap_or_else(|| "no details".to_owned());
        let advice = match (&self.credentials, &token.instance_url) {
            (Credentials::Static(_), _) => "the `access_token` secret has expired or was revoked; replace it, or \
                                            set `client_id`, `client_secret` and `refresh_token` so the plugin \
                                            renews tokens itself"
                .to_owned(),
            (Credentials::Refresh { .. }, Some(issued_for)) if !same_host(issued_for, &self.config.instance_url) => {
                format!(
                    "the token endpoint issued the token for {issued_for}, but config `instance_url` is {}; \
                     point `instance_url` (and `login_url` for sandboxes) at the same org",
                    self.config.instance_url
                )
            }
            (Credentials::Refresh { .. }, _) => "even a freshly refreshed token is refused: check that the \
                                                 integration user is active, has \"API Enabled\", and that the \
                                                 connected app's IP and session policies allow this host"
                .to_owned(),
        };
        let message = format!("Salesforce answered 401 ({detail}); {advice}; events are retried meanwhile");
        self.host.warn(&message);
        IntegrationError::retryable(message)
    }
}

/// Whether two URLs name the same host.
fn same_host(a: &str, b: &str) -> bool {
    let host = |url: &str| {
        url.split("://")
            .nth(1)
            .unwrap_or(url)
            .split(['/', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    host(a) == host(b)
}
