//! Omni's web chat connector.
//!
//! Visitors of a business's website talk through a small widget (served by
//! this plugin at `/hooks/{instance}/widget.js`, with a demo page at
//! `/hooks/{instance}/`). The widget posts messages to `/messages`, polls
//! `/poll` for agent replies (which [`Channel::send`] leaves in the visitor's
//! mailbox in the plugin's key-value store) and posts ratings to `/csat`.
//!
//! Identity: an anonymous visitor is known by the random id the widget keeps
//! in the browser. A signed-in user is verified the way chat vendors do it:
//! the business's backend computes `HMAC-SHA256(identity_secret, user_id)`
//! (or over the email when there is no user id) and the widget sends it as
//! `user_hash`; a matching hash makes the user id (or email) a verified
//! identity, a wrong one is refused with 401.

mod cors;
mod mailbox;
mod visitor;

use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::text::escape_xml;

pub use mailbox::{Mailbox, MailboxItem};
pub use visitor::VisitorMessage;

/// The web chat connector.
pub struct Webchat;

/// Name of the secret that signs user identities.
pub const IDENTITY_SECRET: &str = "identity_secret";

const WIDGET_JS: &str = include_str!("../assets/widget.js");
const DEMO_PAGE: &str = include_str!("../assets/index.html");

impl Channel for Webchat {
    fn manifest() -> Manifest {
        Manifest::new("webchat", "Web chat", env!("CARGO_PKG_VERSION"), ChannelKind::Webchat)
            .with_description(
                "A chat widget for the business's website: visitors write, agents reply, \
                 signed-in users are verified with an HMAC of their id.",
            )
            .with_secret(IDENTITY_SECRET)
            .with_kv()
            .with_config_schema(serde_json::json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "title": { "type": "string", "maxLength": 200, "description": "Widget header text." },
                    "greeting": { "type": "string", "maxLength": 2000, "description": "First line the widget shows." },
                    "allowed_origins": {
                        "type": "array",
                        "items": { "type": "string" },
                        "description": "Origins allowed to embed the widget (CORS); \"*\" allows any."
                    },
                    "max_text_length": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 100000,
                        "description": "Longest visitor message, in characters; longer ones are refused."
                    },
                    "require_signed_users": {
                        "type": "boolean",
                        "description": "Refuse messages that claim a user id without a valid user_hash."
                    }
                }
            }))
    }

    fn handle_webhook(host: &Host, request: Request) -> Result<WebhookOutcome, PluginError> {
        let cors = cors::Cors::from_config(host, &request)?;
        if request.method == "OPTIONS" {
            return Ok(WebhookOutcome::new(cors.preflight()));
        }
        let outcome = match (request.method.as_str(), request.path.trim_end_matches('/')) {
            ("GET", "") | ("GET", "/index.html") => WebhookOutcome::new(demo_page(host)?),
            ("GET", "/widget.js") => WebhookOutcome::new(
                Response::content("text/javascript; charset=utf-8", WIDGET_JS)
                    .with_header("cache-control", "max-age=300"),
            ),
            ("POST", "/messages") => visitor::receive(host, &request)?,
            ("POST", "/csat") => visitor::rate(host, &request)?,
            ("GET", "/poll") => mailbox::poll(host, &request)?,
            (_, "/messages") | (_, "/poll") | (_, "/csat") | (_, "/widget.js") | (_, "") => {
                return Err(PluginError::Unsupported(format!(
                    "{} is not allowed on {}",
                    request.method, request.path
                )));
            }
            _ => {
                return Err(PluginError::not_found(format!(
                    "web chat has no route {}",
                    request.path
                )));
            }
        };
        Ok(cors.apply(outcome))
    }

    fn send(host: &Host, message: OutboundMessage, recipient: Identity) -> Result<SendReceipt, SendError> {
        mailbox::deliver(host, message, recipient)
    }
}

omni_plugin_sdk::export_channel!(Webchat);

fn demo_page(host: &Host) -> Result<Response, PluginError> {
    let title: String = host.config_or("title", "Chat with us".to_owned())?;
    let greeting: String = host.config_or("greeting", "Hi! How can we help?".to_owned())?;
    let page = DEMO_PAGE
        .replace("{{title}}", &escape_xml(&title))
        .replace("{{greeting}}", &escape_xml(&greeting));
    Ok(Response::content("text/html; charset=utf-8", page))
}

/// Milliseconds since the Unix epoch by the clock the host gives the plugin; 0 when there is none.
fn now_ms() -> i64 {
    omni_plugin_sdk::clock::now_ms().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_what_the_plugin_uses() {
        let manifest = Webchat::manifest();
        assert_eq!(manifest.id, "webchat");
        assert_eq!(manifest.kind, ChannelKind::Webchat);
        assert!(manifest.capabilities.kv);
        assert_eq!(manifest.capabilities.secrets, vec![IDENTITY_SECRET.to_owned()]);
        let schema: serde_json::Value = serde_json::from_str(&manifest.config_schema).unwrap();
        assert_eq!(schema["type"], "object");
    }

    #[test]
    fn demo_page_escapes_config_text() {
        let mock = testing::MockHost::new().with_config("title", serde_json::json!("<b>Acme</b>"));
        let outcome = Webchat::handle_webhook(&mock.host(), Request::get("/")).unwrap();
        let body = String::from_utf8(outcome.response.body).unwrap();
        assert!(body.contains("&lt;b&gt;Acme&lt;/b&gt;"));
        assert!(!body.contains("<b>Acme"));
    }

    #[test]
    fn unknown_routes_and_methods_are_refused() {
        let mock = testing::MockHost::new();
        let err = Webchat::handle_webhook(&mock.host(), Request::get("/nope")).unwrap_err();
        assert_eq!(err.status(), 404);
        let err = Webchat::handle_webhook(&mock.host(), Request::new("DELETE", "/messages")).unwrap_err();
        assert_eq!(err.status(), 405);
    }
}
