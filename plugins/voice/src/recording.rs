//! Recordings and transcriptions of calls (`POST /voice/recording`,
//! `POST /voice/transcription`): Twilio's `recordingStatusCallback` and
//! `transcribeCallback`. The audio stays at Twilio; the record keeps its URL.

use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::twilio;

use crate::call::{self, CallState};
use crate::{party, status};

/// Handles `POST /voice/recording`.
pub fn recording(host: &Host, request: &Request) -> Result<WebhookOutcome, PluginError> {
    let form = twilio::verify(host, request)?;
    let call_sid = form.sid(&["CallSid"])?;
    // `in-progress` and `absent` (nothing recorded) say nothing worth keeping.
    let recording_status = form.get("RecordingStatus").unwrap_or("completed");
    if recording_status != "completed" {
        host.debug(&format!("ignored recording status {recording_status:?} for {call_sid}"));
        return Ok(WebhookOutcome::new(Response::no_content()));
    }
    let url = form.required("RecordingUrl")?;

    let key = status::key(call_sid);
    let mut state = CallState::load(host, &key)?;
    party::identify(host, &form, &mut state, call_sid)?;
    state.recording_url = Some(url.to_owned());
    state.save(host, &key)?;
    // Before any callback told who the call is with, the URL waits in the
    // state for the record that a later status callback reports.
    Ok(call::outcome(Response::no_content(), state.record(call_sid)))
}

/// Handles `POST /voice/transcription`.
pub fn transcription(host: &Host, request: &Request) -> Result<WebhookOutcome, PluginError> {
    let form = twilio::verify(host, request)?;
    let call_sid = form.sid(&["CallSid"])?;
    let transcription_status = form.required("TranscriptionStatus")?;
    let text = form.get("TranscriptionText").map(str::trim).unwrap_or("");
    if transcription_status != "completed" || text.is_empty() {
        host.debug(&format!(
            "ignored transcription {transcription_status:?} without text for {call_sid}"
        ));
        return Ok(WebhookOutcome::new(Response::no_content()));
    }

    let key = status::key(call_sid);
    let mut state = CallState::load(host, &key)?;
    // Transcription callbacks also carry the call's own parameters.
    party::identify(host, &form, &mut state, call_sid)?;
    if let Some(call_status) = form.get("CallStatus") {
        state.advance(call_status);
    }
    state.set_transcript(text);
    if let Some(url) = form.get("RecordingUrl") {
        state.recording_url.get_or_insert_with(|| url.to_owned());
    }
    state.save(host, &key)?;
    Ok(call::outcome(Response::no_content(), state.record(call_sid)))
}
