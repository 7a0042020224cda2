//! The instance's config table: its JSON Schema, typed readers and the names
//! of the secrets.

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;
use serde_json::json;

/// Secret: the provider's API key (Postmark server token, SendGrid API key, Mailgun API key).
pub const API_KEY: &str = "api_key";
/// Secret: the password of HTTP Basic auth on the webhooks (`inbound_auth = "basic"`).
pub const WEBHOOK_PASSWORD: &str = "webhook_password";
/// Secret: Mailgun's HTTP webhook signing key (`inbound_auth = "mailgun"`).
pub const WEBHOOK_SIGNING_KEY: &str = "webhook_signing_key";

/// Default user name of HTTP Basic auth on the webhooks.
pub const DEFAULT_WEBHOOK_USERNAME: &str = "omni";
/// Default largest age of a Mailgun signature's timestamp, in seconds.
pub const DEFAULT_MAX_AGE_SECONDS: u64 = 15 * 60;
/// Default largest event text in bytes: the host's default `max_text_bytes`.
pub const DEFAULT_MAX_TEXT_BYTES: usize = 65_536;
/// Default subject of a message that answers no known email.
pub const DEFAULT_SUBJECT: &str = "New message";

/// The email provider whose API sends replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Postmark (`POST /email`).
    Postmark,
    /// Twilio SendGrid (`POST /v3/mail/send`).
    Sendgrid,
    /// Mailgun (`POST /v3/{domain}/messages`).
    Mailgun,
}

impl Provider {
    /// The provider's name, for messages and kv keys.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Postmark => "postmark",
            Provider::Sendgrid => "sendgrid",
            Provider::Mailgun => "mailgun",
        }
    }

    /// The provider's real API origin.
    pub fn default_api_base(self) -> &'static str {
        match self {
            Provider::Postmark => "https://api.postmarkapp.com",
            Provider::Sendgrid => "https://api.sendgrid.com",
            Provider::Mailgun => "https://api.mailgun.net",
        }
    }
}

/// How the webhooks prove they come from the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InboundAuth {
    /// HTTP Basic credentials in the webhook URL (Postmark, SendGrid, an MTA).
    Basic,
    /// Mailgun's `timestamp`/`token`/`signature` HMAC.
    Mailgun,
}

/// The configured webhook authentication; `basic` when unset.
pub fn inbound_auth(host: &Host) -> Result<InboundAuth, PluginError> {
    host.config_or("inbound_auth", InboundAuth::Basic)
}

/// The configured largest event text, in bytes.
pub fn max_text_bytes(host: &Host) -> Result<usize, PluginError> {
    host.config_or("max_text_bytes", DEFAULT_MAX_TEXT_BYTES)
}

/// A secret the operator must configure, or an `internal` error naming it.
pub fn required_secret(host: &Host, name: &str) -> Result<String, PluginError> {
    host.secret(name).filter(|s| !s.is_empty()).ok_or_else(|| {
        PluginError::internal(format!(
            "the email connector needs the secret `{name}`; add it to this instance's `secrets` in omni.toml"
        ))
    })
}

/// The JSON Schema of the config table.
pub fn schema() -> serde_json::Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "provider": {
                "enum": ["postmark", "sendgrid", "mailgun"],
                "description": "Which provider's HTTP API sends replies. Required for sending."
            },
            "api_base": {
                "type": "string",
                "pattern": "^https?://",
                "description": "Base URL of the provider's API; defaults to https://api.postmarkapp.com, https://api.sendgrid.com or https://api.mailgun.net (use https://api.eu.mailgun.net for Mailgun's EU region)."
            },
            "from": {
                "type": "string",
                "pattern": "^[^@\\s<>]+@[^@\\s<>]+$",
                "description": "Sender address of replies (a verified sender or domain at the provider). Required for sending; its domain names our Message-IDs."
            },
            "from_name": {
                "type": "string",
                "maxLength": 200,
                "description": "Display name of the sender of replies, e.g. \"Acme Support\"."
            },
            "reply_to": {
                "type": "string",
                "pattern": "^[^@\\s<>]+@[^@\\s<>]+$",
                "description": "Reply-To address of replies, e.g. the inbound-parse address when it differs from `from`."
            },
            "message_stream": {
                "type": "string",
                "description": "Postmark message stream of replies; defaults to \"outbound\"."
            },
            "mailgun_domain": {
                "type": "string",
                "description": "Mailgun sending domain in the API path; defaults to the domain of `from`."
            },
            "default_subject": {
                "type": "string",
                "maxLength": 500,
                "description": "Subject of a reply when the subject of the answered email is unknown; defaults to \"New message\"."
            },
            "track_opens": {
                "type": "boolean",
                "description": "Ask the provider to track opens (adds an HTML part) so that opens become `read` statuses; default false."
            },
            "inbound_auth": {
                "enum": ["basic", "mailgun"],
                "description": "How webhooks authenticate: \"basic\" (credentials in the webhook URL, secret `webhook_password`; the default) or \"mailgun\" (Mailgun's HMAC signature, secret `webhook_signing_key`)."
            },
            "webhook_username": {
                "type": "string",
                "minLength": 1,
                "description": "User name of HTTP Basic auth on the webhooks; defaults to \"omni\"."
            },
            "signature_max_age_seconds": {
                "type": "integer",
                "minimum": 0,
                "maximum": 86400,
                "description": "Largest age of a Mailgun signature timestamp (either direction); 0 turns the check off. Default 900."
            },
            "trust_authentication_results": {
                "type": "boolean",
                "description": "Mark senders verified when the provider's Authentication-Results header (from `authserv_id`) shows dmarc=pass or an aligned dkim=pass, or SendGrid's dkim field shows an aligned pass; default false."
            },
            "authserv_id": {
                "type": "string",
                "minLength": 1,
                "description": "The authserv-id of the Authentication-Results header your provider's receiving server adds (e.g. \"mx.example.com\"); only that header is trusted."
            },
            "max_text_bytes": {
                "type": "integer",
                "minimum": 256,
                "maximum": 16777216,
                "description": "Longest message text in bytes; longer text is cut. Keep it at or below the host's `max_text_bytes` limit (default 65536)."
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_values() {
        let mock = testing::MockHost::new();
        assert_eq!(inbound_auth(&mock.host()).unwrap(), InboundAuth::Basic);
        let mock = testing::MockHost::new().with_config("inbound_auth", json!("mailgun"));
        assert_eq!(inbound_auth(&mock.host()).unwrap(), InboundAuth::Mailgun);
        let provider: Provider = serde_json::from_value(json!("sendgrid")).unwrap();
        assert_eq!(provider.default_api_base(), "https://api.sendgrid.com");
    }

    #[test]
    fn a_missing_secret_names_itself() {
        let mock = testing::MockHost::new();
        let err = required_secret(&mock.host(), API_KEY).unwrap_err();
        assert_eq!(err.status(), 500);
        assert!(err.message().contains("`api_key`"), "{err}");
    }
}
