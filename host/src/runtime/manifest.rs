//! A plugin's manifest, checked, and the instance config checked against it.

use super::bindings::wit;
use crate::config::{ConfigError, PluginConfig};

/// The family of channel, as the host names it in stored data and the API.
pub fn channel_name(kind: wit::ChannelKind) -> &'static str {
    match kind {
        wit::ChannelKind::Webchat => "webchat",
        wit::ChannelKind::Email => "email",
        wit::ChannelKind::Sms => "sms",
        wit::ChannelKind::Whatsapp => "whatsapp",
        wit::ChannelKind::Telegram => "telegram",
        wit::ChannelKind::Messenger => "messenger",
        wit::ChannelKind::Instagram => "instagram",
        wit::ChannelKind::Voice => "voice",
        wit::ChannelKind::Video => "video",
        wit::ChannelKind::Other => "other",
    }
}

/// A validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Plugin id, e.g. `webchat`.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Plugin version.
    pub version: semver::Version,
    /// Description.
    pub description: String,
    /// Channel family name, e.g. `webchat` (`other` channels use the plugin id).
    pub channel: String,
    /// Namespace of channel user ids: the channel, or the plugin id for `other`.
    pub identity_namespace: String,
    /// Declared secrets.
    pub secrets: Vec<String>,
    /// Declared kv use.
    pub kv: bool,
    /// Declared outbound hosts.
    pub outbound_hosts: Vec<String>,
    /// Poll interval, for channels without webhooks.
    pub poll_interval_ms: Option<u32>,
    /// Config schema.
    pub config_schema: serde_json::Value,
}

impl Manifest {
    /// Checks what the plugin said about itself.
    pub fn from_wit(raw: wit::PluginManifest) -> Result<Self, String> {
        let id_ok = !raw.id.is_empty()
            && raw.id.len() <= 63
            && raw
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(format!(
                "id {:?} must be 1 to 63 lower-case letters, digits, '-' or '_'",
                raw.id
            ));
        }
        if raw.name.trim().is_empty() {
            return Err("name is empty".to_owned());
        }
        let version = semver::Version::parse(&raw.version)
            .map_err(|e| format!("version {:?} is not semver: {e}", raw.version))?;
        let config_schema: serde_json::Value =
            serde_json::from_str(&raw.config_schema).map_err(|e| format!("config-schema is not JSON: {e}"))?;
        jsonschema::meta::validate(&config_schema)
            .map_err(|e| format!("config-schema is not a valid JSON Schema: {e}"))?;
        let channel = channel_name(raw.kind);
        let identity_namespace = if raw.kind == wit::ChannelKind::Other {
            raw.id.clone()
        } else {
            channel.to_owned()
        };
        Ok(Self {
            id: raw.id,
            name: raw.name,
            version,
            description: raw.description,
            channel: channel.to_owned(),
            identity_namespace,
            secrets: raw.capabilities.secrets,
            kv: raw.capabilities.kv,
            outbound_hosts: raw.capabilities.outbound_hosts,
            poll_interval_ms: raw.capabilities.poll_interval_ms,
            config_schema,
        })
    }

    /// Checks an instance's config against the schema and its secrets against
    /// the declared ones; errors point at the offending key in `omni.toml`.
    pub fn check_instance(&self, instance: &PluginConfig, index: usize) -> Result<(), ConfigError> {
        let validator = jsonschema::validator_for(&self.config_schema).map_err(|e| ConfigError::Invalid {
            location: instance.location.clone(),
            key: format!("plugins[{index}]"),
            message: format!("plugin {} has an unusable config schema: {e}", self.id),
        })?;
        // Name an unknown key ourselves: a schema without `properties` reports
        // it as a bare "false schema" error on the whole table.
        if self.config_schema.get("additionalProperties") == Some(&serde_json::Value::Bool(false)) {
            let known = self.config_schema.get("properties").and_then(|p| p.as_object());
            if let Some(key) = instance
                .config
                .keys()
                .find(|k| !known.is_some_and(|p| p.contains_key(*k)))
            {
                let mut names: Vec<&String> = known.map(|p| p.keys().collect()).unwrap_or_default();
                names.sort();
                return Err(ConfigError::Invalid {
                    location: instance.config_locations.get(key).unwrap_or(&instance.location).clone(),
                    key: format!("plugins[{index}].config.{key}"),
                    message: format!(
                        "plugin {} {} has no config key {key:?} (it knows {names:?})",
                        self.id, self.version
                    ),
                });
            }
        }
        let config = serde_json::Value::Object(instance.config.clone());
        if let Some(error) = validator.iter_errors(&config).next() {
            let mut path: Vec<String> = error
                .instance_path()
                .to_string()
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            // An unexpected key is reported on its parent; point at the key itself.
            if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } = error.kind()
                && let Some(key) = unexpected.first()
            {
                path.push(key.clone());
            }
            let location = path
                .first()
                .and_then(|top| instance.config_locations.get(top))
                .unwrap_or(&instance.location)
                .clone();
            let key = std::iter::once(format!("plugins[{index}].config"))
                .chain(path)
                .collect::<Vec<_>>()
                .join(".");
            return Err(ConfigError::Invalid {
                location,
                key,
                message: format!("{error} (schema of plugin {} {})", self.id, self.version),
            });
        }
        if let Some(name) = instance.secrets.keys().find(|name| !self.secrets.contains(name)) {
            return Err(ConfigError::Invalid {
                location: instance.location.clone(),
                key: format!("plugins[{index}].secrets.{name}"),
                message: format!(
                    "plugin {} does not use a secret named {name:?}; it declares {:?}",
                    self.id, self.secrets
                ),
            });
        }
        Ok(())
    }
}
