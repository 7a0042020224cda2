//! Call progress (`POST /voice/status`): Twilio's call status callbacks.

use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::twilio;

use crate::call::{self, CallState};
use crate::{party, timestamp};

/// Handles `POST /voice/status`.
pub fn callback(host: &Host, request: &Request) -> Result<WebhookOutcome, PluginError> {
    let form = twilio::verify(host, request)?;
    let call_sid = form.sid(&["CallSid"])?;
    let status = form.required("CallStatus")?;
    if call::rank(status).is_none() {
        host.debug(&format!("ignored call status {status:?} for {call_sid}"));
        return Ok(WebhookOutcome::new(Response::no_content()));
    }
    let duration_ms = call::seconds_param("CallDuration", form.get("CallDuration"))?;

    let key = key(call_sid);
    let mut state = CallState::load(host, &key)?;
    party::identify(host, &form, &mut state, call_sid)?;
    state.advance(status);
    if duration_ms.is_some() {
        state.duration_ms = duration_ms;
    }
    if state.started_at.is_none() {
        // `Timestamp` is when this event fired: the start for an early event,
        // the end (less the talk time) for a final one.
        let at = form.get("Timestamp").and_then(timestamp::rfc2822_ms);
        let talk = if call::is_final(status) {
            duration_ms.unwrap_or(0)
        } else {
            0
        };
        state.started_at = at.map(|at| at - i64::try_from(talk).unwrap_or(0));
    }
    // Present when the REST API started the call with `Record=true`.
    if let Some(url) = form.get("RecordingUrl") {
        state.recording_url.get_or_insert_with(|| url.to_owned());
    }
    state.save(host, &key)?;
    Ok(call::outcome(Response::no_content(), state.record(call_sid)))
}

/// The key-value key of a call's state.
pub fn key(call_sid: &str) -> String {
    format!("call/{call_sid}")
}
