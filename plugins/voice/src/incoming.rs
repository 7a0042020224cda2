//! Incoming calls (`POST /voice/incoming`): Twilio's voice webhook of the
//! business's number, answered with TwiML and reported as a ringing call.

use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::twilio;

use crate::call::{self, CallState};
use crate::twiml::{self, Answer};
use crate::{party, status};

/// Handles `POST /voice/incoming`.
pub fn answer(host: &Host, request: &Request) -> Result<WebhookOutcome, PluginError> {
    let form = twilio::verify(host, request)?;
    let call_sid = form.sid(&["CallSid"])?;
    form.required("From")?;
    if form.get("RecordingUrl").is_some() {
        // The `<Record>` verb posting the finished message back here: the
        // caller is done. The recording callback reports the recording.
        return Ok(WebhookOutcome::new(twiml::response(twiml::document("<Hangup/>"))));
    }
    let document = Answer::read(host)?.twiml(&twilio::public_url(host)?);

    let key = status::key(call_sid);
    let mut state = CallState::load(host, &key)?;
    party::identify(host, &form, &mut state, call_sid)?;
    state.advance(form.get("CallStatus").unwrap_or("ringing"));
    state.save(host, &key)?;
    Ok(call::outcome(twiml::response(document), state.record(call_sid)))
}
