//! Video sessions (`POST /video/status`): Twilio Video's room status
//! callbacks, and its recording and composition callbacks.
//!
//! Each customer participant of a room is one call record, with external id
//! `{RoomSid}:{ParticipantSid}`: a room with two customers gives each their
//! own timeline entry, and the business's agents (config `agent_identities`)
//! give none. The room's customer participants are remembered so that a
//! composition (the room's mixed recording) reaches all their records.

use omni_plugin_sdk::CallDirection;
use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::twilio;

use crate::call::{self, CallState};
use crate::party::{self, Agents, ParticipantIdentity};
use crate::timestamp;

/// Where Twilio Video serves the relative `MediaUri`s of its callbacks.
const VIDEO_API: &str = "https://video.twilio.com";

/// Customer participants remembered per room for compositions; more are reported but not remembered.
const MAX_ROSTER: usize = 50;

/// Handles `POST /video/status`.
pub fn callback(host: &Host, request: &Request) -> Result<WebhookOutcome, PluginError> {
    let form = twilio::verify(host, request)?;
    let event = form.required("StatusCallbackEvent")?;
    let room = form.sid(&["RoomSid"])?;
    match event {
        "participant-connected" | "participant-disconnected" => presence(host, &form, room, event),
        "recording-completed" => track_recording(host, &form, room),
        "composition-available" => composition(host, &form, room),
        other => {
            host.debug(&format!("ignored video event {other:?} for room {room}"));
            Ok(WebhookOutcome::new(Response::no_content()))
        }
    }
}

/// How this instance reads participants.
struct Settings {
    agents: Agents,
    mode: ParticipantIdentity,
    direction: CallDirection,
}

impl Settings {
    fn read(host: &Host) -> Result<Self, PluginError> {
        Ok(Self {
            agents: Agents::read(host)?,
            mode: host.config_or("participant_identity", ParticipantIdentity::Auto)?,
            direction: host.config_or("video_direction", CallDirection::Inbound)?,
        })
    }

    fn identify(&self, state: &mut CallState, identity: &str) {
        if state.party.is_none() {
            state.party = Some(party::participant(identity, self.mode));
            state.direction = Some(self.direction);
        }
    }
}

/// `participant-connected` and `participant-disconnected`.
fn presence(host: &Host, form: &twilio::SignedForm, room: &str, event: &str) -> Result<WebhookOutcome, PluginError> {
    let participant = form.sid(&["ParticipantSid"])?;
    let identity = form.required("ParticipantIdentity")?;
    let settings = Settings::read(host)?;
    if settings.agents.contains(identity) {
        host.debug(&format!(
            "participant {identity} of room {room} is an agent; not recorded"
        ));
        return Ok(WebhookOutcome::new(Response::no_content()));
    }
    let duration_ms = call::seconds_param("ParticipantDuration", form.get("ParticipantDuration"))?;
    let at = form.get("Timestamp").and_then(timestamp::rfc3339_ms);

    let external_id = format!("{room}:{participant}");
    let key = key(&external_id);
    let mut state = CallState::load(host, &key)?;
    settings.identify(&mut state, identity);
    if event == "participant-connected" {
        state.advance("in-progress");
        state.started_at = state.started_at.or(at);
    } else {
        state.advance("completed");
        if duration_ms.is_some() {
            state.duration_ms = duration_ms;
        }
        if state.started_at.is_none() {
            let talk = i64::try_from(duration_ms.unwrap_or(0)).unwrap_or(0);
            state.started_at = at.map(|at| at - talk);
        }
    }
    state.save(host, &key)?;
    remember(host, room, participant)?;
    Ok(call::outcome(Response::no_content(), state.record(&external_id)))
}

/// `recording-completed`: one track of one participant. The audio track's
/// recording is preferred, since a reviewer listens first.
fn track_recording(host: &Host, form: &twilio::SignedForm, room: &str) -> Result<WebhookOutcome, PluginError> {
    let participant = form.sid(&["ParticipantSid"])?;
    let identity = form.get("ParticipantIdentity");
    let settings = Settings::read(host)?;
    if identity.is_some_and(|identity| settings.agents.contains(identity)) {
        return Ok(WebhookOutcome::new(Response::no_content()));
    }
    let url = media_url(form)?;
    let external_id = format!("{room}:{participant}");
    let key = key(&external_id);
    let mut state = CallState::load(host, &key)?;
    if let Some(identity) = identity {
        settings.identify(&mut state, identity);
    }
    let audio = form.get("Type") == Some("audio") || form.get("Container") == Some("mka");
    if state.recording_url.is_none() || audio {
        state.recording_url = Some(url);
    }
    state.save(host, &key)?;
    Ok(call::outcome(Response::no_content(), state.record(&external_id)))
}

/// `composition-available`: the room's mixed recording, for every customer in it.
fn composition(host: &Host, form: &twilio::SignedForm, room: &str) -> Result<WebhookOutcome, PluginError> {
    let url = media_url(form)?;
    let roster: Vec<String> = host.kv_get_json(&roster_key(room))?.unwrap_or_default();
    let mut outcome = WebhookOutcome::new(Response::no_content());
    for participant in roster {
        let external_id = format!("{room}:{participant}");
        let key = key(&external_id);
        let mut state = CallState::load(host, &key)?;
        state.recording_url = Some(url.clone());
        state.save(host, &key)?;
        if let Some(record) = state.record(&external_id) {
            outcome = outcome.with_event(record);
        }
    }
    Ok(outcome)
}

/// The media of a recording or composition: external storage when the
/// account uses it, else Twilio's `MediaUri` (relative to the Video API).
fn media_url(form: &twilio::SignedForm) -> Result<String, PluginError> {
    if let Some(external) = form.get("MediaExternalLocation") {
        return Ok(external.to_owned());
    }
    let uri = form.required("MediaUri")?;
    Ok(if uri.starts_with("https://") || uri.starts_with("http://") {
        uri.to_owned()
    } else {
        format!("{VIDEO_API}/{}", uri.trim_start_matches('/'))
    })
}

/// Adds a customer participant to the room's roster.
fn remember(host: &Host, room: &str, participant: &str) -> Result<(), PluginError> {
    let key = roster_key(room);
    let mut roster: Vec<String> = host.kv_get_json(&key)?.unwrap_or_default();
    if roster.iter().any(|p| p == participant) {
        return Ok(());
    }
    if roster.len() >= MAX_ROSTER {
        host.debug(&format!(
            "room {room} has over {MAX_ROSTER} customers; {participant} is not remembered"
        ));
        return Ok(());
    }
    roster.push(participant.to_owned());
    Ok(host.kv_set_json(&key, &roster)?)
}

fn key(external_id: &str) -> String {
    format!("video/{external_id}")
}

fn roster_key(room: &str) -> String {
    format!("room/{room}")
}
