//! A loaded CRM or commerce integration (the `crm` world): a fresh instance
//! per call, like a channel.

use async_trait::async_trait;
use omni_core::ConnectorId;

use super::bindings::{crm, wit};
use super::manifest::Manifest;
use super::sandbox::Sandbox;
use super::state::CallState;
use super::{CallError, Limits};
use crate::connector::{CallOutput, Connector, Integration};

/// An integration plugin loaded into the shared engine.
pub struct WasmIntegration {
    pub(super) sandbox: Sandbox<crm::CrmPre<CallState>>,
    pub(super) manifest: Manifest,
    pub(super) workspace: String,
}

#[async_trait]
impl Connector for WasmIntegration {
    fn id(&self) -> &ConnectorId {
        &self.sandbox.context.id
    }

    fn workspace(&self) -> &str {
        &self.workspace
    }

    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn limits(&self) -> &Limits {
        &self.sandbox.limits
    }

    fn integration(&self) -> Option<&dyn Integration> {
        Some(self)
    }

    async fn handle_webhook(
        &self,
        request: wit::HttpRequest,
    ) -> Result<CallOutput<Result<wit::WebhookOutcome, wit::PluginError>>, CallError> {
        self.sandbox
            .call(async |store, instance| {
                instance
                    .omni_plugin_integration()
                    .call_handle_webhook(store, &request)
                    .await
            })
            .await
    }

    async fn send(
        &self,
        _message: wit::OutboundMessage,
        _recipient: wit::Identity,
    ) -> Result<CallOutput<Result<wit::SendReceipt, wit::SendError>>, CallError> {
        Ok(CallOutput {
            value: Err(wit::SendError::Permanent(format!(
                "{} is an integration, not a channel: it cannot send messages",
                self.sandbox.context.id
            ))),
            kv: Default::default(),
            usage: Default::default(),
        })
    }
}

#[async_trait]
impl Integration for WasmIntegration {
    async fn on_event(
        &self,
        event: wit::DomainEvent,
    ) -> Result<CallOutput<Result<wit::EventOutcome, wit::IntegrationError>>, CallError> {
        self.sandbox
            .call(async |store, instance| instance.omni_plugin_integration().call_on_event(store, &event).await)
            .await
    }

    async fn lookup(
        &self,
        person: wit::Person,
    ) -> Result<CallOutput<Result<Option<wit::Profile>, wit::IntegrationError>>, CallError> {
        self.sandbox
            .call(async |store, instance| instance.omni_plugin_integration().call_lookup(store, &person).await)
            .await
    }
}
