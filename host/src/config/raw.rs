//! The shape of `omni.toml` exactly as written, before validation.
//!
//! Every table refuses unknown keys, and values whose position matters for an
//! error message are kept [`Spanned`].

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub storage: RawStorage,
    #[serde(default)]
    pub conversations: RawConversations,
    #[serde(default)]
    pub identity: RawIdentity,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub delivery: RawDelivery,
    #[serde(default)]
    pub api: RawApi,
    #[serde(default)]
    pub plugins: Vec<RawPlugin>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<Spanned<String>>,
    pub max_body_bytes: Option<Spanned<u64>>,
    pub max_in_flight: Option<Spanned<u64>>,
    pub max_queued: Option<Spanned<u64>>,
    pub queue_wait: Option<Spanned<String>>,
    pub per_source: Option<Spanned<RawRate>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRate {
    pub per_second: Spanned<u64>,
    pub burst: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub data_dir: Option<Spanned<String>>,
    pub database_url: Option<Spanned<String>>,
    pub cache_dir: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConversations {
    pub continue_within: Option<Spanned<String>>,
    pub after_resolved: Option<Spanned<String>>,
    pub reopen_within: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentity {
    pub default_region: Option<Spanned<String>>,
    #[serde(default)]
    pub blocklist: BTreeMap<Spanned<String>, Vec<Spanned<String>>>,
    #[serde(default)]
    pub max_per_kind: BTreeMap<Spanned<String>, Spanned<u64>>,
    pub unique_kinds: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub memory_mb: Option<Spanned<u64>>,
    pub timeout_ms: Option<Spanned<u64>>,
    pub max_response_bytes: Option<Spanned<u64>>,
    pub max_events: Option<Spanned<u64>>,
    pub max_text_bytes: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDelivery {
    pub lease: Option<Spanned<String>>,
    pub max_attempts: Option<Spanned<u64>>,
    pub concurrency: Option<Spanned<u64>>,
    pub first_retry: Option<Spanned<String>>,
    pub max_retry: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    #[serde(default)]
    pub tokens: Vec<Spanned<RawToken>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawToken {
    pub name: String,
    pub sha256: Option<Spanned<String>>,
    pub env: Option<Spanned<String>>,
    pub scope: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlugin {
    pub id: Spanned<String>,
    pub wasm: Spanned<String>,
    pub workspace: Option<Spanned<String>>,
    pub allowed_hosts: Option<Spanned<Vec<String>>>,
    #[serde(default = "enabled")]
    pub enabled: bool,
    #[serde(default)]
    pub config: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    pub secrets: BTreeMap<String, Spanned<RawSecret>>,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub delivery: RawPluginDelivery,
    pub subscribe: Option<Spanned<RawSubscribe>>,
    pub lookup_ttl: Option<Spanned<String>>,
    #[serde(default)]
    pub instances: RawInstances,
    pub inbound: Option<Spanned<RawRate>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInstances {
    pub policy: Option<Spanned<String>>,
    pub max_calls: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSubscribe {
    pub events: Option<Vec<Spanned<String>>>,
    pub from: Option<Spanned<String>>,
    pub max_attempts: Option<Spanned<u64>>,
    pub first_retry: Option<Spanned<String>>,
    pub max_retry: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPluginDelivery {
    pub concurrency: Option<Spanned<u64>>,
    pub per_second: Option<Spanned<u64>>,
    pub burst: Option<Spanned<u64>>,
}

fn enabled() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecret {
    pub env: String,
}
