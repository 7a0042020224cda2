//! Omni's WhatsApp Cloud API connector.
//!
//! Meta calls one webhook URL, `/hooks/{instance}/webhook`: a `GET` to
//! verify the subscription (`subscription.rs`) and signed `POST`s carrying
//! messages and delivery statuses. A `POST` is checked against its
//! `X-Hub-Signature-256` (`signature.rs`), parsed (`payload.rs`) and walked by
//! `webhook.rs`, which turns each message into an inbound message
//! (`inbound.rs`), each status into a delivery status (`status.rs`), and
//! remembers when each person last wrote (`window.rs`), since WhatsApp only
//! allows free-form replies within 24 hours of that. Replies go out through
//! the Graph API's `/{phone-number-id}/messages` (`send.rs`); its error
//! answers are classified in `graph_error.rs`. The instance's settings are
//! read in `config.rs`.

mod config;
mod graph_error;
mod inbound;
mod payload;
mod send;
mod signature;
mod status;
mod subscription;
mod webhook;
mod window;

use omni_plugin_sdk::prelude::*;

pub use config::{DEFAULT_API_BASE, DEFAULT_API_VERSION};

/// The WhatsApp Cloud API connector.
pub struct WhatsApp;

/// Secret compared with `hub.verify_token` when Meta verifies the webhook.
pub const VERIFY_TOKEN: &str = "verify_token";
/// Secret Meta signs webhook bodies with (the app secret).
pub const APP_SECRET: &str = "app_secret";
/// Secret sent as bearer token to the Graph API.
pub const ACCESS_TOKEN: &str = "access_token";
/// The path below `/hooks/{instance}` Meta calls.
pub const WEBHOOK_PATH: &str = "/webhook";

impl Channel for WhatsApp {
    fn manifest() -> Manifest {
        Manifest::new("whatsapp", "WhatsApp", env!("CARGO_PKG_VERSION"), ChannelKind::Whatsapp)
            .with_description(
                "WhatsApp Business through Meta's Cloud API: signed webhooks for text, media, \
                 interactive replies and delivery statuses; replies as text, media by link, or a \
                 re-engagement template outside the 24-hour window.",
            )
            .with_secret(VERIFY_TOKEN)
            .with_secret(APP_SECRET)
            .with_secret(ACCESS_TOKEN)
            .with_kv()
            .with_outbound_host("graph.facebook.com")
            .with_config_schema(config::schema())
    }

    fn handle_webhook(host: &Host, request: Request) -> Result<WebhookOutcome, PluginError> {
        if request.path.trim_end_matches('/') != WEBHOOK_PATH {
            return Err(PluginError::not_found(format!(
                "the WhatsApp connector has no route {}; Meta calls {WEBHOOK_PATH}",
                request.path
            )));
        }
        match request.method.as_str() {
            "GET" => subscription::verify(host, &request),
            "POST" => webhook::receive(host, &request),
            other => Err(PluginError::Unsupported(format!(
                "{other} is not allowed on {WEBHOOK_PATH}; use GET or POST"
            ))),
        }
    }

    fn send(host: &Host, message: OutboundMessage, recipient: Identity) -> Result<SendReceipt, SendError> {
        send::send(host, message, recipient)
    }
}

omni_plugin_sdk::export_channel!(WhatsApp);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_what_the_plugin_uses() {
        let manifest = WhatsApp::manifest();
        assert_eq!(manifest.id, "whatsapp");
        assert_eq!(manifest.kind, ChannelKind::Whatsapp);
        assert_eq!(
            manifest.capabilities.secrets,
            vec![VERIFY_TOKEN, APP_SECRET, ACCESS_TOKEN]
        );
        assert_eq!(manifest.capabilities.outbound_hosts, vec!["graph.facebook.com"]);
        assert!(manifest.capabilities.kv);
        let schema: serde_json::Value = serde_json::from_str(&manifest.config_schema).unwrap();
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["required"], serde_json::json!(["phone_number_id"]));
        for (key, property) in schema["properties"].as_object().unwrap() {
            assert!(property["description"].is_string(), "{key} has no description");
        }
    }

    #[test]
    fn unknown_routes_and_methods_are_refused() {
        let mock = testing::MockHost::new();
        let err = WhatsApp::handle_webhook(&mock.host(), Request::get("/inbound")).unwrap_err();
        assert_eq!(err.status(), 404);
        let err = WhatsApp::handle_webhook(&mock.host(), Request::new("PUT", "/webhook")).unwrap_err();
        assert_eq!(err.status(), 405);
    }
}
