//! Omni's SMS and MMS connector for Twilio-style messaging.
//!
//! Twilio posts form-encoded webhooks signed with `X-Twilio-Signature`:
//! incoming messages to `/sms` ([`inbound`]) and delivery status callbacks to
//! `/status` ([`status`]). [`omni_plugin_sdk::twilio`] checks every request against the
//! account's auth token and the public URL the operator gave Twilio before
//! anything is read. Replies go out through the Messages API ([`send`]), which
//! asks Twilio to report their fate to `/status`.
//!
//! Identity: the sender's `From` number is a verified phone identity, since
//! the signed request is Twilio's word for the number the carrier delivered.
//! Opt-out keywords (STOP, START, HELP) arrive as ordinary messages: Twilio
//! itself keeps the opt-out list and refuses to send to opted-out numbers.

#![warn(missing_docs)]

pub mod inbound;
pub mod send;
pub mod status;

use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::twilio;

/// The SMS connector.
pub struct Sms;

impl Channel for Sms {
    fn manifest() -> Manifest {
        Manifest::new("sms", "SMS (Twilio)", env!("CARGO_PKG_VERSION"), ChannelKind::Sms)
            .with_description(
                "SMS and MMS through Twilio or a Twilio-compatible provider: signed incoming-message and \
                 status webhooks, replies through the Messages API.",
            )
            .with_secret(twilio::AUTH_TOKEN)
            .with_secret(send::API_KEY_SECRET)
            .with_outbound_host("api.twilio.com")
            .with_config_schema(config_schema())
    }

    fn handle_webhook(host: &Host, request: Request) -> Result<WebhookOutcome, PluginError> {
        match (request.method.as_str(), request.path.trim_end_matches('/')) {
            ("POST", "/sms") => inbound::receive(host, &request),
            ("POST", "/status") => status::receipt(host, &request),
            (_, "/sms") | (_, "/status") => Err(PluginError::Unsupported(format!(
                "{} is not allowed on {}; configure Twilio to use HTTP POST",
                request.method, request.path
            ))),
            _ => Err(PluginError::not_found(format!(
                "the SMS connector has no route {}",
                request.path
            ))),
        }
    }

    fn send(host: &Host, message: OutboundMessage, recipient: Identity) -> Result<SendReceipt, SendError> {
        send::send(host, message, recipient)
    }
}

omni_plugin_sdk::export_channel!(Sms);

/// JSON Schema of the instance's `config` table.
fn config_schema() -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "required": ["account_sid", "public_url"],
        "anyOf": [{ "required": ["from"] }, { "required": ["messaging_service_sid"] }],
        "properties": {
            "account_sid": {
                "type": "string",
                "pattern": "^[A-Za-z0-9-]{1,64}$",
                "description": "Twilio Account SID (AC…), or a Twilio-compatible provider's account id; \
                                webhooks for another account are refused with 403."
            },
            "public_url": {
                "type": "string",
                "pattern": "^https?://",
                "description": "The URL Twilio calls for this instance, without the route, e.g. \
                                https://omni.example.com/hooks/sms; signatures are checked against it."
            },
            "from": {
                "type": "string",
                "minLength": 1,
                "description": "Sender of replies: a Twilio number in E.164, a short code or an alphanumeric sender id."
            },
            "messaging_service_sid": {
                "type": "string",
                "pattern": "^[A-Za-z0-9-]{1,64}$",
                "description": "Messaging Service (MG…) that sends replies; with `from`, that sender of the service is used."
            },
            "api_key_sid": {
                "type": "string",
                "pattern": "^[A-Za-z0-9-]{1,64}$",
                "description": "API key (SK…) for the Messages API, with the secret `api_key_secret`; \
                                without it the auth token is used."
            },
            "api_base": {
                "type": "string",
                "pattern": "^https?://",
                "description": "Base URL of the Messages API (…/2010-04-01/Accounts/{account_sid}/Messages.json \
                                is appended); default https://api.twilio.com."
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_what_the_plugin_uses() {
        let manifest = Sms::manifest();
        assert_eq!(manifest.id, "sms");
        assert_eq!(manifest.kind, ChannelKind::Sms);
        assert!(!manifest.capabilities.kv);
        assert_eq!(manifest.capabilities.secrets, vec!["auth_token", "api_key_secret"]);
        assert_eq!(manifest.capabilities.outbound_hosts, vec!["api.twilio.com"]);
        testing::documented_config_schema(&manifest);
    }

    #[test]
    fn unknown_routes_and_methods_are_refused() {
        let mock = testing::MockHost::new();
        assert_eq!(
            Sms::handle_webhook(&mock.host(), Request::get("/sms"))
                .unwrap_err()
                .status(),
            405
        );
        assert_eq!(
            Sms::handle_webhook(&mock.host(), Request::post("/nope", ""))
                .unwrap_err()
                .status(),
            404
        );
    }
}
