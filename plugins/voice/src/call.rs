//! What the plugin knows about one call or one video participant, kept in the
//! key-value store between callbacks.
//!
//! Twilio reports a call in pieces: status callbacks, then a recording, then
//! a transcription, each in its own request and some without the caller's
//! number. The host replaces a call record's details with each new event, so
//! every event carries the whole record as known so far.

use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::{CallDirection, CallRecord};
use serde::{Deserialize, Serialize};

/// Longest transcript kept, in bytes; the host refuses texts over its limit (64 KiB by default).
const MAX_TRANSCRIPT_BYTES: usize = 32 * 1024;

/// The stored state of one call or video participant.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallState {
    /// The customer on the call, once a request told who it is.
    pub party: Option<Identity>,
    /// Who called whom, known with the party.
    pub direction: Option<CallDirection>,
    /// The furthest status seen (see [`rank`]).
    pub status: Option<String>,
    /// Start, ms since the Unix epoch.
    pub started_at: Option<i64>,
    /// Duration in ms, once the call ended.
    pub duration_ms: Option<u64>,
    /// Where Twilio serves the recording.
    pub recording_url: Option<String>,
    /// Twilio's transcription of the recording.
    pub transcript: Option<String>,
    /// The customer side is one of the business's agents: never reported.
    #[serde(default)]
    pub agent: bool,
}

impl CallState {
    /// The state stored under `key`, or an empty one.
    pub fn load(host: &Host, key: &str) -> Result<Self, PluginError> {
        Ok(host.kv_get_json(key)?.unwrap_or_default())
    }

    /// Stores the state under `key`.
    pub fn save(&self, host: &Host, key: &str) -> Result<(), PluginError> {
        Ok(host.kv_set_json(key, self)?)
    }

    /// Moves to `status` unless the call is already further along: callbacks
    /// are separate requests and may arrive out of order.
    pub fn advance(&mut self, status: &str) {
        let current = self.status.as_deref().and_then(rank).unwrap_or(0);
        if rank(status).is_some_and(|new| new >= current) {
            self.status = Some(status.to_owned());
        }
    }

    /// Keeps a transcript, cut to a size the host accepts.
    pub fn set_transcript(&mut self, text: &str) {
        let mut end = text.len().min(MAX_TRANSCRIPT_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.transcript = Some(text[..end].to_owned());
    }

    /// The record to report, once the party and a status are known.
    pub fn record(&self, external_id: &str) -> Option<CallRecord> {
        if self.agent {
            return None;
        }
        Some(CallRecord {
            external_id: external_id.to_owned(),
            party: self.party.clone()?,
            direction: self.direction?,
            status: self.status.clone()?,
            started_at: self.started_at,
            duration_ms: self.duration_ms,
            recording_url: self.recording_url.clone(),
            transcript: self.transcript.clone(),
        })
    }
}

/// How far along a status is; `None` for a status the plugin does not know.
pub fn rank(status: &str) -> Option<u8> {
    Some(match status {
        "queued" => 1,
        "initiated" => 2,
        "ringing" => 3,
        "in-progress" => 4,
        "completed" | "busy" | "failed" | "no-answer" | "canceled" => 5,
        _ => return None,
    })
}

/// Whether a status ends the call.
pub fn is_final(status: &str) -> bool {
    rank(status) == Some(5)
}

/// A webhook answer reporting `record`, if there is one to report.
pub fn outcome(response: Response, record: Option<CallRecord>) -> WebhookOutcome {
    let outcome = WebhookOutcome::new(response);
    match record {
        Some(record) => outcome.with_event(record),
        None => outcome,
    }
}

/// A duration parameter in whole seconds, as ms; `bad-request` when it is not a number.
pub fn seconds_param(name: &str, value: Option<&str>) -> Result<Option<u64>, PluginError> {
    value
        .map(|raw| {
            raw.trim()
                .parse::<u64>()
                .map(|seconds| seconds.saturating_mul(1000))
                .map_err(|_| PluginError::bad_request(format!("`{name}` must be whole seconds, got {raw:?}")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_never_move_backwards() {
        let mut state = CallState::default();
        state.advance("ringing");
        state.advance("completed");
        state.advance("in-progress");
        assert_eq!(state.status.as_deref(), Some("completed"));
        state.advance("something-new");
        assert_eq!(state.status.as_deref(), Some("completed"));
        assert!(is_final("no-answer") && !is_final("ringing"));
    }

    #[test]
    fn a_record_needs_a_party_and_a_status_and_no_agent() {
        let mut state = CallState::default();
        state.advance("ringing");
        assert_eq!(state.record("CA1"), None);
        state.party = Some(Identity::phone("+14155550100").verified());
        state.direction = Some(CallDirection::Inbound);
        assert_eq!(state.record("CA1").map(|r| r.status), Some("ringing".to_owned()));
        state.agent = true;
        assert_eq!(state.record("CA1"), None);
    }

    #[test]
    fn transcripts_are_cut_on_a_character_boundary() {
        let mut state = CallState::default();
        state.set_transcript(&"é".repeat(MAX_TRANSCRIPT_BYTES));
        let kept = state.transcript.unwrap();
        assert_eq!(kept.len(), MAX_TRANSCRIPT_BYTES);
        assert!(kept.chars().all(|c| c == 'é'));
    }

    #[test]
    fn durations_are_whole_seconds() {
        assert_eq!(seconds_param("CallDuration", Some("42")).unwrap(), Some(42_000));
        assert_eq!(seconds_param("CallDuration", None).unwrap(), None);
        assert_eq!(seconds_param("CallDuration", Some("4.2")).unwrap_err().status(), 400);
    }
}
