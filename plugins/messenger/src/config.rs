//! The instance's settings, read from its config table, and their schema.

use omni_plugin_sdk::prelude::*;

/// Where the Graph API lives unless `api_base` says otherwise.
pub const DEFAULT_API_BASE: &str = "https://graph.facebook.com";
/// The Graph API version used unless `api_version` says otherwise.
pub const DEFAULT_API_VERSION: &str = "v21.0";

/// The settings of one connector instance.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The Page this instance serves; `None` sends through `/me`.
    pub page_id: Option<String>,
    /// Graph API base URL without a trailing slash.
    pub api_base: String,
    /// Graph API version, e.g. `v21.0`.
    pub api_version: String,
    /// Whether a reply outside the 24-hour window is sent with the `HUMAN_AGENT` tag.
    pub human_agent_tag: bool,
}

impl Settings {
    /// Reads the settings; a value of the wrong shape is an `internal` error.
    pub fn load(host: &Host) -> Result<Self, PluginError> {
        let api_base: String = host.config_or("api_base", DEFAULT_API_BASE.to_owned())?;
        Ok(Self {
            page_id: host.config("page_id")?,
            api_base: api_base.trim_end_matches('/').to_owned(),
            api_version: host.config_or("api_version", DEFAULT_API_VERSION.to_owned())?,
            human_agent_tag: host.config_or("human_agent_tag", false)?,
        })
    }

    /// The Send API endpoint: the Page's own, or `/me` (the token's Page).
    pub fn messages_url(&self) -> String {
        let page = self.page_id.as_deref().unwrap_or("me");
        format!("{}/{}/{page}/messages", self.api_base, self.api_version)
    }
}

/// JSON Schema of the instance's config table.
pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "page_id": {
                "type": "string",
                "pattern": "^[0-9]{1,32}$",
                "description": "The Facebook Page id. Replies are sent through /{page_id}/messages instead of /me/messages, and Page webhooks about other Pages of the same app are ignored."
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
            "human_agent_tag": {
                "type": "boolean",
                "description": "When a reply falls outside the 24-hour standard messaging window, send it again with the HUMAN_AGENT tag (allowed up to 7 days after the person's last message; the app needs Meta's Human Agent permission). Default false."
            }
        }
    })
}
