//! A template channel connector for a provider that posts signed JSON.
//!
//! The provider sends `POST /inbound` with a body like
//! `{"id": "evt-1", "from": "+14155550100", "text": "hi"}` and the header
//! `x-signature: <hex HMAC-SHA256 of the body under the webhook secret>`.
//! Replace the parsing and the signature scheme with your provider's.

use omni_plugin_sdk::crypto::verify_hmac_sha256_hex;
use omni_plugin_sdk::prelude::*;
use serde::Deserialize;

/// The connector.
pub struct Template;

/// Name of the secret the provider signs webhooks with.
pub const WEBHOOK_SECRET: &str = "webhook_secret";

#[derive(Deserialize)]
struct Inbound {
    id: String,
    from: String,
    text: String,
}

impl Channel for Template {
    fn manifest() -> Manifest {
        Manifest::new("template", "Template SMS", env!("CARGO_PKG_VERSION"), ChannelKind::Sms)
            .with_description("Receives signed JSON webhooks from a provider.")
            .with_secret(WEBHOOK_SECRET)
    }

    fn handle_webhook(host: &Host, request: Request) -> Result<WebhookOutcome, PluginError> {
        if !request.is("POST", "/inbound") {
            return Err(PluginError::not_found(format!(
                "no route {} {}",
                request.method, request.path
            )));
        }
        let secret = host
            .secret(WEBHOOK_SECRET)
            .ok_or_else(|| PluginError::internal("the webhook_secret secret is not configured"))?;
        let signature = request
            .header("x-signature")
            .ok_or_else(|| PluginError::unauthorized("missing x-signature header"))?;
        if !verify_hmac_sha256_hex(secret.as_bytes(), &request.body, signature) {
            return Err(PluginError::unauthorized("x-signature does not match the body"));
        }
        let inbound: Inbound = request.json()?;
        // The provider checked the number it delivered from.
        let sender = Identity::phone(inbound.from).verified();
        let message = InboundMessage::new(inbound.id, sender, inbound.text);
        Ok(WebhookOutcome::new(Response::no_content()).with_event(message))
    }

    fn send(_host: &Host, _message: OutboundMessage, _recipient: Identity) -> Result<SendReceipt, SendError> {
        // Sending needs the outbound HTTP capability of a later contract
        // version; until then this connector only receives.
        Err(SendError::permanent("this connector only receives messages"))
    }
}

omni_plugin_sdk::export_channel!(Template);

#[cfg(test)]
mod tests {
    use super::*;
    use omni_plugin_sdk::crypto::hmac_sha256_hex;

    fn signed(body: &str, secret: &str) -> Request {
        Request::post("/inbound", body)
            .with_header("content-type", "application/json")
            .with_header("x-signature", &hmac_sha256_hex(secret.as_bytes(), body.as_bytes()))
    }

    #[test]
    fn a_signed_webhook_becomes_a_message() {
        let host = testing::MockHost::new().with_secret(WEBHOOK_SECRET, "k");
        let body = r#"{"id":"evt-1","from":"+14155550100","text":"hi"}"#;
        let outcome = Template::handle_webhook(&host.host(), signed(body, "k")).unwrap();
        assert_eq!(outcome.response.status, 204);
        let Event::MessageReceived(message) = &outcome.events[0] else {
            panic!("{outcome:?}")
        };
        assert_eq!(message.external_id, "evt-1");
        assert_eq!(message.sender, Identity::phone("+14155550100").verified());
    }

    #[test]
    fn a_forged_signature_is_refused() {
        let host = testing::MockHost::new().with_secret(WEBHOOK_SECRET, "k");
        let body = r#"{"id":"evt-1","from":"+14155550100","text":"hi"}"#;
        let error = Template::handle_webhook(&host.host(), signed(body, "guess")).unwrap_err();
        assert_eq!(error.status(), 401);
    }
}
