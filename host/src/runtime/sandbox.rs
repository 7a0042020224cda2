//! Running one call of a plugin: a fresh `Store` and instance from the
//! plugin's `InstancePre`, under its deadline, memory and output limits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use omni_core::Store;
use tokio::sync::Semaphore;
use wasmtime::{Engine, Trap, UpdateDeadline};

use super::bindings::{Channel, ChannelPre, crm};
use super::kv::KvSession;
use super::state::{CallState, PluginContext};
use super::{CallError, Limits};
use crate::connector::{CallOutput, CallUsage};

/// A linked component of one world, ready to instantiate.
pub trait WorldPre: Send + Sync + 'static {
    /// The typed exports of an instance.
    type Exports: Send + Sync;
    /// Instantiates the component in `store`.
    fn instantiate(
        &self,
        store: &mut wasmtime::Store<CallState>,
    ) -> impl std::future::Future<Output = wasmtime::Result<Self::Exports>> + Send;
}

impl WorldPre for ChannelPre<CallState> {
    type Exports = Channel;
    async fn instantiate(&self, store: &mut wasmtime::Store<CallState>) -> wasmtime::Result<Channel> {
        self.instantiate_async(store).await
    }
}

impl WorldPre for crm::CrmPre<CallState> {
    type Exports = crm::Crm;
    async fn instantiate(&self, store: &mut wasmtime::Store<CallState>) -> wasmtime::Result<crm::Crm> {
        self.instantiate_async(store).await
    }
}

/// Extra time the host allows past the plugin's deadline before it gives up
/// on the call from the outside (a host function stuck on the database).
const HOST_GRACE: Duration = Duration::from_secs(5);

/// A linked component and everything needed to run one call of it.
pub struct Sandbox<P> {
    pub engine: Engine,
    pub pre: P,
    pub context: Arc<PluginContext>,
    pub limits: Limits,
    /// The store behind the plugin's key-value functions; `None` refuses them.
    pub kv_store: Option<Arc<dyn Store>>,
    pub slots: Arc<Semaphore>,
}

impl<P: WorldPre> Sandbox<P> {
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
    pub async fn call<R, F>(&self, call: F) -> Result<CallOutput<R>, CallError>
    where
        F: AsyncFnOnce(&mut wasmtime::Store<CallState>, &P::Exports) -> wasmtime::Result<R>,
    {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| CallError::Host("the plugin runtime is shutting down".into()))?;
        let started = Instant::now();
        let mut store = self.new_store();
        let outcome = tokio::time::timeout(self.limits.timeout + HOST_GRACE, async {
            let instance = self.pre.instantiate(&mut store).await?;
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
        let state = store.into_data();
        let usage = CallUsage {
            elapsed: started.elapsed(),
            peak_memory: state.limiter.peak,
            undeclared: state.undeclared,
            requests: state.requests,
        };
        Ok(CallOutput {
            value,
            kv: state.kv.into_changes(),
            usage,
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
}

impl Sandbox<ChannelPre<CallState>> {
    /// Calls the plugin's `manifest` export.
    pub async fn call_manifest(&self) -> Result<super::bindings::wit::PluginManifest, CallError> {
        self.call(async |store, instance| instance.omni_plugin_connector().call_manifest(store).await)
            .await
            .map(|output| output.value)
    }
}

impl Sandbox<crm::CrmPre<CallState>> {
    /// Calls the plugin's `manifest` export.
    pub async fn call_manifest(&self) -> Result<super::bindings::wit::PluginManifest, CallError> {
        self.call(async |store, instance| instance.omni_plugin_integration().call_manifest(store).await)
            .await
            .map(|output| output.value)
    }
}
