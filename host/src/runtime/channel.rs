//! A loaded channel plugin: one `InstancePre`, a fresh instance per call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use omni_core::{ConnectorId, Store};
use tokio::sync::Semaphore;
use wasmtime::{Engine, Trap, UpdateDeadline};

use super::bindings::{ChannelPre, wit};
use super::kv::KvSession;
use super::manifest::Manifest;
use super::state::{CallState, PluginContext};
use super::{CallError, Limits};
use crate::connector::{CallOutput, Connector};

/// Extra time the host allows past the plugin's deadline before it gives up
/// on the call from the outside (a host function stuck on the database).
const HOST_GRACE: Duration = Duration::from_secs(5);

/// A linked component and everything needed to run one call of it.
pub(super) struct Sandbox {
    pub engine: Engine,
    pub pre: ChannelPre<CallState>,
    pub context: Arc<PluginContext>,
    pub limits: Limits,
    /// The store behind the plugin's key-value functions; `None` refuses them.
    pub kv_store: Option<Arc<dyn Store>>,
    pub slots: Arc<Semaphore>,
}

/// A channel plugin loaded into the shared engine.
pub struct WasmChannel {
    pub(super) sandbox: Sandbox,
    pub(super) manifest: Manifest,
    pub(super) workspace: String,
}

impl Sandbox {
    fn new_store(&self) -> wasmtime::Store<CallState> {
        let kv = KvSession::new(self.kv_store.clone(), self.context.id.clone());
        let deadline = Instant::now() + self.limits.timeout;
        let state = CallState::new(self.context.clone(), self.limits.memory_bytes, kv, deadline);
        let mut store = wasmtime::Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        // Yield to the executor every tick so a busy plugin never starves
        // other tasks, and interrupt it once the deadline has passed.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store
    }

    /// Runs `call` on a fresh instance and maps every failure to a [`CallError`].
    async fn call<R, F>(&self, call: F) -> Result<CallOutput<R>, CallError>
    where
        F: AsyncFnOnce(&mut wasmtime::Store<CallState>, &super::bindings::Channel) -> wasmtime::Result<R>,
    {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| CallError::Host("the plugin runtime is shutting down".into()))?;
        let mut store = self.new_store();
        let outcome = tokio::time::timeout(self.limits.timeout + HOST_GRACE, async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            call(&mut store, &instance).await
        })
        .await;
        let state = store.data();
        if let Some(requested) = state.limiter.breached {
            return Err(CallError::MemoryLimit {
                requested,
                limit: self.limits.memory_bytes,
            });
        }
        if let Some(failure) = &state.kv.store_failure {
            return Err(CallError::Store(failure.clone()));
        }
        let value = match outcome {
            Err(_elapsed) => return Err(CallError::Timeout(self.limits.timeout)),
            Ok(Err(error)) => return Err(self.explain(&error, state)),
            Ok(Ok(value)) => value,
        };
        if state.logs_dropped > 0 {
            tracing::warn!(connector = %self.context.id, dropped = state.logs_dropped,
                "plugin wrote more log lines than allowed in one call");
        }
        Ok(CallOutput {
            value,
            kv: store.into_data().kv.into_changes(),
        })
    }

    fn explain(&self, error: &wasmtime::Error, state: &CallState) -> CallError {
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => CallError::Timeout(self.limits.timeout),
            Some(trap) => {
                let stderr = state.stderr.text();
                if stderr.is_empty() {
                    CallError::Trap(trap.to_string())
                } else {
                    CallError::Trap(format!("{trap}; it wrote: {stderr}"))
                }
            }
            None => CallError::Host(format!("{error:#}")),
        }
    }

    /// Calls the plugin's `manifest` export.
    pub async fn call_manifest(&self) -> Result<wit::PluginManifest, CallError> {
        self.call(async |store, instance| instance.omni_plugin_connector().call_manifest(store).await)
            .await
            .map(|output| output.value)
    }
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
