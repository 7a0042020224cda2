//! Requests to HubSpot's CRM API: URLs, the Bearer token, JSON bodies, and
//! what a request that got no answer means.

use omni_plugin_sdk::prelude::*;
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::errors;

/// One call's view of HubSpot: the host that sends and the instance's config.
pub struct Api<'a> {
    /// The host, for HTTP, logs and state.
    pub host: Host<'a>,
    /// The instance's settings.
    pub config: &'a Config,
}

impl<'a> Api<'a> {
    /// Wraps a host and a config.
    pub fn new(host: Host<'a>, config: &'a Config) -> Self {
        Self { host, config }
    }

    /// `GET {api_base}{path}`.
    pub fn get(&self, path: &str, doing: &str) -> Result<IncomingResponse, IntegrationError> {
        self.send(OutgoingRequest::get(self.url(path)), doing)
    }

    /// `POST {api_base}{path}` with a JSON body.
    pub fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
        doing: &str,
    ) -> Result<IncomingResponse, IntegrationError> {
        self.send(OutgoingRequest::post(self.url(path)).json(body), doing)
    }

    /// `PATCH {api_base}{path}` with a JSON body.
    pub fn patch(
        &self,
        path: &str,
        body: &serde_json::Value,
        doing: &str,
    ) -> Result<IncomingResponse, IntegrationError> {
        self.send(OutgoingRequest::new("PATCH", self.url(path)).json(body), doing)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.api_base)
    }

    /// Sends with the token. Any HTTP answer comes back, so callers can read
    /// the statuses that mean something to them (404, 409) before handing the
    /// rest to [`errors::classify`]; only a missing answer is an error here.
    fn send(&self, request: OutgoingRequest, doing: &str) -> Result<IncomingResponse, IntegrationError> {
        let request = request.bearer(&self.config.token).header("accept", "application/json");
        self.host.http(&request).map_err(|e| errors::no_answer(e, doing))
    }
}

/// A successful answer's JSON. An unreadable one is permanent: retrying
/// would not change what the server sends (typically `api_base` pointing at
/// something that is not HubSpot).
pub fn read<T: DeserializeOwned>(response: &IncomingResponse, doing: &str) -> Result<T, IntegrationError> {
    response.json_body().map_err(|e| {
        IntegrationError::permanent(format!(
            "HubSpot's answer to {doing} is unreadable ({e}); check config `api_base`"
        ))
    })
}

/// `value` as one URL path segment. HubSpot ids are digits, but record ids
/// reach the plugin through the host and owner ids through HubSpot, so
/// nothing else may bend the path (`.` is escaped too, so `..` is no
/// parent directory).
pub fn segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' => out.push(byte as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(segment("512"), "512");
        assert_eq!(segment("../owners"), "%2E%2E%2Fowners");
        assert_eq!(segment("a b?c"), "a%20b%3Fc");
    }
}
