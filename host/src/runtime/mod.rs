//! The sandbox: loads plugins as WebAssembly components and runs each call
//! in a fresh, limited instance.
//!
//! One [`Runtime`] owns the shared wasmtime `Engine` (pooling allocator,
//! epoch deadlines), the linker with WASI p2 (empty context) and the
//! `omni:plugin/host` functions, and the on-disk cache of precompiled
//! components. [`Runtime::load`] turns a `[[plugins]]` entry into a
//! [`WasmChannel`] or a [`WasmIntegration`] (whichever world the component
//! exports) whose calls fail alone: a trap, a timeout or a memory breach
//! becomes a [`CallError`] for that call and nothing else.

pub mod bindings;
mod cache;
mod channel;
pub mod egress;
mod engine;
mod error;
mod instances;
mod integration;
mod kv;
mod limits;
mod manifest;
pub mod offline;
mod sandbox;
mod state;
mod stderr;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use omni_core::Store;
use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

pub use cache::CacheOutcome;
pub use channel::WasmChannel;
pub use engine::{EPOCH_TICK, EngineOptions};
pub use error::{CallError, LoadError};
pub use instances::{DEFAULT_MAX_CALLS, InstanceConfig, InstancePolicy, PolicyChoice, WARM_THRESHOLD};
pub use integration::WasmIntegration;
pub use kv::{KvFailure, KvSession};
pub use limits::{Limits, MAX_RESPONSE_HEADERS};
pub use manifest::{Manifest, channel_name};
pub use state::PluginContext;

use crate::config::PluginConfig;
use bindings::{
    CHANNEL_INTERFACE, CONTRACT_VERSION, Channel, ChannelPre, ContractFit, INTEGRATION_INTERFACE, contract_fit, crm,
};
use cache::ComponentCache;
use instances::WarmPool;
use sandbox::{Sandbox, WorldPre};
use state::CallState;

/// The shared plugin runtime.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    cache: ComponentCache,
    slots: Arc<Semaphore>,
    /// Idle warm instances all plugins together may keep.
    warm_budget: Arc<Semaphore>,
    /// The largest memory limit the engine allows.
    max_memory_bytes: usize,
    ticker_stop: Arc<AtomicBool>,
}

/// What loading one plugin took, for start-up logs and benchmarks.
#[derive(Debug, Clone, Copy)]
pub struct LoadReport {
    /// Whether the precompiled cache was used.
    pub cache: CacheOutcome,
    /// Time to read, compile or deserialise, link and describe the plugin.
    pub elapsed: std::time::Duration,
    /// What a fresh instance was measured to cost.
    pub fresh_cost: std::time::Duration,
    /// The instance policy in force.
    pub policy: InstancePolicy,
}

impl Runtime {
    /// Creates the engine and starts its epoch ticker. `cache_dir` holds
    /// precompiled components; `None` compiles on every start.
    pub fn new(options: EngineOptions, cache_dir: Option<PathBuf>) -> Result<Self, LoadError> {
        let host_error = |e: wasmtime::Error| LoadError::Contract {
            path: PathBuf::new(),
            message: format!("cannot set up the engine: {e:#}"),
        };
        let engine = engine::build(options).map_err(host_error)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(host_error)?;
        Channel::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |state| state).map_err(host_error)?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        let ticker_engine = engine.clone();
        let stop = ticker_stop.clone();
        std::thread::Builder::new()
            .name("omni-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    ticker_engine.increment_epoch();
                }
            })
            .map_err(|e| LoadError::Contract {
                path: PathBuf::new(),
                message: format!("cannot start the epoch thread: {e}"),
            })?;

        Ok(Self {
            engine,
            linker,
            cache: ComponentCache::new(cache_dir),
            slots: Arc::new(Semaphore::new(options.slots.max(1) as usize)),
            warm_budget: Arc::new(Semaphore::new(engine::warm_budget(options.slots) as usize)),
            max_memory_bytes: options.max_memory_bytes,
            ticker_stop,
        })
    }

    /// The largest memory limit a plugin may have on this engine.
    pub fn max_memory_bytes(&self) -> usize {
        self.max_memory_bytes
    }

    /// Loads the plugin of one `[[plugins]]` entry (`index` locates config
    /// errors), a channel or an integration by what the component exports:
    /// compiles or reuses the component, links it, reads and checks its
    /// manifest, and checks the instance config against it.
    pub async fn load(
        &self,
        plugin: &PluginConfig,
        index: usize,
        store: Option<Arc<dyn Store>>,
    ) -> Result<(LoadedPlugin, LoadReport), LoadError> {
        self.load_with(plugin, index, store, Network::Real).await
    }

    /// Like [`Runtime::load`], choosing the plugin's network: the real one
    /// behind `allowed_hosts`, or an [`offline::OfflineNetwork`] for a
    /// conformance run.
    pub async fn load_with(
        &self,
        plugin: &PluginConfig,
        index: usize,
        store: Option<Arc<dyn Store>>,
        network: Network,
    ) -> Result<(LoadedPlugin, LoadReport), LoadError> {
        let started = Instant::now();
        let (component, cache) = self.compile(&plugin.wasm).await?;
        let path = &plugin.wasm;
        let loaded = match world_of(&self.engine, path, &component)? {
            World::Channel => {
                let pre = self.link(path, &component, ChannelPre::new)?;
                let describe = self.sandbox(pre, plugin.id.clone(), plugin.limits);
                let manifest = check_manifest(path, describe.call_manifest().await)?;
                let (sandbox, workspace) = self
                    .configure(plugin, index, &manifest, describe, store, network)
                    .await?;
                LoadedPlugin::Channel(WasmChannel {
                    sandbox,
                    manifest,
                    workspace,
                })
            }
            World::Integration => {
                let pre = self.link(path, &component, crm::CrmPre::new)?;
                let describe = self.sandbox(pre, plugin.id.clone(), plugin.limits);
                let manifest = check_manifest(path, describe.call_manifest().await)?;
                let (sandbox, workspace) = self
                    .configure(plugin, index, &manifest, describe, store, network)
                    .await?;
                LoadedPlugin::Integration(WasmIntegration {
                    sandbox,
                    manifest,
                    workspace,
                })
            }
        };
        let (policy, fresh_cost) = loaded.instances();
        Ok((
            loaded,
            LoadReport {
                cache,
                elapsed: started.elapsed(),
                fresh_cost,
                policy,
            },
        ))
    }

    /// Loads a channel plugin; an integration is refused.
    pub async fn load_channel(
        &self,
        plugin: &PluginConfig,
        index: usize,
        store: Option<Arc<dyn Store>>,
    ) -> Result<(WasmChannel, LoadReport), LoadError> {
        match self.load(plugin, index, store).await? {
            (LoadedPlugin::Channel(channel), report) => Ok((channel, report)),
            (LoadedPlugin::Integration(_), _) => Err(LoadError::Contract {
                path: plugin.wasm.clone(),
                message: "this is an integration (world `crm`), not a channel connector".into(),
            }),
        }
    }

    /// Reads and compiles a component, or takes it from the precompiled cache.
    async fn compile(
        &self,
        path: &std::path::Path,
    ) -> Result<(wasmtime::component::Component, CacheOutcome), LoadError> {
        let wasm = tokio::fs::read(path).await.map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        let engine = self.engine.clone();
        let cache = self.cache.clone();
        // Compiling takes a while; keep it off the async workers.
        tokio::task::spawn_blocking(move || cache.load(&engine, &wasm))
            .await
            .map_err(|e| LoadError::Compile {
                path: path.to_owned(),
                message: e.to_string(),
            })?
            .map_err(|e| LoadError::Compile {
                path: path.to_owned(),
                message: format!("{e:#}"),
            })
    }

    /// Gives a described plugin its instance config, secrets, state and
    /// egress, once the config passes the manifest's checks, and its
    /// instance policy.
    async fn configure<P: WorldPre>(
        &self,
        plugin: &PluginConfig,
        index: usize,
        manifest: &Manifest,
        describe: Sandbox<P>,
        store: Option<Arc<dyn Store>>,
        network: Network,
    ) -> Result<(Sandbox<P>, String), LoadError> {
        manifest.check_instance(plugin, index)?;
        let (egress, offline) = match network {
            Network::Real => (egress_for(plugin, index, manifest, &plugin.wasm)?, None),
            Network::Offline => {
                let declared =
                    egress::AllowList::parse(&manifest.outbound_hosts).map_err(|message| LoadError::Manifest {
                        path: plugin.wasm.clone(),
                        message: format!("outbound-hosts: {message}"),
                    })?;
                (None, Some(Arc::new(offline::OfflineNetwork::new(declared))))
            }
        };
        let mut sandbox = Sandbox {
            context: Arc::new(PluginContext {
                id: plugin.id.clone(),
                config: plugin.config.iter().map(|(k, v)| (k.clone(), v.to_string())).collect(),
                secrets: plugin.secrets.clone(),
                declared_secrets: manifest.secrets.clone(),
                egress,
                offline,
            }),
            kv_store: if manifest.kv { store } else { None },
            warm: WarmPool::new(self.warm_budget.clone()),
            ..describe
        };
        let fresh_cost = sandbox.fresh_cost().await.map_err(|source| LoadError::Call {
            path: plugin.wasm.clone(),
            source,
        })?;
        sandbox.fresh_cost = fresh_cost;
        sandbox.policy = InstancePolicy::choose(plugin.instances, fresh_cost);
        Ok((sandbox, plugin.workspace.clone()))
    }
}

/// Where a plugin's outbound requests go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// The network, limited to the instance's allowed hosts.
    Real,
    /// Nowhere: recorded and answered offline (conformance runs).
    Offline,
}

/// A loaded plugin of either world.
pub enum LoadedPlugin {
    /// A channel connector.
    Channel(WasmChannel),
    /// A CRM or commerce integration.
    Integration(WasmIntegration),
}

impl LoadedPlugin {
    /// The plugin as the registry holds it.
    pub fn into_connector(self) -> Arc<dyn crate::connector::Connector> {
        match self {
            LoadedPlugin::Channel(c) => Arc::new(c),
            LoadedPlugin::Integration(i) => Arc::new(i),
        }
    }

    /// The checked manifest.
    pub fn manifest(&self) -> &Manifest {
        match self {
            LoadedPlugin::Channel(c) => &c.manifest,
            LoadedPlugin::Integration(i) => &i.manifest,
        }
    }

    /// The offline network it was loaded with, if any.
    pub fn offline(&self) -> Option<Arc<offline::OfflineNetwork>> {
        match self {
            LoadedPlugin::Channel(c) => c.sandbox.context.offline.clone(),
            LoadedPlugin::Integration(i) => i.sandbox.context.offline.clone(),
        }
    }

    /// The instance policy in force, and what a fresh instance costs.
    pub fn instances(&self) -> (InstancePolicy, std::time::Duration) {
        match self {
            LoadedPlugin::Channel(c) => (c.sandbox.policy, c.sandbox.fresh_cost),
            LoadedPlugin::Integration(i) => (i.sandbox.policy, i.sandbox.fresh_cost),
        }
    }

    /// `channel` or `integration`.
    pub fn world(&self) -> &'static str {
        match self {
            LoadedPlugin::Channel(_) => "channel",
            LoadedPlugin::Integration(_) => "integration",
        }
    }
}

/// The worlds of the contract a component can implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum World {
    Channel,
    Integration,
}

/// Which world a component implements, by its exports: any version of the
/// contract this host supports (older minor versions included).
fn world_of(
    engine: &Engine,
    path: &std::path::Path,
    component: &wasmtime::component::Component,
) -> Result<World, LoadError> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_owned()).collect();
    for (interface, world) in [
        (INTEGRATION_INTERFACE, World::Integration),
        (CHANNEL_INTERFACE, World::Channel),
    ] {
        let Some(fit) = exports.iter().find_map(|e| contract_fit(e, interface)) else {
            continue;
        };
        return match fit {
            ContractFit::Supported(_) => Ok(world),
            ContractFit::Newer(version) => Err(LoadError::Contract {
                path: path.to_owned(),
                message: format!(
                    "it was built against omni:plugin@{version}, newer than this host's {CONTRACT_VERSION}; \
                     upgrade omni, or build the plugin with an omni-plugin-sdk of contract {CONTRACT_VERSION} or older"
                ),
            }),
            ContractFit::Incompatible(version) => Err(LoadError::Contract {
                path: path.to_owned(),
                message: format!(
                    "it was built against omni:plugin@{version}, which this host (contract {CONTRACT_VERSION}) \
                     cannot run; use an omni release of that contract line"
                ),
            }),
        };
    }
    Err(LoadError::Contract {
        path: path.to_owned(),
        message: format!(
            "the component exports neither {CHANNEL_INTERFACE} (a channel connector) nor {INTEGRATION_INTERFACE} \
             (an integration) of omni:plugin@0.1; build it with omni-plugin-sdk's export_channel! or export_integration!"
        ),
    })
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// Links a component against the host's imports as a plugin of one world.
    fn link<P>(
        &self,
        path: &std::path::Path,
        component: &wasmtime::component::Component,
        typed: impl FnOnce(wasmtime::component::InstancePre<CallState>) -> wasmtime::Result<P>,
    ) -> Result<P, LoadError> {
        let contract = |e: wasmtime::Error| LoadError::Contract {
            path: path.to_owned(),
            message: format!("{e:#}"),
        };
        let pre = self.linker.instantiate_pre(component).map_err(contract)?;
        typed(pre).map_err(contract)
    }

    /// A sandbox that can run the plugin but gives it no config, secrets or state.
    fn sandbox<P: WorldPre>(&self, pre: P, id: omni_core::ConnectorId, limits: Limits) -> Sandbox<P> {
        Sandbox {
            engine: self.engine.clone(),
            pre,
            context: Arc::new(PluginContext {
                id,
                config: BTreeMap::new(),
                secrets: BTreeMap::new(),
                declared_secrets: Vec::new(),
                egress: None,
                offline: None,
            }),
            limits,
            kv_store: None,
            slots: self.slots.clone(),
            policy: InstancePolicy::Fresh,
            fresh_cost: std::time::Duration::ZERO,
            warm: WarmPool::new(self.warm_budget.clone()),
        }
    }
}

/// The instance's outbound HTTP: the operator's `allowed_hosts`, else the
/// hosts the manifest declares; none when both are empty.
fn egress_for(
    plugin: &PluginConfig,
    index: usize,
    manifest: &Manifest,
    path: &std::path::Path,
) -> Result<Option<Arc<egress::Egress>>, LoadError> {
    let allow = match &plugin.allowed_hosts {
        Some((hosts, location)) => {
            egress::AllowList::parse(hosts).map_err(|message| crate::config::ConfigError::Invalid {
                location: location.clone(),
                key: format!("plugins[{index}].allowed_hosts"),
                message,
            })?
        }
        None => egress::AllowList::parse(&manifest.outbound_hosts).map_err(|message| LoadError::Manifest {
            path: path.to_owned(),
            message: format!("outbound-hosts: {message}"),
        })?,
    };
    if allow.is_empty() {
        return Ok(None);
    }
    let egress =
        egress::Egress::new(allow, plugin.limits.max_response_bytes).map_err(|message| LoadError::Contract {
            path: path.to_owned(),
            message,
        })?;
    Ok(Some(Arc::new(egress)))
}

/// Checks what the plugin said about itself in its `manifest` export.
fn check_manifest(
    path: &std::path::Path,
    raw: Result<bindings::wit::PluginManifest, CallError>,
) -> Result<Manifest, LoadError> {
    let raw = raw.map_err(|source| LoadError::Call {
        path: path.to_owned(),
        source,
    })?;
    Manifest::from_wit(raw).map_err(|message| LoadError::Manifest {
        path: path.to_owned(),
        message,
    })
}

/// What `omni plugin inspect` shows.
#[derive(Debug)]
pub struct Inspection {
    /// The manifest.
    pub manifest: Manifest,
    /// Imported interface names.
    pub imports: Vec<String>,
    /// Exported interface names.
    pub exports: Vec<String>,
    /// File size in bytes.
    pub size: usize,
    /// The version of `omni:plugin` it was built against.
    pub contract: String,
    /// What a fresh instance costs (the least of a few).
    pub fresh_cost: std::time::Duration,
}

impl Runtime {
    /// Compiles a component and reads its manifest, without any instance
    /// config, allowing it as much memory as the engine does.
    pub async fn inspect(&self, path: &std::path::Path) -> Result<Inspection, LoadError> {
        let wasm = tokio::fs::read(path).await.map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        let size = wasm.len();
        let component = wasmtime::component::Component::new(&self.engine, &wasm).map_err(|e| LoadError::Compile {
            path: path.to_owned(),
            message: format!("{e:#}"),
        })?;
        let ty = component.component_type();
        let imports = ty.imports(&self.engine).map(|(name, _)| name.to_owned()).collect();
        let exports: Vec<String> = ty.exports(&self.engine).map(|(name, _)| name.to_owned()).collect();
        let id = omni_core::ConnectorId::new("inspect").expect("a valid connector id");
        let limits = Limits {
            memory_bytes: self.max_memory_bytes,
            ..Limits::default()
        };
        let call = |source| LoadError::Call {
            path: path.to_owned(),
            source,
        };
        let (manifest, fresh_cost) = match world_of(&self.engine, path, &component)? {
            World::Channel => {
                let sandbox = self.sandbox(self.link(path, &component, ChannelPre::new)?, id, limits);
                let manifest = check_manifest(path, sandbox.call_manifest().await)?;
                (manifest, sandbox.fresh_cost().await.map_err(call)?)
            }
            World::Integration => {
                let sandbox = self.sandbox(self.link(path, &component, crm::CrmPre::new)?, id, limits);
                let manifest = check_manifest(path, sandbox.call_manifest().await)?;
                (manifest, sandbox.fresh_cost().await.map_err(call)?)
            }
        };
        let contract = exports
            .iter()
            .find_map(|e| contract_fit(e, CHANNEL_INTERFACE).or_else(|| contract_fit(e, INTEGRATION_INTERFACE)))
            .map(|fit| match fit {
                ContractFit::Supported(v) | ContractFit::Newer(v) | ContractFit::Incompatible(v) => v.to_string(),
            })
            .unwrap_or_default();
        Ok(Inspection {
            manifest,
            imports,
            exports,
            size,
            contract,
            fresh_cost,
        })
    }
}
