//! Assembles a running host from a config: store, runtime, connectors and
//! integrations, dispatcher, event-log subscribers and HTTP server.

use std::sync::Arc;
use std::time::Instant;

use omni_core::{Store, StoreError};
use tokio::sync::Notify;

use crate::admission::Admission;
use crate::config::{Config, ConfigError, PluginConfig};
use crate::connector::Registry;
use crate::contention::RetryLanes;
use crate::dispatch::Dispatcher;
use crate::dispatch::limits::SendLimits;
use crate::http::{self, AppInner, AppState};
use crate::ingest::Inbound;
use crate::log_watch::LogWatch;
use crate::reload::{self, Reloader};
use crate::runtime::{CacheOutcome, EngineOptions, LoadError, LoadedPlugin, Runtime};
use crate::shutdown::{self, Shutdown};
use crate::telemetry::Telemetry;

/// Why the host could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The config is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A plugin could not be loaded.
    #[error(transparent)]
    Plugin(#[from] LoadError),
    /// The database could not be opened or migrated.
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    /// A command could not be carried out.
    #[error("{0}")]
    Command(String),
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was attempted.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

impl StartError {
    /// Whether the operator's config is at fault (exit code 2).
    pub fn is_config(&self) -> bool {
        matches!(self, StartError::Config(_) | StartError::Plugin(LoadError::Config(_)))
    }
}

/// A host with its plugins loaded, ready to serve.
pub struct App {
    /// Shared handler state.
    pub state: AppState,
    /// The plugin runtime (kept alive for its epoch thread).
    pub runtime: Arc<Runtime>,
    config: Config,
}

/// How start-up went, for logs and the cold-start benchmark.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartReport {
    /// Plugins loaded from the precompiled cache.
    pub cache_hits: usize,
    /// Plugins compiled.
    pub compiled: usize,
}

/// Opens the store the config names, creating the data directory.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    std::fs::create_dir_all(&config.storage.data_dir).map_err(|source| StartError::Io {
        what: format!("cannot create the data directory {}", config.storage.data_dir.display()),
        source,
    })?;
    Ok(omni_core::store::open(&config.storage.database_url, config.store.clone()).await?)
}

/// Creates the runtime sized for the config's plugins.
pub fn runtime_for(config: &Config) -> Result<Runtime, LoadError> {
    let max_memory_bytes = config
        .plugins
        .iter()
        .map(|p| p.limits.memory_bytes)
        .max()
        .unwrap_or(EngineOptions::default().max_memory_bytes);
    let options = EngineOptions {
        max_memory_bytes,
        ..EngineOptions::default()
    };
    Runtime::new(options, Some(config.storage.cache_dir.clone()))
}

/// Refuses config that does not fit the plugin's world: `[plugins.subscribe]`
/// on a channel connector.
pub fn check_world(plugin: &PluginConfig, index: usize, loaded: &LoadedPlugin) -> Result<(), StartError> {
    if let (LoadedPlugin::Channel(_), Some(location)) = (loaded, &plugin.subscribe_location) {
        return Err(ConfigError::Invalid {
            location: location.clone(),
            key: format!("plugins[{index}].subscribe"),
            message: format!(
                "{} is a channel connector; only integrations (world `crm`) follow the event log",
                plugin.wasm.display()
            ),
        }
        .into());
    }
    Ok(())
}

impl App {
    /// Opens the store and loads every configured plugin.
    pub async fn build(config: Config) -> Result<(Self, StartReport), StartError> {
        let store = open_store(&config).await?;
        let runtime = Arc::new(runtime_for(&config)?);
        let registry = Arc::new(Registry::new());
        let mut report = StartReport::default();
        for (index, plugin) in config.plugins.iter().enumerate() {
            let (loaded, load) = runtime.load(plugin, index, Some(store.clone())).await?;
            check_world(plugin, index, &loaded)?;
            match load.cache {
                CacheOutcome::Hit => report.cache_hits += 1,
                CacheOutcome::Miss | CacheOutcome::Uncached => report.compiled += 1,
            }
            tracing::info!(
                connector = %plugin.id,
                plugin = %loaded.manifest().id,
                version = %loaded.manifest().version,
                world = loaded.world(),
                channel = %loaded.manifest().channel,
                cache = ?load.cache,
                elapsed_ms = load.elapsed.as_millis() as u64,
                fresh_instance_us = load.fresh_cost.as_micros() as u64,
                instances = %load.policy,
                "connector loaded"
            );
            registry.insert(loaded.into_connector());
        }
        let log = LogWatch::new(store.event_head().await?);
        let telemetry = Arc::new(Telemetry::new());
        let inbound = Inbound {
            store: store.clone(),
            lanes: Arc::new(RetryLanes::new()),
            normalizer: config.normalizer,
            telemetry: telemetry.clone(),
            log: log.clone(),
        };
        let state = Arc::new(AppInner {
            store,
            registry,
            inbound,
            outbox: Arc::new(Notify::new()),
            telemetry,
            tokens: config.api_tokens.clone(),
            max_body_bytes: config.server.max_body_bytes,
            log,
            lookup_ttls: Arc::new(std::sync::RwLock::new(
                config.plugins.iter().map(|p| (p.id.clone(), p.lookup_ttl)).collect(),
            )),
            admission: Arc::new(Admission::new(
                config.server.admission,
                config.plugins.iter().map(|p| (&p.id, p.inbound)),
            )),
            reloader: std::sync::OnceLock::new(),
        });
        Ok((Self { state, runtime, config }, report))
    }

    /// Serves HTTP and dispatches replies until `stop` resolves.
    pub async fn serve(self, stop: impl std::future::Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
        let listener = tokio::net::TcpListener::bind(self.config.server.listen)
            .await
            .map_err(|source| StartError::Io {
                what: format!("cannot listen on {}", self.config.server.listen),
                source,
            })?;
        let address = listener.local_addr().map_err(|source| StartError::Io {
            what: "cannot read the listening address".into(),
            source,
        })?;
        let (trigger, shutdown): (_, Shutdown) = shutdown::channel();
        let send_limits = Arc::new(std::sync::RwLock::new(SendLimits::new(
            self.config.plugins.iter().map(|p| (&p.id, p.send_limits)),
            std::time::Instant::now(),
        )));
        let dispatcher = Dispatcher::new(
            self.state.store.clone(),
            self.state.registry.clone(),
            self.config.delivery.clone(),
            self.state.outbox.clone(),
            self.state.inbound.lanes.clone(),
            self.state.telemetry.clone(),
            send_limits.clone(),
        );
        let dispatching = tokio::spawn(dispatcher.run(shutdown.clone()));
        let watching = tokio::spawn(self.state.log.clone().run(self.state.store.clone(), shutdown.clone()));
        let parts = reload::Parts {
            runtime: self.runtime.clone(),
            store: self.state.store.clone(),
            registry: self.state.registry.clone(),
            send_limits,
            lookup_ttls: self.state.lookup_ttls.clone(),
            admission: self.state.admission.clone(),
            log: self.state.log.clone(),
            telemetry: self.state.telemetry.clone(),
            shutdown: shutdown.clone(),
        };
        let reloader = Arc::new(Reloader::start(parts, self.config).await);
        let _ = self.state.reloader.set(reloader.clone());
        let reloading = tokio::spawn(reload_on_hangup(reloader.clone(), shutdown));
        tracing::info!(%address, connectors = self.state.registry.ids().len(), "omni is listening");
        let router = http::router(self.state.clone());
        // The peer address feeds the per-source rate limit.
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let served = axum::serve(listener, service).with_graceful_shutdown(stop).await;
        trigger.trigger();
        let _ = dispatching.await;
        let _ = watching.await;
        let _ = reloading.await;
        reloader.finish().await;
        served.map_err(|source| StartError::Io {
            what: "the HTTP server failed".into(),
            source,
        })
    }
}

/// Reloads the config on every `SIGHUP` until shutdown.
async fn reload_on_hangup(reloader: Arc<Reloader>, stop: Shutdown) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; reload with `omni reload` or the admin API");
            return;
        };
        loop {
            tokio::select! {
                _ = stop.wait() => return,
                received = hangups.recv() => {
                    if received.is_none() {
                        return;
                    }
                    if let Err(e) = reloader.reload().await {
                        tracing::error!("reload refused, the running connectors are unchanged: {e}");
                    }
                }
            }
        }
    }
    #[cfg(not(unix))]
    stop.wait().await;
}

/// Loads the config, starts everything and serves until Ctrl-C or SIGTERM.
pub async fn run(config: Config) -> Result<(), StartError> {
    let started = Instant::now();
    let (app, report) = App::build(config).await?;
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        cache_hits = report.cache_hits,
        compiled = report.compiled,
        "start-up complete"
    );
    app.serve(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
