//! Omni's Facebook Messenger and Instagram messaging connector.
//!
//! One instance serves a Facebook Page and the Instagram professional
//! account linked to it: Meta posts both products' webhooks in the same
//! shape (`object` is `page` or `instagram`, `sender.id` a page- or
//! Instagram-scoped id) and both are answered through the Page's Send API
//! with the same Page access token.
//!
//! Meta calls `/hooks/{instance}/webhook`: a `GET` to verify the subscription
//! (`subscription.rs`) and signed `POST`s (`signature.rs`) whose body
//! (`payload.rs`) `webhook.rs` walks: messages, postbacks and reactions become
//! inbound messages (`inbound.rs`), delivery and read receipts become delivery
//! statuses (`receipts.rs`). Read receipts name a time, not messages, so the
//! ids and times of sent messages are kept per person (`sent_log.rs`); when
//! each person last wrote is kept too (`window.rs`), since Messenger allows
//! standard replies only within 24 hours of that. Replies go out through the
//! Send API (`send.rs`), whose errors are classified in `graph_error.rs`. The
//! instance's settings are read in `config.rs`.

mod config;
mod graph_error;
mod inbound;
mod payload;
mod receipts;
mod send;
mod sent_log;
mod signature;
mod subscription;
mod webhook;
mod window;

use omni_plugin_sdk::prelude::*;

pub use config::{DEFAULT_API_BASE, DEFAULT_API_VERSION};

/// The Messenger and Instagram connector.
pub struct Messenger;

/// Secret compared with `hub.verify_token` when Meta verifies the webhook.
pub const VERIFY_TOKEN: &str = "verify_token";
/// Secret Meta signs webhook bodies with (the app secret).
pub const APP_SECRET: &str = "app_secret";
/// Secret sent as bearer token to the Send API.
pub const PAGE_ACCESS_TOKEN: &str = "page_access_token";
/// The path below `/hooks/{instance}` Meta calls.
pub const WEBHOOK_PATH: &str = "/webhook";

impl Channel for Messenger {
    fn manifest() -> Manifest {
        Manifest::new(
            "messenger",
            "Messenger and Instagram",
            env!("CARGO_PKG_VERSION"),
            ChannelKind::Messenger,
        )
        .with_description(
            "Facebook Messenger and Instagram direct messages of one Page: signed webhooks for \
             messages, postbacks, delivery and read receipts; replies through the Send API, \
             with the HUMAN_AGENT tag outside the 24-hour window when enabled.",
        )
        .with_secret(VERIFY_TOKEN)
        .with_secret(APP_SECRET)
        .with_secret(PAGE_ACCESS_TOKEN)
        .with_kv()
        .with_outbound_host("graph.facebook.com")
        .with_config_schema(config::schema())
    }

    fn handle_webhook(host: &Host, request: Request) -> Result<WebhookOutcome, PluginError> {
        if request.path.trim_end_matches('/') != WEBHOOK_PATH {
            return Err(PluginError::not_found(format!(
                "the Messenger connector has no route {}; Meta calls {WEBHOOK_PATH}",
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

omni_plugin_sdk::export_channel!(Messenger);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_what_the_plugin_uses() {
        let manifest = Messenger::manifest();
        assert_eq!(manifest.id, "messenger");
        assert_eq!(manifest.kind, ChannelKind::Messenger);
        assert_eq!(
            manifest.capabilities.secrets,
            vec![VERIFY_TOKEN, APP_SECRET, PAGE_ACCESS_TOKEN]
        );
        assert_eq!(manifest.capabilities.outbound_hosts, vec!["graph.facebook.com"]);
        assert!(manifest.capabilities.kv);
        let schema: serde_json::Value = serde_json::from_str(&manifest.config_schema).unwrap();
        assert_eq!(schema["additionalProperties"], false);
        for (key, property) in schema["properties"].as_object().unwrap() {
            assert!(property["description"].is_string(), "{key} has no description");
        }
    }

    #[test]
    fn unknown_routes_and_methods_are_refused() {
        let mock = testing::MockHost::new();
        let err = Messenger::handle_webhook(&mock.host(), Request::get("/inbound")).unwrap_err();
        assert_eq!(err.status(), 404);
        let err = Messenger::handle_webhook(&mock.host(), Request::new("DELETE", "/webhook")).unwrap_err();
        assert_eq!(err.status(), 405);
    }
}
