//! `omni.toml`: parsing, validation and defaults.
//!
//! [`Config::load`] turns the file into a validated [`Config`]: unknown keys,
//! bad values and missing environment variables are refused with the file,
//! line and key ([`ConfigError`]). Relative paths are relative to the
//! config file, so `omni run --config some/dir/omni.toml` works from anywhere.

mod error;
mod raw;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use omni_core::{
    AfterResolved, ConnectorId, DEFAULT_WORKSPACE, IdentityGuards, IdentityKey, IdentityKind, Normalizer, Region,
    StoreOptions,
};
use toml::Spanned;

pub use error::{ConfigError, Location};
use raw::{RawConfig, RawIdentity, RawInstances, RawLimits, RawPluginDelivery, RawSubscribe};

use crate::admission::{AdmissionConfig, Rate};
use crate::runtime::{InstanceConfig, Limits, PolicyChoice};

/// A validated `omni.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// HTTP server.
    pub server: ServerConfig,
    /// Database and data directory.
    pub storage: StorageConfig,
    /// Continuity and identity rules for the store.
    pub store: StoreOptions,
    /// How raw identifiers are normalised.
    pub normalizer: Normalizer,
    /// Outbound delivery.
    pub delivery: DeliveryConfig,
    /// Who may call the API.
    pub api_tokens: Vec<ApiToken>,
    /// Plugin instances, in file order.
    pub plugins: Vec<PluginConfig>,
}

/// `[server]`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Rate limits and the bound on webhooks in progress.
    pub admission: AdmissionConfig,
}

/// `[storage]`.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Holds the SQLite database and, by default, the compiled-plugin cache.
    pub data_dir: PathBuf,
    /// sqlx URL of the database.
    pub database_url: String,
    /// Where precompiled plugins are cached; hosts may share it.
    pub cache_dir: PathBuf,
}

/// `[delivery]`.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Attempts before a message is failed and dead-lettered.
    pub max_attempts: u32,
    /// Sends in flight at once.
    pub concurrency: usize,
    /// Delay before the first retry; doubles each attempt.
    pub first_retry: Duration,
    /// Longest delay between retries.
    pub max_retry: Duration,
    /// How long a claimed reply belongs to the host that claimed it; when
    /// that host dies, another takes it over after this long.
    pub lease: Duration,
}

/// The claim on a reply lasts at least this many times the longest plugin
/// timeout, so a live send is never claimed twice.
pub const LEASE_TIMEOUTS: u32 = 3;

/// One API token, stored as its SHA-256.
#[derive(Debug, Clone)]
pub struct ApiToken {
    /// Name shown in logs.
    pub name: String,
    /// SHA-256 of the token.
    pub sha256: [u8; 32],
    /// What the token may do (`admin` when the entry does not say).
    pub scope: crate::http::auth::Scope,
}

/// One `[[plugins]]` entry.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    /// Connector instance id; also the `/hooks/{id}` path segment.
    pub id: ConnectorId,
    /// The component file.
    pub wasm: PathBuf,
    /// The plugin's config table as JSON.
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Where each config key was written, for schema errors.
    pub config_locations: BTreeMap<String, Location>,
    /// The workspace (tenant) this instance's persons belong to.
    pub workspace: String,
    /// Hosts the instance may call (`allowed_hosts`), with where they were
    /// written; `None`: the hosts its manifest declares.
    pub allowed_hosts: Option<(Vec<String>, Location)>,
    /// Where the entry starts.
    pub location: Location,
    /// Secret values, resolved from the environment.
    pub secrets: BTreeMap<String, String>,
    /// Per-call limits.
    pub limits: Limits,
    /// How fast the dispatcher may send through this instance.
    pub send_limits: SendLimitConfig,
    /// How an integration follows the event log (`[plugins.subscribe]`).
    pub subscribe: SubscribeConfig,
    /// Where `[plugins.subscribe]` was written, when it was: only
    /// integrations may have one.
    pub subscribe_location: Option<Location>,
    /// How long an integration's `lookup` answer is reused.
    pub lookup_ttl: Duration,
    /// Fresh or warm instances (`[plugins.instances]`).
    pub instances: InstanceConfig,
    /// Webhooks per second this instance accepts (`inbound`).
    pub inbound: Option<Rate>,
}

/// `[plugins.subscribe]`: which events an integration takes and how
/// failures are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeConfig {
    /// Event kinds delivered: exact (`person.merged`), a family
    /// (`conversation.*`) or everything (`*`).
    pub events: Vec<String>,
    /// Where a new subscriber starts.
    pub start: omni_core::StartAt,
    /// Attempts before an event becomes a dead letter.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles each attempt.
    pub first_retry: Duration,
    /// Longest delay between retries.
    pub max_retry: Duration,
}

impl Default for SubscribeConfig {
    fn default() -> Self {
        Self {
            events: vec!["*".to_owned()],
            start: omni_core::StartAt::Now,
            max_attempts: 12,
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(600),
        }
    }
}

impl SubscribeConfig {
    /// Whether events of `kind` go to the subscriber.
    pub fn wants(&self, kind: &str) -> bool {
        self.events.iter().any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => kind.starts_with(prefix),
            None => pattern == kind,
        })
    }
}

/// `[plugins.delivery]`: the provider's limits for one connector instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendLimitConfig {
    /// Sends in flight at once; `None`: only the global `delivery.concurrency`.
    pub concurrency: Option<usize>,
    /// Sends started per second, sustained; `None`: no rate limit.
    pub per_second: Option<u32>,
    /// Sends that may start at once after a quiet spell; default `per_second`.
    pub burst: Option<u32>,
}

/// `path` made absolute against the working directory. A SQLite URL must
/// hold an absolute path: the URL parser takes the first segment of a
/// relative one (`sqlite://examples/../data/omni.db`) for a host name.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text, &|name| std::env::var(name).ok())
    }

    /// Validates config text; `env` resolves secret references.
    pub fn parse(path: &Path, text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let ctx = Ctx { path, text };
        let raw: RawConfig = {
            let deserializer = toml::Deserializer::parse(text).map_err(|e| ctx.toml_error("", &e))?;
            serde_path_to_error::deserialize(deserializer).map_err(|e| {
                let key = clean_key_path(&e.path().to_string());
                ctx.toml_error(&key, e.inner())
            })?
        };
        let base = path.parent().unwrap_or(Path::new("."));

        let listen = match &raw.server.listen {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => v.get_ref().parse().map_err(|_| {
                ctx.invalid(
                    v,
                    "server.listen",
                    format!("{:?} is not an address like 127.0.0.1:8080", v.get_ref()),
                )
            })?,
        };
        let max_body_bytes = ctx.range(
            &raw.server.max_body_bytes,
            "server.max_body_bytes",
            1024..=64 << 20,
            1 << 20,
        )?;

        let data_dir = match &raw.storage.data_dir {
            None => base.join("data"),
            Some(v) => base.join(v.get_ref()),
        };
        let database_url = match &raw.storage.database_url {
            None => format!("sqlite://{}", absolute(&data_dir.join("omni.db")).display()),
            Some(v) if v.get_ref().starts_with("postgres://") || v.get_ref().starts_with("postgresql://") => {
                v.get_ref().clone()
            }
            Some(v) => {
                let url = v.get_ref();
                match url.strip_prefix("sqlite://") {
                    Some(file) if !file.is_empty() => {
                        let (file, params) = file.split_once('?').map_or((file, None), |(f, p)| (f, Some(p)));
                        let resolved = absolute(&base.join(file));
                        match params {
                            Some(p) => format!("sqlite://{}?{p}", resolved.display()),
                            None => format!("sqlite://{}", resolved.display()),
                        }
                    }
                    _ => {
                        return Err(ctx.invalid(
                            v,
                            "storage.database_url",
                            format!(
                                "unsupported database URL {url:?}: use sqlite://path/to/omni.db or \
                                 postgres://user@host:5432/database"
                            ),
                        ));
                    }
                }
            }
        };

        let defaults = StoreOptions::default();
        let conversation_window = ctx.duration(
            &raw.conversations.continue_within,
            "conversations.continue_within",
            defaults.conversation_window,
        )?;
        let reopen_within = ctx.duration(
            &raw.conversations.reopen_within,
            "conversations.reopen_within",
            Duration::from_secs(3 * 24 * 3600),
        )?;
        let after_resolved = match &raw.conversations.after_resolved {
            None => AfterResolved::Reopen(reopen_within),
            Some(v) => match v.get_ref().as_str() {
                "reopen" => AfterResolved::Reopen(reopen_within),
                "new" => AfterResolved::New,
                other => {
                    return Err(ctx.invalid(
                        v,
                        "conversations.after_resolved",
                        format!("{other:?} is not \"reopen\" or \"new\""),
                    ));
                }
            },
        };
        let (normalizer, guards) = ctx.identity(&raw.identity)?;
        let store = StoreOptions {
            conversation_window,
            after_resolved,
            guards,
            clock: defaults.clock,
        };

        let delivery = DeliveryConfig {
            max_attempts: ctx.range(&raw.delivery.max_attempts, "delivery.max_attempts", 1..=100, 8)? as u32,
            concurrency: ctx.range(&raw.delivery.concurrency, "delivery.concurrency", 1..=1024, 16)?,
            first_retry: ctx.duration(
                &raw.delivery.first_retry,
                "delivery.first_retry",
                Duration::from_secs(1),
            )?,
            max_retry: ctx.duration(&raw.delivery.max_retry, "delivery.max_retry", Duration::from_secs(300))?,
            lease: Duration::ZERO, // set below, once the plugins' timeouts are known
        };

        let api_tokens = raw
            .api
            .tokens
            .iter()
            .enumerate()
            .map(|(i, token)| ctx.api_token(i, token, env))
            .collect::<Result<Vec<_>, _>>()?;

        let defaults = ctx.limits(&raw.limits, "limits", Limits::default())?;
        let mut plugins = Vec::new();
        let mut seen = HashSet::new();
        for (i, plugin) in raw.plugins.iter().enumerate() {
            let key = |field: &str| format!("plugins[{i}].{field}");
            let id = ConnectorId::new(plugin.id.get_ref().clone())
                .map_err(|e| ctx.invalid(&plugin.id, &key("id"), e.to_string()))?;
            if !seen.insert(id.clone()) {
                return Err(ctx.invalid(&plugin.id, &key("id"), format!("connector id {id:?} is used twice")));
            }
            if !plugin.enabled {
                continue;
            }
            let wasm = base.join(plugin.wasm.get_ref());
            let workspace = match &plugin.workspace {
                None => DEFAULT_WORKSPACE.to_owned(),
                Some(w) => ConnectorId::new(w.get_ref().clone()).map(String::from).map_err(|_| {
                    ctx.invalid(
                        w,
                        &key("workspace"),
                        format!(
                            "workspace {:?} must be 1 to 63 lower-case letters, digits, '-' or '_'",
                            w.get_ref()
                        ),
                    )
                })?,
            };
            let mut secrets = BTreeMap::new();
            for (name, secret) in &plugin.secrets {
                let var = &secret.get_ref().env;
                let value = env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
                    ctx.invalid(
                        secret,
                        &format!("plugins[{i}].secrets.{name}"),
                        format!("environment variable {var} is not set (or empty)"),
                    )
                })?;
                secrets.insert(name.clone(), value);
            }
            let mut config = serde_json::Map::new();
            let mut config_locations = BTreeMap::new();
            for (name, value) in &plugin.config {
                let json = serde_json::to_value(value.get_ref()).map_err(|e| {
                    ctx.invalid(
                        value,
                        &format!("plugins[{i}].config.{name}"),
                        format!("cannot be passed to a plugin: {e}"),
                    )
                })?;
                config.insert(name.clone(), json);
                config_locations.insert(name.clone(), ctx.location(value.span()));
            }
            plugins.push(PluginConfig {
                id,
                wasm,
                config,
                config_locations,
                workspace,
                allowed_hosts: plugin
                    .allowed_hosts
                    .as_ref()
                    .map(|hosts| (hosts.get_ref().clone(), ctx.location(hosts.span()))),
                location: ctx.location(plugin.id.span()),
                secrets,
                limits: ctx.limits(&plugin.limits, &format!("plugins[{i}].limits"), defaults)?,
                send_limits: ctx.send_limits(&plugin.delivery, &format!("plugins[{i}].delivery"))?,
                subscribe: match &plugin.subscribe {
                    None => SubscribeConfig::default(),
                    Some(raw) => ctx.subscribe(raw.get_ref(), &format!("plugins[{i}].subscribe"))?,
                },
                subscribe_location: plugin.subscribe.as_ref().map(|raw| ctx.location(raw.span())),
                lookup_ttl: ctx.duration(
                    &plugin.lookup_ttl,
                    &format!("plugins[{i}].lookup_ttl"),
                    Duration::from_secs(600),
                )?,
                instances: ctx.instances(&plugin.instances, &format!("plugins[{i}].instances"))?,
                inbound: ctx.rate(&plugin.inbound, &format!("plugins[{i}].inbound"))?,
            });
        }

        let longest = plugins
            .iter()
            .map(|p| p.limits.timeout)
            .max()
            .unwrap_or(defaults.timeout);
        let shortest_lease = longest * LEASE_TIMEOUTS;
        let delivery = DeliveryConfig {
            lease: match &raw.delivery.lease {
                None => Duration::from_secs(60).max(shortest_lease),
                Some(v) => {
                    let lease = ctx.duration(&raw.delivery.lease, "delivery.lease", Duration::ZERO)?;
                    if lease < shortest_lease {
                        return Err(ctx.invalid(
                            v,
                            "delivery.lease",
                            format!(
                                "{} is shorter than {LEASE_TIMEOUTS} times the longest plugin timeout ({}): \
                                 a slow send could be claimed by a second host and sent twice",
                                humantime::format_duration(lease),
                                humantime::format_duration(longest)
                            ),
                        ));
                    }
                    lease
                }
            },
            ..delivery
        };

        Ok(Config {
            path: path.to_owned(),
            server: ServerConfig {
                listen,
                max_body_bytes,
                admission: ctx.admission(&raw.server)?,
            },
            storage: StorageConfig {
                cache_dir: match &raw.storage.cache_dir {
                    None => data_dir.join("cache"),
                    Some(v) => base.join(v.get_ref()),
                },
                data_dir,
                database_url,
            },
            store,
            normalizer,
            delivery,
            api_tokens,
            plugins,
        })
    }
}

/// A serde path without the markers `Spanned` adds, e.g. `server.listen`.
fn clean_key_path(path: &str) -> String {
    let cleaned: Vec<&str> = path
        .split('.')
        .filter(|segment| !segment.starts_with("$__serde_spanned") && !segment.is_empty())
        .collect();
    cleaned.join(".")
}

/// The file being validated, for locating errors.
struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn location(&self, span: std::ops::Range<usize>) -> Location {
        Location::of_span(self.path, self.text, span)
    }

    fn invalid<T>(&self, value: &Spanned<T>, key: &str, message: String) -> ConfigError {
        ConfigError::Invalid {
            location: self.location(value.span()),
            key: key.to_owned(),
            message,
        }
    }

    fn toml_error(&self, key: &str, error: &toml::de::Error) -> ConfigError {
        ConfigError::Invalid {
            location: self.location(error.span().unwrap_or(0..0)),
            key: if key.is_empty() {
                "(document)".to_owned()
            } else {
                key.to_owned()
            },
            message: error.message().trim().to_owned(),
        }
    }

    fn range(
        &self,
        value: &Option<Spanned<u64>>,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
        default: u64,
    ) -> Result<usize, ConfigError> {
        match value {
            None => Ok(default as usize),
            Some(v) if range.contains(v.get_ref()) => Ok(*v.get_ref() as usize),
            Some(v) => Err(self.invalid(
                v,
                key,
                format!(
                    "{} is out of range: use {} to {}",
                    v.get_ref(),
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    fn duration(&self, value: &Option<Spanned<String>>, key: &str, default: Duration) -> Result<Duration, ConfigError> {
        match value {
            None => Ok(default),
            Some(v) => humantime::parse_duration(v.get_ref()).map_err(|e| {
                self.invalid(
                    v,
                    key,
                    format!("{:?} is not a duration like \"30s\" or \"7d\": {e}", v.get_ref()),
                )
            }),
        }
    }

    fn identity(&self, raw: &RawIdentity) -> Result<(Normalizer, IdentityGuards), ConfigError> {
        let default_region = match &raw.default_region {
            None => None,
            Some(v) => Some(
                v.get_ref()
                    .parse::<Region>()
                    .map_err(|e| self.invalid(v, "identity.default_region", e))?,
            ),
        };
        let normalizer = Normalizer { default_region };
        let kind = |v: &Spanned<String>, key: &str| {
            IdentityKind::parse(v.get_ref()).ok_or_else(|| {
                self.invalid(
                    v,
                    key,
                    format!(
                        "{:?} is not an identity kind: use email, phone, channel_user, crm_id or external_id",
                        v.get_ref()
                    ),
                )
            })
        };
        let mut guards = IdentityGuards::default();
        for (kind_name, values) in &raw.blocklist {
            let k = kind(kind_name, &format!("identity.blocklist.{}", kind_name.get_ref()))?;
            let mut keys = Vec::new();
            for (i, value) in values.iter().enumerate() {
                let key = format!("identity.blocklist.{}[{i}]", kind_name.get_ref());
                // Channel and CRM ids are written with their namespace, e.g. "telegram:123".
                let normalized = match k {
                    IdentityKind::ChannelUser | IdentityKind::CrmId => {
                        Ok(IdentityKey::from_normalized(k, value.get_ref().trim()))
                    }
                    _ => normalizer.identity(k, value.get_ref(), ""),
                };
                keys.push(normalized.map_err(|e| self.invalid(value, &key, e.to_string()))?);
            }
            guards.block(keys);
        }
        for (kind_name, max) in &raw.max_per_kind {
            let key = format!("identity.max_per_kind.{}", kind_name.get_ref());
            let k = kind(kind_name, &key)?;
            let value = self.range(&Some(max.clone()), &key, 1..=100_000, 0)?;
            guards.set_max(k, value);
        }
        if let Some(kinds) = &raw.unique_kinds {
            let kinds = kinds
                .iter()
                .enumerate()
                .map(|(i, v)| kind(v, &format!("identity.unique_kinds[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            guards.set_unique_kinds(kinds);
        }
        Ok((normalizer, guards))
    }

    fn subscribe(&self, raw: &RawSubscribe, prefix: &str) -> Result<SubscribeConfig, ConfigError> {
        let key = |field: &str| format!("{prefix}.{field}");
        let defaults = SubscribeConfig::default();
        let events = match &raw.events {
            None => defaults.events,
            Some(patterns) => {
                let mut events = Vec::new();
                for (i, pattern) in patterns.iter().enumerate() {
                    let text = pattern.get_ref().trim();
                    let body = text.strip_suffix('*').unwrap_or(text);
                    let valid = !text.is_empty()
                        && body
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
                        && (text == "*" || !body.is_empty());
                    if !valid {
                        return Err(self.invalid(
                            pattern,
                            &format!("{prefix}.events[{i}]"),
                            format!(
                                "{text:?} is not an event kind or pattern; write e.g. \"person.merged\", \"conversation.*\" or \"*\""
                            ),
                        ));
                    }
                    events.push(text.to_owned());
                }
                events
            }
        };
        let start = match &raw.from {
            None => defaults.start,
            Some(v) => match v.get_ref().as_str() {
                "beginning" => omni_core::StartAt::Beginning,
                "now" => omni_core::StartAt::Now,
                other => {
                    return Err(self.invalid(
                        v,
                        &key("from"),
                        format!("{other:?} is neither \"beginning\" (the whole log) nor \"now\" (new events)"),
                    ));
                }
            },
        };
        Ok(SubscribeConfig {
            events,
            start,
            max_attempts: match &raw.max_attempts {
                None => defaults.max_attempts,
                Some(_) => self.range(&raw.max_attempts, &key("max_attempts"), 1..=1000, 0)? as u32,
            },
            first_retry: self.duration(&raw.first_retry, &key("first_retry"), defaults.first_retry)?,
            max_retry: self.duration(&raw.max_retry, &key("max_retry"), defaults.max_retry)?,
        })
    }

    fn admission(&self, raw: &raw::RawServer) -> Result<AdmissionConfig, ConfigError> {
        let defaults = AdmissionConfig::default();
        Ok(AdmissionConfig {
            max_in_flight: self.range(
                &raw.max_in_flight,
                "server.max_in_flight",
                1..=100_000,
                defaults.max_in_flight as u64,
            )?,
            max_queued: self.range(
                &raw.max_queued,
                "server.max_queued",
                0..=1_000_000,
                defaults.max_queued as u64,
            )?,
            queue_wait: self.duration(&raw.queue_wait, "server.queue_wait", defaults.queue_wait)?,
            per_source: self.rate(&raw.per_source, "server.per_source")?,
        })
    }

    fn rate(&self, raw: &Option<Spanned<raw::RawRate>>, key: &str) -> Result<Option<Rate>, ConfigError> {
        let Some(raw) = raw else { return Ok(None) };
        let raw = raw.get_ref();
        let per_second = self.range(
            &Some(raw.per_second.clone()),
            &format!("{key}.per_second"),
            1..=1_000_000,
            0,
        )? as u32;
        let burst = self.range(
            &raw.burst,
            &format!("{key}.burst"),
            1..=1_000_000,
            u64::from(per_second),
        )? as u32;
        Ok(Some(Rate { per_second, burst }))
    }

    fn instances(&self, raw: &RawInstances, prefix: &str) -> Result<InstanceConfig, ConfigError> {
        let key = |field: &str| format!("{prefix}.{field}");
        let defaults = InstanceConfig::default();
        let policy = match &raw.policy {
            None => defaults.policy,
            Some(v) => match v.get_ref().as_str() {
                "auto" => PolicyChoice::Auto,
                "fresh" => PolicyChoice::Fresh,
                "warm" => PolicyChoice::Warm,
                other => {
                    return Err(self.invalid(
                        v,
                        &key("policy"),
                        format!(
                            "{other:?} is not a policy: use \"auto\" (chosen from the plugin's cost), \"fresh\" \
                             (an instance per call) or \"warm\" (instances reused)"
                        ),
                    ));
                }
            },
        };
        Ok(InstanceConfig {
            policy,
            max_calls: self.range(
                &raw.max_calls,
                &key("max_calls"),
                1..=1_000_000,
                defaults.max_calls as u64,
            )? as u32,
        })
    }

    fn send_limits(&self, raw: &RawPluginDelivery, prefix: &str) -> Result<SendLimitConfig, ConfigError> {
        let key = |field: &str| format!("{prefix}.{field}");
        let optional = |value: &Option<Spanned<u64>>, field: &str, max: u64| -> Result<Option<usize>, ConfigError> {
            match value {
                None => Ok(None),
                Some(_) => self.range(value, &key(field), 1..=max, 0).map(Some),
            }
        };
        let config = SendLimitConfig {
            concurrency: optional(&raw.concurrency, "concurrency", 1024)?,
            per_second: optional(&raw.per_second, "per_second", 100_000)?.map(|v| v as u32),
            burst: optional(&raw.burst, "burst", 100_000)?.map(|v| v as u32),
        };
        if let (Some(burst), None) = (&raw.burst, config.per_second) {
            return Err(self.invalid(burst, &key("burst"), "burst needs per_second".to_owned()));
        }
        Ok(config)
    }

    fn limits(&self, raw: &RawLimits, prefix: &str, defaults: Limits) -> Result<Limits, ConfigError> {
        let key = |field: &str| format!("{prefix}.{field}");
        let mb = |v: usize| v * 1024 * 1024;
        Ok(Limits {
            memory_bytes: match &raw.memory_mb {
                None => defaults.memory_bytes,
                Some(_) => mb(self.range(&raw.memory_mb, &key("memory_mb"), 1..=4096, 0)?),
            },
            timeout: match &raw.timeout_ms {
                None => defaults.timeout,
                Some(_) => {
                    Duration::from_millis(self.range(&raw.timeout_ms, &key("timeout_ms"), 1..=600_000, 0)? as u64)
                }
            },
            max_response_bytes: match &raw.max_response_bytes {
                None => defaults.max_response_bytes,
                Some(_) => self.range(&raw.max_response_bytes, &key("max_response_bytes"), 1..=64 << 20, 0)?,
            },
            max_events: match &raw.max_events {
                None => defaults.max_events,
                Some(_) => self.range(&raw.max_events, &key("max_events"), 1..=10_000, 0)?,
            },
            max_text_bytes: match &raw.max_text_bytes {
                None => defaults.max_text_bytes,
                Some(_) => self.range(&raw.max_text_bytes, &key("max_text_bytes"), 1..=16 << 20, 0)?,
            },
        })
    }

    fn api_token(
        &self,
        index: usize,
        token: &Spanned<raw::RawToken>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ApiToken, ConfigError> {
        let key = |field: &str| format!("api.tokens[{index}].{field}");
        let t = token.get_ref();
        let sha256 = match (&t.sha256, &t.env) {
            (Some(hash), None) => {
                let bytes = hex::decode(hash.get_ref().trim())
                    .ok()
                    .filter(|b| b.len() == 32)
                    .ok_or_else(|| {
                        self.invalid(
                            hash,
                            &key("sha256"),
                            "expected 64 hex characters (sha256sum of the token)".into(),
                        )
                    })?;
                let mut out = [0u8; 32];
                out.copy_from_slice(&bytes);
                out
            }
            (None, Some(var)) => {
                let value = env(var.get_ref()).filter(|v| !v.is_empty()).ok_or_else(|| {
                    self.invalid(
                        var,
                        &key("env"),
                        format!("environment variable {} is not set (or empty)", var.get_ref()),
                    )
                })?;
                crate::http::auth::hash_token(&value)
            }
            _ => {
                return Err(self.invalid(
                    token,
                    &format!("api.tokens[{index}]"),
                    "give exactly one of `sha256` (hash of the token) or `env` (variable holding it)".into(),
                ));
            }
        };
        let scope = match &t.scope {
            None => crate::http::auth::Scope::Admin,
            Some(v) => crate::http::auth::Scope::parse(v.get_ref()).ok_or_else(|| {
                self.invalid(
                    v,
                    &key("scope"),
                    format!(
                        "{:?} is not a scope: use \"admin\" (everything), \"agent\" (read, reply, update \
                         conversations, merge and split persons, accept or dismiss suggestions) or \"read\" \
                         (GET requests only)",
                        v.get_ref()
                    ),
                )
            })?,
        };
        Ok(ApiToken {
            name: t.name.clone(),
            sha256,
            scope,
        })
    }
}

#[cfg(test)]
mod tests;
