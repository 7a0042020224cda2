//! The sandbox: loads plugins as WebAssembly components and runs each call
//! in a fresh, limited instance.
//!
//! One [`Runtime`] owns the shared wasmtime `Engine` (pooling allocator,
//! epoch deadlines), the linker with WASI p2 (empty context) and the
//! `omni:plugin/host` functions, and the on-disk cache of precompiled
//! components. [`Runtime::load_channel`] turns a `[[plugins]]` entry into a
//! [`WasmChannel`] whose calls fail alone: a trap, a timeout or a memory
//! breach becomes a [`CallError`] for that call and nothing else.

pub mod bindings;
mod cache;
mod channel;
pub mod egress;
mod engine;
mod error;
mod kv;
mod limits;
mod manifest;
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
pub use kv::{KvFailure, KvSession};
pub use limits::{Limits, MAX_RESPONSE_HEADERS};
pub use manifest::{Manifest, channel_name};
pub use state::PluginContext;

use crate::config::PluginConfig;
use bindings::{Channel, ChannelPre};
use cache::ComponentCache;
use channel::Sandbox;
use state::CallState;

/// The shared plugin runtime.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    cache: ComponentCache,
    slots: Arc<Semaphore>,
    ticker_stop: Arc<AtomicBool>,
}

/// What loading one plugin took, for start-up logs and benchmarks.
#[derive(Debug, Clone, Copy)]
pub struct LoadReport {
    /// Whether the precompiled cache was used.
    pub cache: CacheOutcome,
    /// Time to read, compile or deserialise, link and describe the plugin.
    pub elapsed: std::time::Duration,
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
            ticker_stop,
        })
    }

    /// Loads a channel plugin for one `[[plugins]]` entry (`index` locates
    /// config errors): compiles or reuses the component, links it, reads and
    /// checks its manifest, and checks the instance config against it.
    pub async fn load_channel(
        &self,
        plugin: &PluginConfig,
        index: usize,
        store: Option<Arc<dyn Store>>,
    ) -> Result<(WasmChannel, LoadReport), LoadError> {
        let started = Instant::now();
        let path = plugin.wasm.clone();
        let wasm = tokio::fs::read(&path).await.map_err(|source| LoadError::Read {
            path: path.clone(),
            source,
        })?;
        let (component, cache) = {
            let engine = self.engine.clone();
            let cache = self.cache.clone();
            // Compiling takes a while; keep it off the async workers.
            tokio::task::spawn_blocking(move || cache.load(&engine, &wasm))
                .await
                .map_err(|e| LoadError::Compile {
                    path: path.clone(),
                    message: e.to_string(),
                })?
                .map_err(|e| LoadError::Compile {
                    path: path.clone(),
                    message: format!("{e:#}"),
                })?
        };
        let pre = self.link(&path, &component)?;
        // Ask the plugin who it is before it gets secrets or state.
        let describe = self.sandbox(pre, plugin.id.clone(), plugin.limits);
        let manifest = describe_plugin(&path, &describe).await?;
        manifest.check_instance(plugin, index)?;
        let egress = egress_for(plugin, index, &manifest, &path)?;
        let sandbox = Sandbox {
            context: Arc::new(PluginContext {
                id: plugin.id.clone(),
                config: plugin.config.iter().map(|(k, v)| (k.clone(), v.to_string())).collect(),
                secrets: plugin.secrets.clone(),
                declared_secrets: manifest.secrets.clone(),
                egress,
            }),
            kv_store: if manifest.kv { store } else { None },
            ..describe
        };
        let channel = WasmChannel {
            sandbox,
            manifest,
            workspace: plugin.workspace.clone(),
        };
        Ok((
            channel,
            LoadReport {
                cache,
                elapsed: started.elapsed(),
            },
        ))
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// Links a component against the host's imports as a channel plugin.
    fn link(
        &self,
        path: &std::path::Path,
        component: &wasmtime::component::Component,
    ) -> Result<ChannelPre<CallState>, LoadError> {
        let contract = |e: wasmtime::Error| LoadError::Contract {
            path: path.to_owned(),
            message: format!("{e:#}"),
        };
        let pre = self.linker.instantiate_pre(component).map_err(contract)?;
        ChannelPre::new(pre).map_err(contract)
    }

    /// A sandbox that can run the plugin but gives it no config, secrets or state.
    fn sandbox(&self, pre: ChannelPre<CallState>, id: omni_core::ConnectorId, limits: Limits) -> Sandbox {
        Sandbox {
            engine: self.engine.clone(),
            pre,
            context: Arc::new(PluginContext {
                id,
                config: BTreeMap::new(),
                secrets: BTreeMap::new(),
                declared_secrets: Vec::new(),
                egress: None,
            }),
            limits,
            kv_store: None,
            slots: self.slots.clone(),
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

/// Calls `manifest` and checks what the plugin says about itself.
async fn describe_plugin(path: &std::path::Path, sandbox: &Sandbox) -> Result<Manifest, LoadError> {
    let raw = sandbox.call_manifest().await.map_err(|source| LoadError::Call {
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
}

impl Runtime {
    /// Compiles a component and reads its manifest, without any instance config.
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
        let exports = ty.exports(&self.engine).map(|(name, _)| name.to_owned()).collect();
        let pre = self.link(path, &component)?;
        let id = omni_core::ConnectorId::new("inspect").expect("a valid connector id");
        let manifest = describe_plugin(path, &self.sandbox(pre, id, Limits::default())).await?;
        Ok(Inspection {
            manifest,
            imports,
            exports,
            size,
        })
    }
}
