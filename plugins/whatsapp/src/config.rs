//! The instance's settings, read from its config table, and their schema.

use omni_plugin_sdk::meta::GraphApi;
use omni_plugin_sdk::prelude::*;
use serde::Deserialize;

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
    /// The Graph API: config `api_base` and `api_version`.
    pub graph: GraphApi,
    /// Template for re-engaging a person outside the 24-hour window.
    pub reengagement_template: Option<Template>,
    /// Whether replies quote the person's last message.
    pub quote_replies: bool,
}

impl Settings {
    /// Reads the settings; a value of the wrong shape is an `internal` error.
    pub fn load(host: &Host) -> Result<Self, PluginError> {
        let graph = GraphApi::load(host)?;
        Ok(Self {
            phone_number_id: host.config("phone_number_id")?,
            graph,
            reengagement_template: host.config("reengagement_template")?,
            quote_replies: host.config_or("quote_replies", true)?,
        })
    }

    /// The Messages API endpoint of `phone_number_id`.
    pub fn messages_url(&self, phone_number_id: &str) -> String {
        self.graph.url(&format!("{phone_number_id}/messages"))
    }
}

/// JSON Schema of the instance's config table, with the Graph API's `api_base` and `api_version`.
pub fn schema() -> serde_json::Value {
    let mut schema = serde_json::json!({
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
    });
    if let Some(properties) = schema["properties"].as_object_mut() {
        properties.extend(GraphApi::config_schema_properties());
    }
    schema
}
