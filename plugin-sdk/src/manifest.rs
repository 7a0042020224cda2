//! The plugin's self-description: identity, channel family and capabilities.

use serde::{Deserialize, Serialize};

/// The family of channel a connector speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelKind {
    /// A chat widget on a website or app.
    Webchat,
    /// Email.
    Email,
    /// SMS and MMS.
    Sms,
    /// WhatsApp Business.
    Whatsapp,
    /// Telegram.
    Telegram,
    /// Facebook Messenger.
    Messenger,
    /// Instagram direct messages.
    Instagram,
    /// Phone calls.
    Voice,
    /// Video sessions.
    Video,
    /// Anything else.
    Other,
}

/// What a plugin asks the host to allow; anything undeclared is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Secret names the plugin reads.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Whether the plugin uses its key-value store.
    #[serde(default)]
    pub kv: bool,
    /// Hosts the plugin calls.
    #[serde(default)]
    pub outbound_hosts: Vec<String>,
    /// Poll interval for channels without webhooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_ms: Option<u32>,
}

/// Who a plugin is and what it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Stable machine id, lower case.
    pub id: String,
    /// Human name.
    pub name: String,
    /// The plugin's version, semver.
    pub version: String,
    /// One paragraph for operators.
    #[serde(default)]
    pub description: String,
    /// Channel family.
    pub kind: ChannelKind,
    /// Requested capabilities.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// JSON Schema of the instance config table.
    pub config_schema: String,
}

impl Manifest {
    /// A manifest with no capabilities and a schema accepting an empty config.
    pub fn new(id: &str, name: &str, version: &str, kind: ChannelKind) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            version: version.to_owned(),
            description: String::new(),
            kind,
            capabilities: Capabilities::default(),
            config_schema: r#"{"type":"object","additionalProperties":false}"#.to_owned(),
        }
    }

    /// Sets the description.
    pub fn with_description(mut self, description: &str) -> Self {
        self.description = description.to_owned();
        self
    }

    /// Declares a secret the plugin reads.
    pub fn with_secret(mut self, name: &str) -> Self {
        self.capabilities.secrets.push(name.to_owned());
        self
    }

    /// Declares use of the key-value store.
    pub fn with_kv(mut self) -> Self {
        self.capabilities.kv = true;
        self
    }

    /// Declares an outbound host.
    pub fn with_outbound_host(mut self, host: &str) -> Self {
        self.capabilities.outbound_hosts.push(host.to_owned());
        self
    }

    /// Sets the JSON Schema of the config table.
    pub fn with_config_schema(mut self, schema: serde_json::Value) -> Self {
        self.config_schema = schema.to_string();
        self
    }
}
