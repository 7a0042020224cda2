//! The per-call store data, and the host functions a plugin can import.
//!
//! A fresh [`CallState`] backs every call: a WASI context with nothing in it
//! (no files, sockets, environment or stdio), the memory limiter, and the
//! capability-checked `omni:plugin/host` functions.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use omni_core::ConnectorId;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::omni::plugin::{host, types};
use super::egress::{Egress, EgressError, OutgoingRequest};
use super::kv::{KvFailure, KvSession};
use super::limits::{CallLimiter, MAX_HTTP_REQUESTS, MAX_LOG_LINE_BYTES, MAX_LOG_LINES};
use super::offline::OfflineNetwork;
use super::stderr::CapturedStderr;

/// What a plugin instance may see: its own config, secrets and capabilities.
#[derive(Debug)]
pub struct PluginContext {
    /// The connector instance.
    pub id: ConnectorId,
    /// Config values as JSON text.
    pub config: BTreeMap<String, String>,
    /// Secrets the operator configured *and* the manifest declared.
    pub secrets: BTreeMap<String, String>,
    /// Secret names the manifest declared.
    pub declared_secrets: Vec<String>,
    /// Outbound HTTP, limited to the instance's allowed hosts.
    pub egress: Option<Arc<Egress>>,
    /// In a conformance run: the offline network that replaces `egress`.
    pub offline: Option<Arc<OfflineNetwork>>,
}

/// The data of one call's `Store`.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Enforces the memory limit.
    pub limiter: CallLimiter,
    plugin: Arc<PluginContext>,
    /// The call's key-value view.
    pub kv: KvSession,
    logs_written: usize,
    /// Log lines dropped over the per-call cap.
    pub logs_dropped: usize,
    /// Host functions the plugin used without declaring them.
    pub undeclared: Vec<String>,
    /// What the plugin wrote to stderr (a panic message, usually).
    pub stderr: CapturedStderr,
    /// When the call must end; outbound requests share it.
    pub deadline: Instant,
    http_requests: usize,
    /// Outbound requests made, as `METHOD url`.
    pub requests: Vec<String>,
}

impl CallState {
    /// Fresh state for one call.
    pub fn new(plugin: Arc<PluginContext>, memory_bytes: usize, kv: KvSession, deadline: Instant) -> Self {
        let stderr = CapturedStderr::default();
        Self {
            wasi: WasiCtx::builder().stderr(stderr.clone()).build(),
            stderr,
            table: ResourceTable::new(),
            limiter: CallLimiter::new(memory_bytes),
            plugin,
            kv,
            logs_written: 0,
            logs_dropped: 0,
            undeclared: Vec::new(),
            deadline,
            http_requests: 0,
            requests: Vec::new(),
        }
    }
}

impl CallState {
    /// Readies the state of a reused instance for its next call: a new
    /// key-value session and deadline, and nothing left of the last call's
    /// logs, requests or stderr.
    pub fn begin_call(&mut self, kv: KvSession, deadline: Instant) {
        self.kv = kv;
        self.deadline = deadline;
        self.logs_written = 0;
        self.logs_dropped = 0;
        self.undeclared.clear();
        self.http_requests = 0;
        self.requests.clear();
        self.stderr.clear();
        self.limiter.breached = None;
    }

    /// Takes what the call left for the host: its key-value session, the
    /// undeclared uses and the outbound requests.
    pub fn end_call(&mut self) -> (KvSession, Vec<String>, Vec<String>) {
        let kv = std::mem::replace(&mut self.kv, KvSession::new(None, self.plugin.id.clone()));
        (
            kv,
            std::mem::take(&mut self.undeclared),
            std::mem::take(&mut self.requests),
        )
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for CallState {}

fn kv_error(failure: KvFailure) -> types::KvError {
    match failure {
        KvFailure::Denied(m) => types::KvError::Denied(m),
        KvFailure::TooLarge(m) => types::KvError::TooLarge(m),
        KvFailure::QuotaExceeded(m) => types::KvError::QuotaExceeded(m),
        KvFailure::Unavailable(m) => types::KvError::Unavailable(m),
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl host::Host for CallState {
    async fn log(&mut self, level: types::LogLevel, message: String) {
        if self.logs_written >= MAX_LOG_LINES {
            self.logs_dropped += 1;
            return;
        }
        self.logs_written += 1;
        let connector = self.plugin.id.as_str();
        let message = truncate(&message, MAX_LOG_LINE_BYTES);
        match level {
            types::LogLevel::Trace => tracing::trace!(target: "omni::plugin", connector, "{message}"),
            types::LogLevel::Debug => tracing::debug!(target: "omni::plugin", connector, "{message}"),
            types::LogLevel::Info => tracing::info!(target: "omni::plugin", connector, "{message}"),
            types::LogLevel::Warn => tracing::warn!(target: "omni::plugin", connector, "{message}"),
            types::LogLevel::Error => tracing::error!(target: "omni::plugin", connector, "{message}"),
        }
    }

    async fn instance_id(&mut self) -> String {
        self.plugin.id.to_string()
    }

    async fn config_get(&mut self, key: String) -> Option<String> {
        self.plugin.config.get(&key).cloned()
    }

    async fn secret_get(&mut self, name: String) -> Option<String> {
        if !self.plugin.declared_secrets.contains(&name) {
            tracing::warn!(connector = %self.plugin.id, secret = %name,
                "plugin asked for a secret its manifest does not declare; refused");
            self.undeclared.push(format!("secret-get({name})"));
            return None;
        }
        self.plugin.secrets.get(&name).cloned()
    }

    async fn kv_get(&mut self, key: String) -> Result<Option<Vec<u8>>, types::KvError> {
        let result = self.kv.get(&key).await;
        self.kv_result(result)
    }

    async fn kv_set(&mut self, key: String, value: Vec<u8>) -> Result<(), types::KvError> {
        let result = self.kv.set(&key, value);
        self.kv_result(result)
    }

    async fn kv_delete(&mut self, key: String) -> Result<(), types::KvError> {
        let result = self.kv.delete(&key);
        self.kv_result(result)
    }

    async fn http_send(
        &mut self,
        request: types::OutgoingRequest,
    ) -> Result<types::IncomingResponse, types::HttpError> {
        if let Some(offline) = self.plugin.offline.clone() {
            return self.offline_send(&offline, request);
        }
        let Some(egress) = self.plugin.egress.clone() else {
            return Err(types::HttpError::Denied(
                "this connector instance may not make HTTP requests".into(),
            ));
        };
        if self.http_requests >= MAX_HTTP_REQUESTS {
            return Err(types::HttpError::Denied(format!(
                "more than {MAX_HTTP_REQUESTS} requests in one call"
            )));
        }
        self.http_requests += 1;
        let request = OutgoingRequest {
            method: request.method,
            url: request.url,
            headers: request.headers.into_iter().map(|h| (h.name, h.value)).collect(),
            body: request.body,
        };
        // Log where, not the whole URL: its path may hold a credential (Telegram's bot token).
        let origin = url::Url::parse(&request.url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| "(invalid URL)".to_owned());
        match egress.send(request, self.deadline).await {
            Ok(response) => Ok(types::IncomingResponse {
                status: response.status,
                headers: response
                    .headers
                    .into_iter()
                    .map(|(name, value)| types::Header { name, value })
                    .collect(),
                body: response.body,
            }),
            Err(error) => {
                tracing::info!(connector = %self.plugin.id, %origin, "outbound request failed: {error:?}");
                Err(match error {
                    EgressError::Denied(m) => types::HttpError::Denied(m),
                    EgressError::Timeout(m) => types::HttpError::Timeout(m),
                    EgressError::Unreachable(m) => types::HttpError::Unreachable(m),
                    EgressError::TooLarge(m) => types::HttpError::TooLarge(m),
                    EgressError::Invalid(m) => types::HttpError::Invalid(m),
                })
            }
        }
    }
}

impl CallState {
    /// A key-value result for the plugin; a refusal for want of the `kv`
    /// capability is remembered as undeclared use.
    fn kv_result<T>(&mut self, result: Result<T, KvFailure>) -> Result<T, types::KvError> {
        if let Err(KvFailure::Denied(_)) = &result
            && !self.undeclared.iter().any(|u| u == "kv")
        {
            self.undeclared.push("kv".to_owned());
        }
        result.map_err(kv_error)
    }

    /// `http-send` in a conformance run: recorded, checked against the
    /// manifest's hosts, answered offline.
    fn offline_send(
        &mut self,
        offline: &OfflineNetwork,
        request: types::OutgoingRequest,
    ) -> Result<types::IncomingResponse, types::HttpError> {
        self.requests.push(format!("{} {}", request.method, request.url));
        if !offline.declared(&request.url) {
            let host = url::Url::parse(&request.url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_else(|| request.url.clone());
            self.undeclared.push(format!("http-send({host})"));
            return Err(types::HttpError::Denied(format!(
                "{host} is not among the manifest's outbound-hosts"
            )));
        }
        let answer = offline.answer();
        Ok(types::IncomingResponse {
            status: answer.status,
            headers: answer
                .headers
                .into_iter()
                .map(|(name, value)| types::Header { name, value })
                .collect(),
            body: answer.body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
