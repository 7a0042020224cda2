//! A channel plugin frozen at the first contract, `omni:plugin@0.1.0`.
//!
//! It is built with bare wit-bindgen against `wit/` (a copy of the contract
//! as 0.1.0 shipped), not with the SDK, which follows the newest contract.
//! The host's tests load it and run the conformance kit on it, so a minor
//! version of the contract that breaks plugins built against an older one
//! fails CI. Its webhook takes `{"id", "from", "text"}` as JSON.

wit_bindgen::generate!({
    world: "channel",
    path: "wit",
});

use exports::omni::plugin::connector::Guest;
use omni::plugin::types::{
    Capabilities, ChannelKind, Event, Header, HttpRequest, HttpResponse, Identity, IdentityKind, InboundMessage,
    OutboundMessage, PluginError, PluginManifest, PollBatch, SendError, SendReceipt, WebhookOutcome,
};

struct Legacy;

fn field<'a>(body: &'a serde_json::Value, name: &str) -> Result<&'a str, PluginError> {
    body.get(name)
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| PluginError::BadRequest(format!("`{name}` must be a non-empty string")))
}

impl Guest for Legacy {
    fn manifest() -> PluginManifest {
        PluginManifest {
            id: "legacy".into(),
            name: "Legacy test plugin".into(),
            version: "0.1.0".into(),
            description: "Built against omni:plugin@0.1.0; newer hosts must keep loading it.".into(),
            kind: ChannelKind::Other,
            capabilities: Capabilities {
                secrets: Vec::new(),
                kv: false,
                outbound_hosts: Vec::new(),
                poll_interval_ms: None,
            },
            config_schema: serde_json::json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "greeting": {"type": "string", "description": "Text of the webhook's answer."}
                }
            })
            .to_string(),
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<WebhookOutcome, PluginError> {
        if request.method != "POST" {
            return Err(PluginError::Unsupported(format!(
                "{} is not accepted; POST JSON",
                request.method
            )));
        }
        let body: serde_json::Value =
            serde_json::from_slice(&request.body).map_err(|e| PluginError::BadRequest(format!("not JSON: {e}")))?;
        let message = InboundMessage {
            external_id: field(&body, "id")?.to_owned(),
            sender: Identity {
                kind: IdentityKind::ChannelUser,
                value: field(&body, "from")?.to_owned(),
                verified: false,
            },
            claims: Vec::new(),
            display_name: None,
            text: field(&body, "text")?.to_owned(),
            attachments: Vec::new(),
            thread_id: None,
            reply_to: None,
            references: Vec::new(),
            sent_at: None,
        };
        let greeting = omni::plugin::host::config_get("greeting")
            .and_then(|v| serde_json::from_str::<String>(&v).ok())
            .unwrap_or_else(|| "ok".to_owned());
        Ok(WebhookOutcome {
            response: HttpResponse {
                status: 200,
                headers: vec![Header {
                    name: "content-type".into(),
                    value: "text/plain".into(),
                }],
                body: greeting.into_bytes(),
            },
            events: vec![Event::MessageReceived(message)],
        })
    }

    fn send(_message: OutboundMessage, _recipient: Identity) -> Result<SendReceipt, SendError> {
        Err(SendError::Permanent("this test plugin only receives".into()))
    }

    fn poll(_cursor: Option<String>) -> Result<PollBatch, PluginError> {
        Err(PluginError::Unsupported("no polling".into()))
    }
}

export!(Legacy);
