//! A loaded channel plugin: one `InstancePre`, a fresh instance per call.

use async_trait::async_trait;
use omni_core::ConnectorId;

use super::bindings::{ChannelPre, wit};
use super::manifest::Manifest;
use super::sandbox::Sandbox;
use super::{CallError, Limits};
use crate::connector::{CallOutput, Connector};

/// A channel plugin loaded into the shared engine.
pub struct WasmChannel {
    pub(super) sandbox: Sandbox<ChannelPre<super::state::CallState>>,
    pub(super) manifest: Manifest,
    pub(super) workspace: String,
}

#[async_trait]
impl Connector for WasmChannel {
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

    async fn handle_webhook(
        &self,
        request: wit::HttpRequest,
    ) -> Result<CallOutput<Result<wit::WebhookOutcome, wit::PluginError>>, CallError> {
        self.sandbox
            .call(async |store, instance| {
                instance
                    .omni_plugin_connector()
                    .call_handle_webhook(store, &request)
                    .await
            })
            .await
    }

    async fn send(
        &self,
        message: wit::OutboundMessage,
        recipient: wit::Identity,
    ) -> Result<CallOutput<Result<wit::SendReceipt, wit::SendError>>, CallError> {
        self.sandbox
            .call(async |store, instance| {
                instance
                    .omni_plugin_connector()
                    .call_send(store, &message, &recipient)
                    .await
            })
            .await
    }
}
