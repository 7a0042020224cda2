//! The instance's `config` table, with its defaults, and its JSON Schema.

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;

/// Where the OAuth token endpoint lives unless `login_url` says otherwise.
pub const DEFAULT_LOGIN_URL: &str = "https://login.salesforce.com";
/// The REST API version used unless `api_version` says otherwise.
pub const DEFAULT_API_VERSION: &str = "v60.0";
/// The custom External ID field holding the Omni person id on Contact or Lead.
pub const DEFAULT_EXTERNAL_ID_FIELD: &str = "Omni_Person_Id__c";
/// The custom External ID field holding the event position on Task or Case.
pub const DEFAULT_ACTIVITY_EXTERNAL_ID_FIELD: &str = "Omni_Event_Id__c";
/// Lead requires `Company`; this stands in when nothing better is known.
pub const DEFAULT_LEAD_COMPANY: &str = "[not provided]";

/// Which Salesforce object stands for an Omni person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum PersonObject {
    /// A Contact (the default): people the business already serves.
    Contact,
    /// A Lead: prospects, who need a `Company`.
    Lead,
}

impl PersonObject {
    /// The sObject's API name.
    pub fn name(self) -> &'static str {
        match self {
            PersonObject::Contact => "Contact",
            PersonObject::Lead => "Lead",
        }
    }
}

/// What a resolved conversation becomes in Salesforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ConversationRecord {
    /// A completed Task on the person's record (the default).
    Task,
    /// A closed Case.
    Case,
    /// Nothing.
    #[serde(rename = "none")]
    Nothing,
}

/// The config with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `https://acme.my.salesforce.com`, without a trailing slash.
    pub instance_url: String,
    /// `https://login.salesforce.com`, without a trailing slash.
    pub login_url: String,
    /// `v60.0`: always with the leading `v`.
    pub api_version: String,
    /// Contact or Lead.
    pub object: PersonObject,
    /// External ID field of the person object.
    pub external_id_field: String,
    /// `Company` of new Leads.
    pub lead_company: String,
    /// Task, Case or nothing for resolved conversations.
    pub conversation_record: ConversationRecord,
    /// External ID field of Task and Case.
    pub activity_external_id_field: String,
}

impl Config {
    /// Reads the config. The host validated it against the schema at load;
    /// the checks here keep a hand-made config (tests, an old host) from
    /// producing odd URLs, and every failure is permanent: retrying cannot
    /// fix a config.
    pub fn read(host: &Host) -> Result<Self, IntegrationError> {
        let bad = |e: PluginError| IntegrationError::permanent(e.message().to_owned());
        let instance_url: String = host
            .config("instance_url")
            .map_err(bad)?
            .filter(|url: &String| !url.trim().is_empty())
            .ok_or_else(|| {
                IntegrationError::permanent(
                    "config `instance_url` is not set; give the org's My Domain URL, e.g. https://acme.my.salesforce.com",
                )
            })?;
        let login_url: String = host.config_or("login_url", DEFAULT_LOGIN_URL.to_owned()).map_err(bad)?;
        let api_version: String = host
            .config_or("api_version", DEFAULT_API_VERSION.to_owned())
            .map_err(bad)?;
        let object: PersonObject = host.config_or("object", PersonObject::Contact).map_err(bad)?;
        let external_id_field: String = host
            .config_or("external_id_field", DEFAULT_EXTERNAL_ID_FIELD.to_owned())
            .map_err(bad)?;
        let lead_company: String = host
            .config_or("lead_company", DEFAULT_LEAD_COMPANY.to_owned())
            .map_err(bad)?;
        let conversation_record: ConversationRecord = host
            .config_or("conversation_record", ConversationRecord::Task)
            .map_err(bad)?;
        let activity_external_id_field: String = host
            .config_or(
                "activity_external_id_field",
                DEFAULT_ACTIVITY_EXTERNAL_ID_FIELD.to_owned(),
            )
            .map_err(bad)?;

        for (key, url) in [("instance_url", &instance_url), ("login_url", &login_url)] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(IntegrationError::permanent(format!(
                    "config `{key}` must be an http(s) URL, got {url:?}"
                )));
            }
        }
        for (key, field) in [
            ("external_id_field", &external_id_field),
            ("activity_external_id_field", &activity_external_id_field),
        ] {
            // Field names go into URL paths and SOQL: only API names are accepted.
            if !is_api_name(field) {
                return Err(IntegrationError::permanent(format!(
                    "config `{key}` must be a field API name such as Omni_Person_Id__c, got {field:?}"
                )));
            }
        }
        let version = api_version.trim().trim_start_matches('v');
        let numeric = version.split_once('.').is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.bytes().all(|b| b.is_ascii_digit())
                && minor.bytes().all(|b| b.is_ascii_digit())
        });
        if !numeric {
            return Err(IntegrationError::permanent(format!(
                "config `api_version` must look like v60.0, got {api_version:?}"
            )));
        }

        Ok(Self {
            instance_url: instance_url.trim().trim_end_matches('/').to_owned(),
            login_url: login_url.trim().trim_end_matches('/').to_owned(),
            api_version: format!("v{version}"),
            object,
            external_id_field,
            lead_company,
            conversation_record,
            activity_external_id_field,
        })
    }

    /// `{instance_url}/services/data/{version}`.
    pub fn data_url(&self) -> String {
        format!("{}/services/data/{}", self.instance_url, self.api_version)
    }

    /// The sObject Rows by External ID resource of one record.
    pub fn by_external_id(&self, object: &str, field: &str, value: &str) -> String {
        format!(
            "{}/sobjects/{object}/{field}/{}",
            self.data_url(),
            percent_encode(value)
        )
    }

    /// Where an agent opens a record in Lightning Experience.
    pub fn record_link(&self, object: &str, id: &str) -> String {
        format!("{}/lightning/r/{object}/{}/view", self.instance_url, percent_encode(id))
    }
}

/// Whether a name is a Salesforce API name: a letter, then letters, digits
/// and underscores (custom fields end in `__c`).
pub fn is_api_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= 80
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for a
/// path segment or a query value.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// JSON Schema of the instance's `config` table.
pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "required": ["instance_url"],
        "properties": {
            "instance_url": {
                "type": "string",
                "pattern": "^https?://",
                "description": "The org's My Domain URL, e.g. https://acme.my.salesforce.com; REST calls go to \
                                {instance_url}/services/data/{api_version}. List its host in allowed_hosts."
            },
            "login_url": {
                "type": "string",
                "pattern": "^https?://",
                "default": DEFAULT_LOGIN_URL,
                "description": "Where the OAuth refresh token flow posts ({login_url}/services/oauth2/token): \
                                https://login.salesforce.com (default), https://test.salesforce.com for sandboxes, \
                                or the My Domain URL."
            },
            "api_version": {
                "type": "string",
                "pattern": "^v?[0-9]+\\.[0-9]+$",
                "default": DEFAULT_API_VERSION,
                "description": "REST API version, e.g. v60.0 (the default); 46.0 or later reports whether an \
                                upsert created the record."
            },
            "object": {
                "enum": ["Contact", "Lead"],
                "default": "Contact",
                "description": "The Salesforce object an Omni person becomes: Contact (default) or Lead."
            },
            "external_id_field": {
                "type": "string",
                "pattern": "^[A-Za-z][A-Za-z0-9_]{0,79}$",
                "default": DEFAULT_EXTERNAL_ID_FIELD,
                "description": "API name of the custom External ID (and Unique) text field on Contact or Lead \
                                that holds the Omni person id; upserts go through it, so replays create nothing twice."
            },
            "lead_company": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "default": DEFAULT_LEAD_COMPANY,
                "description": "Company given to new Leads (Salesforce requires one); existing Leads keep theirs."
            },
            "conversation_record": {
                "enum": ["Task", "Case", "none"],
                "default": "Task",
                "description": "What a resolved conversation becomes: a completed Task on the person (default), \
                                a closed Case, or none."
            },
            "activity_external_id_field": {
                "type": "string",
                "pattern": "^[A-Za-z][A-Za-z0-9_]{0,79}$",
                "default": DEFAULT_ACTIVITY_EXTERNAL_ID_FIELD,
                "description": "API name of the custom External ID text field on Task (an Activity field) or Case \
                                that holds the Omni event position, so a replayed resolution updates its record."
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_apply() {
        let mock = testing::MockHost::new().with_config("instance_url", json!("https://acme.my.salesforce.com/"));
        let config = Config::read(&mock.host()).unwrap();
        assert_eq!(config.instance_url, "https://acme.my.salesforce.com");
        assert_eq!(config.login_url, DEFAULT_LOGIN_URL);
        assert_eq!(config.api_version, "v60.0");
        assert_eq!(config.object, PersonObject::Contact);
        assert_eq!(config.conversation_record, ConversationRecord::Task);
        assert_eq!(
            config.by_external_id("Contact", &config.external_id_field, "p 1/2"),
            "https://acme.my.salesforce.com/services/data/v60.0/sobjects/Contact/Omni_Person_Id__c/p%201%2F2"
        );
    }

    #[test]
    fn bad_configs_are_permanent() {
        for (key, value) in [
            ("external_id_field", json!("Bad/Field")),
            ("api_version", json!("latest")),
            ("object", json!("Account")),
            ("login_url", json!("login.salesforce.com")),
        ] {
            let mock = testing::MockHost::new()
                .with_config("instance_url", json!("https://acme.my.salesforce.com"))
                .with_config(key, value);
            assert!(
                matches!(Config::read(&mock.host()), Err(IntegrationError::Permanent { .. })),
                "{key}"
            );
        }
        let missing = testing::MockHost::new();
        assert!(matches!(
            Config::read(&missing.host()),
            Err(IntegrationError::Permanent { .. })
        ));
    }

    #[test]
    fn versions_are_normalised() {
        let mock = testing::MockHost::new()
            .with_config("instance_url", json!("https://acme.my.salesforce.com"))
            .with_config("api_version", json!("59.0"));
        assert_eq!(Config::read(&mock.host()).unwrap().api_version, "v59.0");
    }
}
