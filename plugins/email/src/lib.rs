//! Omni's email connector.
//!
//! Inbound email arrives through the inbound-parse webhook of an email
//! provider: `POST /inbound` takes the JSON of Postmark, the multipart (or
//! url-encoded) form of SendGrid Inbound Parse and Mailgun routes, and
//! `POST /inbound/mime` a raw RFC 5322 message (an MTA pipe; it accepts the
//! same forms too). Messages are parsed with `mail-parser` and become
//! `InboundMessage`s keyed by their Message-ID, threaded by
//! `In-Reply-To`/`References`, with quoted replies stripped and attachments
//! reduced to metadata. Agents' replies go out through the provider's HTTP
//! API (Postmark, SendGrid or Mailgun) with our own Message-ID and proper
//! threading headers; `POST /events` turns the provider's delivery, bounce
//! and open webhooks into delivery statuses.
//!
//! Where things live:
//! - [`config`]: the config schema, typed settings and secret names;
//! - [`auth`]: webhook authentication (HTTP Basic, Mailgun's HMAC);
//! - [`form`]: `multipart/form-data` and url-encoded bodies (parsed by `mail-parser`);
//! - [`mime`]: RFC 5322 messages and header blocks into a [`mime::ParsedEmail`];
//! - [`quote`]: stripping quoted replies, Outlook headers and signatures;
//! - [`sender_auth`]: reading `Authentication-Results` to verify the sender;
//! - [`threading`]: Message-IDs as external ids, the per-message thread record;
//! - [`inbound`]: the inbound routes, building the events;
//! - [`postmark`], [`sendgrid`], [`mailgun`]: each provider's wire formats;
//! - [`send`]: outbound replies; [`status`]: delivery webhooks.

pub mod auth;
pub mod config;
pub mod form;
pub mod inbound;
pub mod mailgun;
pub mod mime;
pub mod postmark;
pub mod quote;
pub mod send;
pub mod sender_auth;
pub mod sendgrid;
pub mod status;
pub mod threading;

use omni_plugin_sdk::prelude::*;

/// The email connector.
pub struct Email;

impl Channel for Email {
    fn manifest() -> Manifest {
        Manifest::new("email", "Email", env!("CARGO_PKG_VERSION"), ChannelKind::Email)
            .with_description(
                "Email through an inbound-parse webhook (Postmark, SendGrid, Mailgun or raw MIME) \
                 and a provider's HTTP API for replies, threaded by Message-ID.",
            )
            .with_secret(config::API_KEY)
            .with_secret(config::WEBHOOK_PASSWORD)
            .with_secret(config::WEBHOOK_SIGNING_KEY)
            .with_kv()
            .with_outbound_host("api.postmarkapp.com")
            .with_outbound_host("api.sendgrid.com")
            .with_outbound_host("api.mailgun.net")
            .with_outbound_host("api.eu.mailgun.net")
            .with_config_schema(config::schema())
    }

    fn handle_webhook(host: &Host, request: Request) -> Result<WebhookOutcome, PluginError> {
        let route = request.path.trim_end_matches('/');
        let result = match (request.method.as_str(), route) {
            ("POST", "/inbound") | ("POST", "/inbound/mime") => inbound::receive(host, &request),
            ("POST", "/events") => status::receive(host, &request),
            (_, "/inbound") | (_, "/inbound/mime") | (_, "/events") => {
                return Err(PluginError::Unsupported(format!(
                    "{} is not allowed on {}; use POST",
                    request.method, request.path
                )));
            }
            _ => return Err(PluginError::not_found(format!("email has no route {}", request.path))),
        };
        auth::challenge_on_basic_refusal(host, result)
    }

    fn send(host: &Host, message: OutboundMessage, recipient: Identity) -> Result<SendReceipt, SendError> {
        send::send(host, message, recipient)
    }
}

omni_plugin_sdk::export_channel!(Email);

/// Milliseconds since the Unix epoch by the clock the host gives the plugin
/// (WASI wall clock); 0 when there is none.
pub(crate) fn now_ms() -> i64 {
    omni_plugin_sdk::clock::now_ms().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_what_the_plugin_uses() {
        let manifest = Email::manifest();
        assert_eq!(manifest.id, "email");
        assert_eq!(manifest.kind, ChannelKind::Email);
        assert!(manifest.capabilities.kv);
        assert_eq!(
            manifest.capabilities.secrets,
            vec!["api_key", "webhook_password", "webhook_signing_key"]
        );
        assert_eq!(
            manifest.capabilities.outbound_hosts,
            vec![
                "api.postmarkapp.com",
                "api.sendgrid.com",
                "api.mailgun.net",
                "api.eu.mailgun.net"
            ]
        );
        testing::documented_config_schema(&manifest);
    }

    #[test]
    fn unknown_routes_and_methods_are_refused() {
        let mock = testing::MockHost::new();
        let err = Email::handle_webhook(&mock.host(), Request::post("/nope", "x")).unwrap_err();
        assert_eq!(err.status(), 404);
        let err = Email::handle_webhook(&mock.host(), Request::get("/inbound")).unwrap_err();
        assert_eq!(err.status(), 405);
        let err = Email::handle_webhook(&mock.host(), Request::get("/events")).unwrap_err();
        assert_eq!(err.status(), 405);
    }

    #[test]
    fn the_clock_is_available_natively() {
        assert!(now_ms() > 1_600_000_000_000);
    }
}
