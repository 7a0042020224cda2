//! Inbound path: a webhook through the plugin into one store transaction.

use std::sync::Arc;
use std::time::Instant;

use omni_core::{IngestBatch, Normalizer, Store, StoreError};

use crate::connector::Connector;
use crate::contention::{KV_ATTEMPTS, RetryLanes};
use crate::events::{self, EventError};
use crate::runtime::bindings::wit;
use crate::runtime::{CallError, MAX_RESPONSE_HEADERS};
use crate::telemetry::Telemetry;

/// Why a webhook could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The plugin refused the request (bad signature, malformed body, ...).
    #[error("{}", plugin_message(.0))]
    Plugin(wit::PluginError),
    /// The plugin failed.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The plugin's events cannot be stored.
    #[error(transparent)]
    Events(#[from] EventError),
    /// The store failed; nothing was stored and the provider should retry.
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
}

/// The message of a plugin error.
pub fn plugin_message(error: &wit::PluginError) -> &str {
    match error {
        wit::PluginError::BadRequest(m)
        | wit::PluginError::Unauthorized(m)
        | wit::PluginError::Forbidden(m)
        | wit::PluginError::NotFound(m)
        | wit::PluginError::Unsupported(m)
        | wit::PluginError::UnsupportedMediaType(m)
        | wit::PluginError::Internal(m) => m,
    }
}

/// What the inbound path needs.
pub struct Inbound {
    /// The conversation store.
    pub store: Arc<dyn Store>,
    /// Retry lanes for key-value conflicts.
    pub lanes: Arc<RetryLanes>,
    /// Identity normalisation rules.
    pub normalizer: Normalizer,
    /// Counters.
    pub telemetry: Arc<Telemetry>,
    /// Told when events commit, to wake event-log readers.
    pub log: Arc<crate::log_watch::LogWatch>,
}

impl Inbound {
    /// Runs a webhook through `connector` and stores its events and
    /// key-value writes in one transaction. The plugin's response is returned
    /// only once everything is stored, so an acknowledged webhook is never lost.
    pub async fn handle_webhook(
        &self,
        connector: &dyn Connector,
        request: wit::HttpRequest,
    ) -> Result<wit::HttpResponse, HookError> {
        let id = connector.id().as_str();
        let result = self.run(connector, request).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(HookError::Plugin(_)) => "refused",
            Err(HookError::Call(e)) => {
                self.telemetry.plugin_failure(id, e.code());
                e.code()
            }
            Err(HookError::Events(_)) => "invalid_event",
            Err(HookError::Store(_)) => "store_unavailable",
        };
        self.telemetry.webhook(id, outcome);
        result
    }

    async fn run(&self, connector: &dyn Connector, request: wit::HttpRequest) -> Result<wit::HttpResponse, HookError> {
        let mut attempt = 0;
        let mut _lane = None;
        loop {
            attempt += 1;
            let started = Instant::now();
            let output = connector.handle_webhook(request.clone()).await;
            self.telemetry
                .call_time(connector.id().as_str(), "handle-webhook", started.elapsed());
            let output = output?;
            let outcome = output.value.map_err(HookError::Plugin)?;
            check_response(&outcome.response, connector)?;
            let events = events::normalize(
                outcome.events,
                connector.manifest(),
                connector.limits(),
                &self.normalizer,
            )?;
            if events.is_empty() && output.kv.writes.is_empty() {
                return Ok(outcome.response);
            }
            let batch = IngestBatch {
                workspace: connector.workspace().to_owned(),
                connector: connector.id().clone(),
                channel: connector.manifest().channel.clone(),
                events,
                kv: output.kv,
            };
            match self.store.ingest(batch).await {
                Ok(report) => {
                    self.log.nudge();
                    let (id, channel) = (connector.id().as_str(), connector.manifest().channel.as_str());
                    self.telemetry
                        .messages(id, channel, "inbound", report.messages.len() as u64);
                    self.telemetry.duplicates(id, report.duplicates as u64);
                    self.telemetry.csat(id, report.csat_answers as u64);
                    tracing::debug!(connector = %connector.id(), stored = report.messages.len(),
                        duplicates = report.duplicates, receipts = report.statuses_applied, "webhook stored");
                    return Ok(outcome.response);
                }
                Err(StoreError::KvConflict { .. }) if attempt < KV_ATTEMPTS => {
                    tracing::debug!(connector = %connector.id(), attempt, "key-value conflict; running the webhook again");
                    if _lane.is_none() {
                        _lane = Some(self.lanes.enter(connector.id()).await);
                    }
                }
                Err(e) => return Err(HookError::Store(e)),
            }
        }
    }
}

/// Refuses a plugin response over the limits or out of range.
pub fn check_response(response: &wit::HttpResponse, connector: &dyn Connector) -> Result<(), CallError> {
    let limit = connector.limits().max_response_bytes;
    if response.body.len() > limit {
        return Err(CallError::InvalidOutput(format!(
            "response body of {} bytes is over the {limit}-byte limit",
            response.body.len()
        )));
    }
    if !(100..=599).contains(&response.status) {
        return Err(CallError::InvalidOutput(format!(
            "HTTP status {} is out of range",
            response.status
        )));
    }
    if response.headers.len() > MAX_RESPONSE_HEADERS {
        return Err(CallError::InvalidOutput(format!(
            "{} response headers; the limit is {MAX_RESPONSE_HEADERS}",
            response.headers.len()
        )));
    }
    Ok(())
}
