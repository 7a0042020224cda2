//! Omni's WhatsApp Cloud API connector.
//!
//! Meta calls one webhook URL, `/hooks/{instance}/webhook`: a `GET` to
//! verify the subscription and signed `POST`s carrying messages and delivery
//! statuses, routed by [`omni_plugin_sdk::meta::route`], which also answers
//! the handshake and checks each `POST` against its `X-Hub-Signature-256`. A
//! signed `POST` is parsed (`payload.rs`) and walked by `webhook.rs`, which
//! turns each message into an inbound message (`inbound.rs`), each status
//! into a delivery status (`status.rs`), and remembers when each person last
//! wrote (`window.rs`), since WhatsApp only allows free-form replies within
//! 24 hours of that. Replies go out through the Graph API's
//! `/{phone-number-id}/messages` (`send.rs`); its error answers are classified
//! by [`omni_plugin_sdk::meta::graph_failure`] with WhatsApp's own codes
//! (`graph_error.rs`). The instance's settings are read in `config.rs`.

mod config;
mod graph_error;
mod inbound;
mod payload;
mod send;
mod status;
mod webhook;
mod window;

use omni_plugin_sdk::meta;
use omni_plugin_sdk::prelude::*;

pub use omni_plugin_sdk::meta::{
    APP_SECRET, GRAPH_API_BASE as DEFAULT_API_BASE, GRAPH_API_VERSION as DEFAULT_API_VERSION, VERIFY_TOKEN,
    WEBHOOK_PATH,
};

/// The WhatsApp Cloud API connector.
pub struct WhatsApp;

/// The product named in operator-facing errors.
const PRODUCT: &str = "WhatsApp";

/// Secret sent as bearer token to the Graph API.
pub const ACCESS_TOKEN: &str = "access_token";

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
        meta::route(host, &request, PRODUCT, webhook::receive)
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
        let schema = testing::documented_config_schema(&manifest);
        assert_eq!(schema["required"], serde_json::json!(["phone_number_id"]));
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
