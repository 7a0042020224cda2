//! Omni's voice and video connector for Twilio-style call and room callbacks.
//!
//! Calls and video sessions become call records on the person's timeline; no
//! media passes through the plugin, only the URLs where Twilio keeps it.
//! Every route takes Twilio's form-encoded webhooks, checked by [`omni_plugin_sdk::twilio`]
//! (`X-Twilio-Signature` over config `public_url` + path):
//!
//! - `/voice/incoming` ([`incoming`]): the business's number rings; the caller
//!   is answered with TwiML from config ([`twiml`]: forward or voicemail).
//! - `/voice/status` ([`status`]): call progress, duration and outcome.
//! - `/voice/recording` and `/voice/transcription` ([`recording`]).
//! - `/video/status` ([`video`]): participants joining and leaving rooms,
//!   track recordings and compositions.
//!
//! Twilio reports one call in several requests, not all of which name the
//! caller, so [`call`] keeps each call's state in the key-value store and
//! every event carries the whole record. [`party`] decides who the customer
//! is: the caller's or callee's number, verified because Twilio signs it,
//! or the video participant's identity from the business's access token.
//! The business's own agents are never recorded as customers.

#![warn(missing_docs)]

pub mod call;
pub mod incoming;
pub mod party;
pub mod recording;
pub mod status;
pub mod timestamp;
pub mod twiml;
pub mod video;

use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::twilio;

/// The voice and video connector.
pub struct Voice;

/// The routes Twilio posts to.
const ROUTES: [&str; 5] = [
    "/voice/incoming",
    "/voice/status",
    "/voice/recording",
    "/voice/transcription",
    "/video/status",
];

impl Channel for Voice {
    fn manifest() -> Manifest {
        // One plugin for calls and video rooms: both are call records, and a
        // Twilio account signs both kinds of callback with the same token.
        Manifest::new(
            "voice",
            "Voice and video (Twilio)",
            env!("CARGO_PKG_VERSION"),
            ChannelKind::Voice,
        )
        .with_description(
            "Phone calls and video sessions from Twilio's signed voice status, recording, transcription and \
                 video room callbacks, as call records on the person's timeline; answers incoming calls with \
                 forwarding or voicemail TwiML.",
        )
        .with_secret(twilio::AUTH_TOKEN)
        .with_kv()
        .with_config_schema(config_schema())
    }

    fn handle_webhook(host: &Host, request: Request) -> Result<WebhookOutcome, PluginError> {
        let path = request.path.trim_end_matches('/');
        match (request.method.as_str(), path) {
            ("POST", "/voice/incoming") => incoming::answer(host, &request),
            ("POST", "/voice/status") => status::callback(host, &request),
            ("POST", "/voice/recording") => recording::recording(host, &request),
            ("POST", "/voice/transcription") => recording::transcription(host, &request),
            ("POST", "/video/status") => video::callback(host, &request),
            (_, path) if ROUTES.contains(&path) => Err(PluginError::Unsupported(format!(
                "{} is not allowed on {}; configure Twilio to use HTTP POST",
                request.method, request.path
            ))),
            _ => Err(PluginError::not_found(format!(
                "the voice connector has no route {}",
                request.path
            ))),
        }
    }

    fn send(_host: &Host, _message: OutboundMessage, _recipient: Identity) -> Result<SendReceipt, SendError> {
        Err(SendError::permanent(
            "the voice connector cannot deliver text messages; reply on another channel",
        ))
    }
}

omni_plugin_sdk::export_channel!(Voice);

/// JSON Schema of the instance's `config` table.
fn config_schema() -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "required": ["public_url"],
        "properties": {
            "public_url": {
                "type": "string",
                "pattern": "^https?://",
                "description": "The URL Twilio calls for this instance, without the route, e.g. \
                                https://omni.example.com/hooks/voice; signatures are checked against it."
            },
            "account_sid": {
                "type": "string",
                "pattern": "^[A-Za-z0-9-]{1,64}$",
                "description": "Twilio Account SID (AC…), or a Twilio-compatible provider's account id; when set, \
                                callbacks for another account are refused with 403."
            },
            "greeting": {
                "type": "string",
                "minLength": 1,
                "maxLength": 1000,
                "description": "Spoken to callers first; without `forward_to` it precedes the voicemail beep."
            },
            "forward_to": {
                "type": "string",
                "minLength": 1,
                "description": "Connect incoming calls here (E.164 number, client:name or sip: URI) instead of \
                                taking a voicemail; it counts as an agent address."
            },
            "record_calls": {
                "type": "boolean",
                "description": "Record forwarded calls (both sides, from answer); default false."
            },
            "transcribe": {
                "type": "boolean",
                "description": "Have Twilio transcribe voicemails (a paid Twilio feature); default true."
            },
            "agent_identities": {
                "type": "array",
                "items": { "type": "string", "minLength": 1 },
                "description": "The business's own people: video participant identities and call addresses \
                                (phone numbers, client:name) that are never recorded as customers."
            },
            "participant_identity": {
                "enum": ["auto", "external-id", "channel-user"],
                "description": "How a video participant's identity maps to a person: auto (email when it looks \
                                like one, else channel user), external-id (your customer id) or channel-user."
            },
            "video_direction": {
                "enum": ["inbound", "outbound"],
                "description": "Direction of video sessions on the timeline; default inbound (the customer came)."
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_what_the_plugin_uses() {
        let manifest = Voice::manifest();
        assert_eq!(manifest.id, "voice");
        assert_eq!(manifest.kind, ChannelKind::Voice);
        assert!(manifest.capabilities.kv);
        assert_eq!(manifest.capabilities.secrets, vec!["auth_token"]);
        assert!(manifest.capabilities.outbound_hosts.is_empty());
        testing::documented_config_schema(&manifest);
    }

    #[test]
    fn text_messages_are_refused_permanently() {
        let mock = testing::MockHost::new();
        let err = Voice::send(
            &mock.host(),
            OutboundMessage::text("m", "c", "hi"),
            Identity::phone("+14155550100"),
        )
        .unwrap_err();
        assert_eq!(
            err,
            SendError::permanent("the voice connector cannot deliver text messages; reply on another channel")
        );
        assert!(mock.requests().is_empty());
    }

    #[test]
    fn unknown_routes_and_methods_are_refused() {
        let mock = testing::MockHost::new();
        let get = Voice::handle_webhook(&mock.host(), Request::get("/voice/status")).unwrap_err();
        assert_eq!(get.status(), 405);
        let nope = Voice::handle_webhook(&mock.host(), Request::post("/voice/nope", "")).unwrap_err();
        assert_eq!(nope.status(), 404);
    }
}
