//! The instance's settings, read from its config table, and their schema.

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;

/// Where the Graph API lives unless `api_base` says otherwise.
pub const DEFAULT_API_BASE: &str = "https://graph.facebook.com";
/// The Graph API version used unless `api_version` says otherwise.
pub const DEFAULT_API_VERSION: &str = "v21.0";

/// An approved template sent when the 24-hour customer service window is closed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The template's name.
    pub name: String,
    /// Its language code, e.g. `en_US`.
    pub language: String,
}

/// The settings of one connector instance.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The business phone number id messages are sent from.
    pub phone_number_id: Option<String>,
    /// Graph API base URL without a trailing slash.
    pub api_base: String,
    /// Graph API version, e.g. `v21.0`.
    pub api_version: String,
    /// Template for re-engaging a person outside the 24-hour window.
    pub reengagement_template: Option<Template>,
    /// Whether replies quote the person's last message.
    pub quote_replies: bool,
}

impl Settings {
    /// Reads the settings; a value of the wrong shape is an `internal` error.
    pub fn load(host: &Host) -> Result<Self, PluginError> {
        let api_base: String = host.config_or("api_base", DEFAULT_API_BASE.to_owned())?;
        Ok(Self {
            phone_number_id: host.config("phone_number_id")?,
            api_base: api_base.trim_end_matches('/').to_owned(),
            api_version: host.config_or("api_version", DEFAULT_API_VERSION.to_owned())?,
            reengagement_template: host.config("reengagement_template")?,
            quote_replies: host.config_or("quote_replies", true)?,
        })
    }

    /// The Messages API endpoint of `phone_number_id`.
    pub fn messages_url(&self, phone_number_id: &str) -> String {
        format!("{}/{}/{}/messages", self.api_base, self.api_version, phone_number_id)
    }
}

/// JSON Schema of the instance's config table.
pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "required": ["phone_number_id"],
        "properties": {
            "phone_number_id": {
                "type": "string",
                "pattern": "^[0-9]{1,32}$",
                "description": "The WhatsApp Business phone number id (not the number itself) replies are sent from; webhooks about other numbers of the same account are ignored."
            },
            "api_base": {
                "type": "string",
                "pattern": "^https?://[^/?#]+(/[^?#]*)?$",
                "description": "Graph API base URL (default https://graph.facebook.com); change it only to point tests at a local server."
            },
            "api_version": {
                "type": "string",
                "pattern": "^v[0-9]+\\.[0-9]+$",
                "description": "Graph API version used for sending (default v21.0)."
            },
            "reengagement_template": {
                "type": "object",
                "additionalProperties": false,
                "required": ["name", "language"],
                "description": "An approved template without parameters sent instead of a free-form reply when the 24-hour customer service window is closed (error 131047); without it such replies fail.",
                "properties": {
                    "name": { "type": "string", "minLength": 1, "description": "The template's name." },
                    "language": { "type": "string", "minLength": 2, "description": "The template's language code, e.g. en_US." }
                }
            },
            "quote_replies": {
                "type": "boolean",
                "description": "Send replies as a reply to (quoting) the person's last message (default true)."
            }
        }
    })
}
