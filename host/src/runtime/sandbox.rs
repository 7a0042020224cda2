//! Running one call of a plugin: a fresh instance from the plugin's
//! `InstancePre` or a warm one ([`super::instances`]), under its deadline,
//! memory and output limits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use omni_core::Store;
use tokio::sync::Semaphore;
use wasmtime::{Engine, Trap, UpdateDeadline};

use super::bindings::{Channel, ChannelPre, crm};
use super::instances::{InstancePolicy, Live, WarmPool};
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
pub struct Sandbox<P: WorldPre> {
    pub engine: Engine,
    pub pre: P,
    pub context: Arc<PluginContext>,
    pub limits: Limits,
    /// The store behind the plugin's key-value functions; `None` refuses them.
    pub kv_store: Option<Arc<dyn Store>>,
    pub slots: Arc<Semaphore>,
    /// Fresh or warm instances.
    pub policy: InstancePolicy,
    /// Idle warm instances (empty under [`InstancePolicy::Fresh`]).
    pub warm: WarmPool<P::Exports>,
    /// What a fresh instance was measured to cost at load.
    pub fresh_cost: Duration,
}

impl<P: WorldPre> Sandbox<P> {
    fn new_store(&self, deadline: Instant) -> wasmtime::Store<CallState> {
        let state = CallState::new(
            self.context.clone(),
            self.limits.memory_bytes,
            self.kv_session(),
            deadline,
        );
        let mut store = wasmtime::Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        // Yield to the executor every tick so a busy plugin never starves
        // other tasks, and interrupt it once the call's deadline has passed.
        store.epoch_deadline_callback(|store| {
            if Instant::now() >= store.data().deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store
    }

    fn kv_session(&self) -> KvSession {
        KvSession::new(self.kv_store.clone(), self.context.id.clone())
    }

    /// Measures what a fresh instance costs: the least of a few
    /// instantiations, so one cold start does not decide.
    pub async fn fresh_cost(&self) -> Result<Duration, CallError> {
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let started = Instant::now();
            let mut store = self.new_store(started + self.limits.timeout);
            store.set_epoch_deadline(1);
            let instance = tokio::time::timeout(self.limits.timeout + HOST_GRACE, self.pre.instantiate(&mut store))
                .await
                .map_err(|_| CallError::Timeout(self.limits.timeout))?;
            self.check_state(store.data())?;
            if let Err(error) = instance {
                return Err(self.failure(&error, store.data()));
            }
            best = best.min(started.elapsed());
        }
        Ok(best)
    }

    /// Runs `call` on an instance (fresh, or warm under that policy) and
    /// maps every failure to a [`CallError`]. An instance that failed is
    /// never used again.
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
        let deadline = started + self.limits.timeout;
        let warm = match self.policy {
            InstancePolicy::Warm { .. } => self.warm.take(),
            InstancePolicy::Fresh => None,
        };
        let (mut store, exports, calls) = match warm {
            Some(mut live) => {
                live.store.data_mut().begin_call(self.kv_session(), deadline);
                (live.store, Some(live.exports), live.calls)
            }
            None => (self.new_store(deadline), None, 0),
        };
        store.set_epoch_deadline(1);
        let outcome = tokio::time::timeout(self.limits.timeout + HOST_GRACE, async {
            let exports = match exports {
                Some(exports) => exports,
                None => self.pre.instantiate(&mut store).await?,
            };
            let value = call(&mut store, &exports).await?;
            Ok::<_, wasmtime::Error>((value, exports))
        })
        .await;
        let state = store.data();
        self.check_state(state)?;
        let (value, exports) = match outcome {
            Err(_elapsed) => return Err(CallError::Timeout(self.limits.timeout)),
            Ok(Err(error)) => return Err(self.failure(&error, state)),
            Ok(Ok(done)) => done,
        };
        if state.logs_dropped > 0 {
            tracing::warn!(connector = %self.context.id, dropped = state.logs_dropped,
                "plugin wrote more log lines than allowed in one call");
        }
        let peak_memory = state.limiter.peak;
        let (kv, undeclared, requests) = store.data_mut().end_call();
        if let InstancePolicy::Warm { max_calls } = self.policy
            && calls + 1 < max_calls
        {
            self.warm.put(Live {
                store,
                exports,
                calls: calls + 1,
            });
        }
        Ok(CallOutput {
            value,
            kv: kv.into_changes(),
            usage: CallUsage {
                elapsed: started.elapsed(),
                peak_memory,
                undeclared,
                requests,
            },
        })
    }

    /// A memory breach or a store failure during the call, which the
    /// plugin may have hidden by handling the error it got.
    fn check_state(&self, state: &CallState) -> Result<(), CallError> {
        if let Some(requested) = state.limiter.breached {
            return Err(CallError::MemoryLimit {
                requested,
                limit: self.limits.memory_bytes,
            });
        }
        if let Some(failure) = &state.kv.store_failure {
            return Err(CallError::Store(failure.clone()));
        }
        Ok(())
    }

    fn failure(&self, error: &wasmtime::Error, state: &CallState) -> CallError {
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
