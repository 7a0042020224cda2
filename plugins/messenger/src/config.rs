//! The instance's settings, read from its config table, and their schema.

use omni_plugin_sdk::meta::GraphApi;
use omni_plugin_sdk::prelude::*;

/// The settings of one connector instance.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The Page this instance serves; `None` sends through `/me`.
    pub page_id: Option<String>,
    /// The Graph API: config `api_base` and `api_version`.
    pub graph: GraphApi,
    /// Whether a reply outside the 24-hour window is sent with the `HUMAN_AGENT` tag.
    pub human_agent_tag: bool,
}

impl Settings {
    /// Reads the settings; a value of the wrong shape is an `internal` error.
    pub fn load(host: &Host) -> Result<Self, PluginError> {
        let graph = GraphApi::load(host)?;
        Ok(Self {
            page_id: host.config("page_id")?,
            graph,
            human_agent_tag: host.config_or("human_agent_tag", false)?,
        })
    }

    /// The Send API endpoint: the Page's own, or `/me` (the token's Page).
    pub fn messages_url(&self) -> String {
        let page = self.page_id.as_deref().unwrap_or("me");
        self.graph.url(&format!("{page}/messages"))
    }
}

/// JSON Schema of the instance's config table, with the Graph API's `api_base` and `api_version`.
pub fn schema() -> serde_json::Value {
    let mut schema = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "page_id": {
                "type": "string",
                "pattern": "^[0-9]{1,32}$",
                "description": "The Facebook Page id. Replies are sent through /{page_id}/messages instead of /me/messages, and Page webhooks about other Pages of the same app are ignored."
            },
            "human_agent_tag": {
                "type": "boolean",
                "description": "When a reply falls outside the 24-hour standard messaging window, send it again with the HUMAN_AGENT tag (allowed up to 7 days after the person's last message; the app needs Meta's Human Agent permission). Default false."
            }
        }
    });
    if let Some(properties) = schema["properties"].as_object_mut() {
        properties.extend(GraphApi::config_schema_properties());
    }
    schema
}
