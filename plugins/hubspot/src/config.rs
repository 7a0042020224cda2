//! The instance's settings (`[plugins.config]`) and its HubSpot credential.

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;

/// Name of the secret holding the private app's access token.
pub const ACCESS_TOKEN: &str = "access_token";

/// HubSpot's API origin.
pub const DEFAULT_API_BASE: &str = "https://api.hubapi.com";

/// The note property that carries the event position, unless configured otherwise.
pub const DEFAULT_NOTE_DEDUPE_PROPERTY: &str = "omni_event_id";

/// Whether the plugin may create contacts HubSpot does not have yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreateContacts {
    /// Create a contact for a person with an email address or a phone number.
    WithEmailOrPhone,
    /// Only link persons to contacts that already exist.
    Never,
}

/// Everything a call needs to talk to HubSpot.
#[derive(Debug, Clone)]
pub struct Config {
    /// Origin of the API, without a trailing slash.
    pub api_base: String,
    /// The HubSpot account id, for record links.
    pub portal_id: Option<String>,
    /// Custom note property holding the event position.
    pub note_dedupe_property: String,
    /// Whether unknown persons become contacts.
    pub create_contacts: CreateContacts,
    /// The private app's access token.
    pub token: String,
}

impl Config {
    /// Reads config and secret. Both problems are the operator's to fix, so
    /// they are permanent: retrying the event cannot make a token appear.
    pub fn read(host: &Host) -> Result<Self, IntegrationError> {
        let invalid = |e: PluginError| IntegrationError::permanent(e.message().to_owned());
        let api_base: String = host
            .config_or("api_base", DEFAULT_API_BASE.to_owned())
            .map_err(invalid)?;
        // TOML makes `portal_id = 12345` as natural as `portal_id = "12345"`.
        let portal_id = match host.config::<serde_json::Value>("portal_id").map_err(invalid)? {
            Some(serde_json::Value::String(id)) => Some(id.trim().to_owned()).filter(|id| !id.is_empty()),
            Some(serde_json::Value::Number(id)) => Some(id.to_string()),
            _ => None,
        };
        let note_dedupe_property: String = host
            .config_or("note_dedupe_property", DEFAULT_NOTE_DEDUPE_PROPERTY.to_owned())
            .map_err(invalid)?;
        let create_contacts = host
            .config_or("create_contacts", CreateContacts::WithEmailOrPhone)
            .map_err(invalid)?;
        let token = host
            .secret(ACCESS_TOKEN)
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                IntegrationError::permanent(format!(
                    "the secret `{ACCESS_TOKEN}` is not set: create a HubSpot private app with the scopes \
                     crm.objects.contacts.read and crm.objects.contacts.write and give its access token to this \
                     instance, e.g. secrets = {{ {ACCESS_TOKEN} = {{ env = \"HUBSPOT_TOKEN\" }} }}"
                ))
            })?;
        Ok(Self {
            api_base: api_base.trim_end_matches('/').to_owned(),
            portal_id,
            note_dedupe_property,
            create_contacts,
            token,
        })
    }

    /// Where an agent opens a contact in HubSpot; needs `portal_id`.
    pub fn record_url(&self, contact_id: &str) -> Option<String> {
        self.portal_id
            .as_ref()
            .map(|portal| format!("https://app.hubspot.com/contacts/{portal}/record/0-1/{contact_id}"))
    }
}
