//! Omni's Facebook Messenger and Instagram messaging connector.
//!
//! One instance serves a Facebook Page and the Instagram professional
//! account linked to it: Meta posts both products' webhooks in the same
//! shape (`object` is `page` or `instagram`, `sender.id` a page- or
//! Instagram-scoped id) and both are answered through the Page's Send API
//! with the same Page access token.
//!
//! Meta calls `/hooks/{instance}/webhook`: a `GET` to verify the subscription
//! and signed `POST`s, routed by [`omni_plugin_sdk::meta::route`], which also
//! answers the handshake and checks the `X-Hub-Signature-256`. `webhook.rs`
//! walks a signed body (`payload.rs`): messages, postbacks and reactions become
//! inbound messages (`inbound.rs`), delivery and read receipts become delivery
//! statuses (`receipts.rs`). Read receipts name a time, not messages, so the
//! ids and times of sent messages are kept per person (`sent_log.rs`); when
//! each person last wrote is kept too (`window.rs`), since Messenger allows
//! standard replies only within 24 hours of that. Replies go out through the
//! Send API (`send.rs`), whose errors are classified by
//! [`omni_plugin_sdk::meta::graph_failure`] with Messenger's own codes
//! (`graph_error.rs`). The instance's settings are read in `config.rs`.

mod config;
mod graph_error;
mod inbound;
mod payload;
mod receipts;
mod send;
mod sent_log;
mod webhook;
mod window;

use omni_plugin_sdk::meta;
use omni_plugin_sdk::prelude::*;

pub use omni_plugin_sdk::meta::{
    APP_SECRET, GRAPH_API_BASE as DEFAULT_API_BASE, GRAPH_API_VERSION as DEFAULT_API_VERSION, VERIFY_TOKEN,
    WEBHOOK_PATH,
};

/// The Messenger and Instagram connector.
pub struct Messenger;

/// The product named in operator-facing errors.
const PRODUCT: &str = "Messenger";

/// Secret sent as bearer token to the Send API.
pub const PAGE_ACCESS_TOKEN: &str = "page_access_token";

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
        meta::route(host, &request, PRODUCT, webhook::receive)
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
        testing::documented_config_schema(&manifest);
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
