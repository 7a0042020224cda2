//! Live connectors: applying a changed `[[plugins]]` list to a running host
//! (`SIGHUP`, `omni reload`, `POST /v1/admin/reload`).
//!
//! A reload reads the config file again and loads every instance that is
//! new or changed (its config, secrets, limits, or the component file
//! itself), through the precompiled cache. Only when all of them loaded does
//! it swap them into the registry, at once; a reload that fails changes
//! nothing and says why (file, line and key for a config error). Requests
//! look their connector up per call, so calls in flight finish on the old
//! instance, new calls get the new one, and no webhook is refused during the
//! switch. Integrations' followers are restarted for the instances that
//! changed. Sections other than `[[plugins]]` need a restart; a reload that
//! sees them changed applies the plugins and names those sections.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use omni_core::{ConnectorId, Store};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use crate::app::{StartError, check_world};
use crate::config::{Config, PluginConfig};
use crate::connector::{Connector, Registry};
use crate::dispatch::limits::SendLimits;
use crate::log_watch::LogWatch;
use crate::runtime::Runtime;
use crate::shutdown::{self, Shutdown, ShutdownTrigger};
use crate::telemetry::Telemetry;

/// What a reload changed.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct ReloadReport {
    /// Instances loaded for the first time.
    pub added: Vec<String>,
    /// Instances replaced: reconfigured or upgraded.
    pub replaced: Vec<String>,
    /// Instances no longer configured.
    pub removed: Vec<String>,
    /// Instances kept as they were.
    pub unchanged: Vec<String>,
    /// Sections that changed but only take effect after a restart.
    pub restart_needed: Vec<String>,
    /// Time to load and swap, in milliseconds.
    pub elapsed_ms: u64,
}

/// An integration's follower, which a reload can stop on its own.
struct Following {
    stop: ShutdownTrigger,
    task: JoinHandle<()>,
    forward: JoinHandle<()>,
}

/// The config in force and what was derived from it.
struct Applied {
    config: Config,
    /// SHA-256 of each instance's component file when it was loaded.
    digests: BTreeMap<ConnectorId, [u8; 32]>,
    followers: BTreeMap<ConnectorId, Following>,
}

/// The parts of a running host a reload changes.
pub struct Parts {
    /// The shared plugin runtime.
    pub runtime: Arc<Runtime>,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The connectors requests and the dispatcher look up.
    pub registry: Arc<Registry>,
    /// The dispatcher's per-connector send limits.
    pub send_limits: Arc<RwLock<SendLimits>>,
    /// Each integration's lookup TTL.
    pub lookup_ttls: Arc<RwLock<BTreeMap<ConnectorId, Duration>>>,
    /// Webhook rate limits per instance.
    pub admission: Arc<crate::admission::Admission>,
    /// The event log's head.
    pub log: Arc<LogWatch>,
    /// Counters.
    pub telemetry: Arc<Telemetry>,
    /// The host's shutdown signal.
    pub shutdown: Shutdown,
}

/// Applies config changes to the running host, one reload at a time.
pub struct Reloader {
    parts: Parts,
    holder: String,
    applied: tokio::sync::Mutex<Applied>,
}

impl Reloader {
    /// A reloader for the host started with `config`, whose connectors are
    /// in `parts.registry`; starts the integrations' followers.
    pub async fn start(parts: Parts, config: Config) -> Self {
        let mut digests = BTreeMap::new();
        for plugin in &config.plugins {
            if let Ok(digest) = digest(&plugin.wasm).await {
                digests.insert(plugin.id.clone(), digest);
            }
        }
        let reloader = Self {
            holder: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7()),
            parts,
            applied: tokio::sync::Mutex::new(Applied {
                config,
                digests,
                followers: BTreeMap::new(),
            }),
        };
        {
            let mut applied = reloader.applied.lock().await;
            let integrations = reloader.parts.registry.integrations();
            for connector in integrations {
                let following = reloader.follow(&applied.config, connector);
                if let Some((id, following)) = following {
                    applied.followers.insert(id, following);
                }
            }
        }
        reloader
    }

    /// Reads the config file again and applies its `[[plugins]]`.
    pub async fn reload(&self) -> Result<ReloadReport, StartError> {
        let started = Instant::now();
        let mut applied = self.applied.lock().await;
        let config = Config::load(&applied.config.path)?;
        let mut report = ReloadReport {
            restart_needed: restart_needed(&applied.config, &config),
            ..ReloadReport::default()
        };

        // Load everything new or changed before touching anything.
        let mut next: Vec<Arc<dyn Connector>> = Vec::new();
        let mut digests = BTreeMap::new();
        let mut changed = Vec::new();
        for (index, plugin) in config.plugins.iter().enumerate() {
            let file = digest(&plugin.wasm)
                .await
                .map_err(|source| crate::runtime::LoadError::Read {
                    path: plugin.wasm.clone(),
                    source,
                })?;
            digests.insert(plugin.id.clone(), file);
            let old = applied.config.plugins.iter().find(|p| p.id == plugin.id);
            let current = self.parts.registry.get(&plugin.id);
            if let (Some(old), Some(current)) = (old, &current)
                && same_instance(old, plugin)
                && applied.digests.get(&plugin.id) == Some(&file)
            {
                report.unchanged.push(plugin.id.to_string());
                next.push(current.clone());
                continue;
            }
            self.check_memory(plugin, index)?;
            let (loaded, load) = self
                .parts
                .runtime
                .load(plugin, index, Some(self.parts.store.clone()))
                .await?;
            check_world(plugin, index, &loaded)?;
            tracing::info!(connector = %plugin.id, plugin = %loaded.manifest().id,
                version = %loaded.manifest().version, cache = ?load.cache, instances = %load.policy,
                "connector loaded for a reload");
            if old.is_some() {
                report.replaced.push(plugin.id.to_string());
            } else {
                report.added.push(plugin.id.to_string());
            }
            changed.push(plugin.id.clone());
            next.push(loaded.into_connector());
        }
        for old in &applied.config.plugins {
            if !config.plugins.iter().any(|p| p.id == old.id) {
                report.removed.push(old.id.to_string());
                changed.push(old.id.clone());
            }
        }

        // Swap: from here on new calls get the new instances.
        self.parts.registry.replace_all(next);
        self.parts
            .send_limits
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .reconfigure(config.plugins.iter().map(|p| (&p.id, p.send_limits)), Instant::now());
        self.parts
            .admission
            .reconfigure(config.plugins.iter().map(|p| (&p.id, p.inbound)));
        *self.parts.lookup_ttls.write().unwrap_or_else(|e| e.into_inner()) =
            config.plugins.iter().map(|p| (p.id.clone(), p.lookup_ttl)).collect();

        // Followers of changed integrations restart on the new instance.
        for id in &changed {
            if let Some(following) = applied.followers.remove(id) {
                following.finish().await;
            }
            if let Some(connector) = self.parts.registry.get(id)
                && connector.integration().is_some()
                && let Some((id, following)) = self.follow(&config, connector)
            {
                applied.followers.insert(id, following);
            }
        }
        applied.config = config;
        applied.digests = digests;
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::info!(added = ?report.added, replaced = ?report.replaced, removed = ?report.removed,
            restart_needed = ?report.restart_needed, elapsed_ms = report.elapsed_ms, "config reloaded");
        Ok(report)
    }

    /// Waits for every follower to stop (after the host's shutdown).
    pub async fn finish(&self) {
        let mut applied = self.applied.lock().await;
        for (_, following) in std::mem::take(&mut applied.followers) {
            following.finish().await;
        }
    }

    /// The engine's memory pool was sized at start-up.
    fn check_memory(&self, plugin: &PluginConfig, index: usize) -> Result<(), StartError> {
        let max = self.parts.runtime.max_memory_bytes();
        if plugin.limits.memory_bytes > max {
            return Err(crate::config::ConfigError::Invalid {
                location: plugin.location.clone(),
                key: format!("plugins[{index}].limits.memory_mb"),
                message: format!(
                    "{} MiB is above the {} MiB this host's engine was started with; restart to apply it",
                    plugin.limits.memory_bytes >> 20,
                    max >> 20
                ),
            }
            .into());
        }
        Ok(())
    }

    fn follow(&self, config: &Config, connector: Arc<dyn Connector>) -> Option<(ConnectorId, Following)> {
        let plugin = config.plugins.iter().find(|p| &p.id == connector.id())?;
        let (stop, signal) = shutdown::channel();
        let host = self.parts.shutdown.clone();
        let forwarded = stop.clone();
        let forward = tokio::spawn(async move {
            host.wait().await;
            forwarded.trigger();
        });
        let id = connector.id().clone();
        let task = crate::subscribers::spawn(
            connector,
            plugin.subscribe.clone(),
            self.parts.store.clone(),
            self.parts.log.clone(),
            self.parts.telemetry.clone(),
            self.holder.clone(),
            signal,
        );
        Some((id, Following { stop, task, forward }))
    }
}

impl Following {
    async fn finish(self) {
        self.stop.trigger();
        let _ = self.task.await;
        self.forward.abort();
    }
}

async fn digest(path: &std::path::Path) -> std::io::Result<[u8; 32]> {
    let bytes = tokio::fs::read(path).await?;
    Ok(Sha256::digest(&bytes).into())
}

/// Whether two entries describe the same instance (where they are written
/// in the file does not matter).
fn same_instance(a: &PluginConfig, b: &PluginConfig) -> bool {
    a.id == b.id
        && a.wasm == b.wasm
        && a.config == b.config
        && a.workspace == b.workspace
        && a.allowed_hosts.as_ref().map(|(hosts, _)| hosts) == b.allowed_hosts.as_ref().map(|(hosts, _)| hosts)
        && a.secrets == b.secrets
        && a.limits == b.limits
        && a.send_limits == b.send_limits
        && a.subscribe == b.subscribe
        && a.lookup_ttl == b.lookup_ttl
        && a.instances == b.instances
}

/// The sections other than `[[plugins]]` that differ.
fn restart_needed(old: &Config, new: &Config) -> Vec<String> {
    let mut sections = Vec::new();
    let differ = |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") != format!("{b:?}");
    if differ(&old.server, &new.server) {
        sections.push("[server]".to_owned());
    }
    if differ(&old.storage, &new.storage) {
        sections.push("[storage]".to_owned());
    }
    if differ(&old.store, &new.store) || differ(&old.normalizer, &new.normalizer) {
        sections.push("[conversations] / [identity]".to_owned());
    }
    if differ(&old.delivery, &new.delivery) {
        sections.push("[delivery]".to_owned());
    }
    if differ(&old.api_tokens, &new.api_tokens) {
        sections.push("[api]".to_owned());
    }
    sections
}
