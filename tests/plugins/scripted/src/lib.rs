//! A test plugin of the email kind: `POST /events` with `{"events": [...]}`
//! (the SDK's JSON form of events) makes it emit exactly those events, so
//! scenario tests can play any channel traffic through the real host.
//! `send` accepts every reply and remembers it under `sent/<recipient>`.

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;

/// The scripted plugin.
pub struct Scripted;

#[derive(Deserialize)]
struct Script {
    events: Vec<Event>,
}

impl Channel for Scripted {
    fn manifest() -> Manifest {
        Manifest::new("scripted-email", "Scripted email (tests)", "0.1.0", ChannelKind::Email)
            .with_description("Emits the events a test posts to /events.")
            .with_kv()
            .with_config_schema(serde_json::json!({"type": "object", "additionalProperties": false}))
    }

    fn handle_webhook(host: &Host, request: Request) -> Result<WebhookOutcome, PluginError> {
        match (request.method.as_str(), request.path.as_str()) {
            ("POST", "/events") => {
                let script: Script = request.json()?;
                let mut outcome = WebhookOutcome::new(Response::no_content());
                outcome.events = script.events;
                Ok(outcome)
            }
            ("GET", "/sent") => {
                let to = request
                    .query_param("to")
                    .ok_or_else(|| PluginError::bad_request("`to` is required"))?;
                let sent: Vec<String> = host.kv_get_json(&format!("sent/{to}"))?.unwrap_or_default();
                Ok(WebhookOutcome::new(Response::json(200, &sent)))
            }
            _ => Err(PluginError::not_found(format!(
                "no route {} {}",
                request.method, request.path
            ))),
        }
    }

    fn send(host: &Host, message: OutboundMessage, recipient: Identity) -> Result<SendReceipt, SendError> {
        let key = format!("sent/{}", recipient.value);
        let mut sent: Vec<String> = host
            .kv_get_json(&key)
            .map_err(|e| SendError::retryable(e.to_string()))?
            .unwrap_or_default();
        if !sent.contains(&message.text) {
            sent.push(message.text.clone());
        }
        host.kv_set_json(&key, &sent)
            .map_err(|e| SendError::retryable(e.to_string()))?;
        Ok(SendReceipt::sent(format!("scripted-{}", message.id)))
    }
}

omni_plugin_sdk::export_channel!(Scripted);
