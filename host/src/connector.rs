//! The host's view of a connector instance (a channel, or an integration
//! that also follows the event log), whatever runs it, and the registry of
//! configured instances.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use omni_core::{ConnectorId, KvChanges};

use crate::runtime::bindings::wit;
use crate::runtime::{CallError, Limits, Manifest};

/// A call's result plus the key-value changes to store with it.
#[derive(Debug)]
pub struct CallOutput<T> {
    /// What the plugin returned.
    pub value: T,
    /// Its key-value reads and writes.
    pub kv: KvChanges,
    /// What the call used.
    pub usage: CallUsage,
}

/// What one plugin call used: for logs and the conformance kit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallUsage {
    /// Wall time, instantiation included.
    pub elapsed: std::time::Duration,
    /// The most linear memory the instance asked for, in bytes.
    pub peak_memory: usize,
    /// Host functions used beyond what the manifest declares, e.g. `secret-get(token)`.
    pub undeclared: Vec<String>,
    /// Outbound requests, as `METHOD url`.
    pub requests: Vec<String>,
}

/// A channel connector instance. [`crate::runtime::WasmChannel`] is the real
/// one; benchmarks plug in the same code compiled natively.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// The instance id from `omni.toml`.
    fn id(&self) -> &ConnectorId;
    /// The workspace (tenant) its persons belong to.
    fn workspace(&self) -> &str;
    /// The plugin's manifest.
    fn manifest(&self) -> &Manifest;
    /// The per-call limits.
    fn limits(&self) -> &Limits;
    /// The instance as an integration, when it is one.
    fn integration(&self) -> Option<&dyn Integration> {
        None
    }
    /// Runs `handle-webhook`.
    async fn handle_webhook(
        &self,
        request: wit::HttpRequest,
    ) -> Result<CallOutput<Result<wit::WebhookOutcome, wit::PluginError>>, CallError>;
    /// Runs `send`.
    async fn send(
        &self,
        message: wit::OutboundMessage,
        recipient: wit::Identity,
    ) -> Result<CallOutput<Result<wit::SendReceipt, wit::SendError>>, CallError>;
}

/// A CRM or commerce integration: follows the event log and enriches persons.
#[async_trait]
pub trait Integration: Send + Sync {
    /// Runs `on-event`.
    async fn on_event(
        &self,
        event: wit::DomainEvent,
    ) -> Result<CallOutput<Result<wit::EventOutcome, wit::IntegrationError>>, CallError>;
    /// Runs `lookup`.
    async fn lookup(
        &self,
        person: wit::Person,
    ) -> Result<CallOutput<Result<Option<wit::Profile>, wit::IntegrationError>>, CallError>;
}

/// The configured connector instances, by id.
#[derive(Default)]
pub struct Registry {
    connectors: RwLock<BTreeMap<ConnectorId, Arc<dyn Connector>>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces an instance.
    pub fn insert(&self, connector: Arc<dyn Connector>) {
        let mut map = self.connectors.write().unwrap_or_else(|e| e.into_inner());
        map.insert(connector.id().clone(), connector);
    }

    /// Replaces every instance at once (a reload): calls already holding
    /// an old instance finish on it.
    pub fn replace_all(&self, connectors: Vec<Arc<dyn Connector>>) {
        let next = connectors.into_iter().map(|c| (c.id().clone(), c)).collect();
        *self.connectors.write().unwrap_or_else(|e| e.into_inner()) = next;
    }

    /// The instance with this id.
    pub fn get(&self, id: &ConnectorId) -> Option<Arc<dyn Connector>> {
        let map = self.connectors.read().unwrap_or_else(|e| e.into_inner());
        map.get(id).cloned()
    }

    /// The instances that are integrations, sorted by id.
    pub fn integrations(&self) -> Vec<Arc<dyn Connector>> {
        let map = self.connectors.read().unwrap_or_else(|e| e.into_inner());
        map.values().filter(|c| c.integration().is_some()).cloned().collect()
    }

    /// All instance ids, sorted.
    pub fn ids(&self) -> Vec<ConnectorId> {
        let map = self.connectors.read().unwrap_or_else(|e| e.into_inner());
        map.keys().cloned().collect()
    }
}
