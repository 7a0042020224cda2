//! Phone calls: Twilio's incoming-call webhook, call status, recording and
//! transcription callbacks, with the documented parameters in `fixtures/`.

mod common;

use common::{host, record, signed, signed_with, unsigned};
use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::{CallDirection, CallRecord, LogLevel};
use omni_voice::Voice;
use serde_json::json;

const INCOMING: &str = include_str!("../fixtures/incoming-call.form");
const COMPLETED: &str = include_str!("../fixtures/call-status-completed.form");
const OUTBOUND_ANSWERED: &str = include_str!("../fixtures/call-status-outbound-answered.form");
const RECORDING: &str = include_str!("../fixtures/recording-completed.form");
const TRANSCRIPTION: &str = include_str!("../fixtures/transcription-completed.form");

const CALL: &str = "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const RECORDING_URL: &str = "https://api.twilio.com/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Recordings/REaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const VOICEMAIL_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>\
    <Say>Thank you for calling. Please leave a message after the tone.</Say>\
    <Record maxLength=\"120\" transcribe=\"true\" \
    transcribeCallback=\"https://omni.example.com/hooks/voice/voice/transcription\" \
    recordingStatusCallback=\"https://omni.example.com/hooks/voice/voice/recording\"/></Response>";

fn ringing() -> CallRecord {
    CallRecord {
        external_id: CALL.into(),
        party: Identity::phone("+14155550100").verified(),
        direction: CallDirection::Inbound,
        status: "ringing".into(),
        started_at: None,
        duration_ms: None,
        recording_url: None,
        transcript: None,
    }
}

fn post(mock: &testing::MockHost, path: &str, body: &str) -> WebhookOutcome {
    Voice::handle_webhook(&mock.host(), signed(path, body)).unwrap()
}

#[test]
fn an_incoming_call_is_answered_with_voicemail_twiml_and_recorded_as_ringing() {
    let mock = host();
    let outcome = post(&mock, "/voice/incoming", INCOMING);
    assert_eq!(outcome.response.status, 200);
    assert_eq!(outcome.response.header("content-type"), Some("text/xml"));
    assert_eq!(
        String::from_utf8(outcome.response.body.clone()).unwrap(),
        VOICEMAIL_TWIML
    );
    assert_eq!(record(&outcome), ringing());
    assert!(mock.kv().contains_key(&format!("call/{CALL}")));
}

#[test]
fn an_incoming_call_is_forwarded_when_configured() {
    let mock = host()
        .with_config("forward_to", json!("+14155550199"))
        .with_config("greeting", json!("Connecting you to Acme support."));
    let outcome = post(&mock, "/voice/incoming", INCOMING);
    assert_eq!(
        String::from_utf8(outcome.response.body.clone()).unwrap(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Connecting you to Acme support.</Say>\
         <Dial><Number>+14155550199</Number></Dial></Response>"
    );
    assert_eq!(record(&outcome), ringing());

    // The forwarded leg Twilio dials reaches the business's own phone: no customer record.
    let leg = COMPLETED
        .replace("CAaaaa", "CAcccc")
        .replace("Direction=inbound", "Direction=outbound-dial")
        .replace("To=%2B14155552345", "To=%2B14155550199");
    assert!(post(&mock, "/voice/status", &leg).events.is_empty());
}

#[test]
fn every_callback_reports_the_whole_call_so_far() {
    let mock = host();
    post(&mock, "/voice/incoming", INCOMING);

    let completed = record(&post(&mock, "/voice/status", COMPLETED));
    let mut expected = CallRecord {
        status: "completed".into(),
        // Timestamp (21:17:22) less the 64 s the call lasted.
        started_at: Some(1_438_722_978_000),
        duration_ms: Some(64_000),
        ..ringing()
    };
    assert_eq!(completed, expected);

    let recorded = record(&post(&mock, "/voice/recording", RECORDING));
    expected.recording_url = Some(RECORDING_URL.into());
    assert_eq!(recorded, expected);

    let transcribed = record(&post(&mock, "/voice/transcription", TRANSCRIPTION));
    expected.transcript = Some("Hi, this is Ann. My order 42 has not arrived yet, please call me back.".into());
    assert_eq!(transcribed, expected);

    // A late or repeated ringing webhook does not move the call backwards.
    assert_eq!(record(&post(&mock, "/voice/incoming", INCOMING)), expected);
}

#[test]
fn a_twilio_retry_gives_the_same_record() {
    let mock = host();
    let first = post(&mock, "/voice/status", COMPLETED);
    let retry = Voice::handle_webhook(
        &mock.host(),
        signed("/voice/status", COMPLETED).with_header("i-twilio-idempotency-token", "retry-1"),
    )
    .unwrap();
    assert_eq!(first.events, retry.events);
    assert_eq!(record(&retry).external_id, CALL);
}

#[test]
fn a_recording_before_any_call_details_waits_for_them() {
    let mock = host();
    let early = post(&mock, "/voice/recording", RECORDING);
    assert_eq!(early.response.status, 204);
    assert!(early.events.is_empty());
    let completed = record(&post(&mock, "/voice/status", COMPLETED));
    assert_eq!(completed.recording_url.as_deref(), Some(RECORDING_URL));
    assert_eq!(completed.party, Identity::phone("+14155550100").verified());
}

#[test]
fn an_outbound_call_is_with_the_number_dialled() {
    let mock = host();
    let answered = record(&post(&mock, "/voice/status", OUTBOUND_ANSWERED));
    assert_eq!(
        answered,
        CallRecord {
            external_id: "CAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb".into(),
            party: Identity::phone("+14155550100").verified(),
            direction: CallDirection::Outbound,
            status: "in-progress".into(),
            started_at: Some(1_438_767_005_000),
            duration_ms: None,
            recording_url: None,
            transcript: None,
        }
    );
}

#[test]
fn withheld_and_spoofed_caller_ids_are_not_verified() {
    let mock = host();
    let anonymous = INCOMING.replace("%2B14155550100", "%2B266696687");
    assert_eq!(
        record(&post(&mock, "/voice/incoming", &anonymous)).party,
        Identity::channel_user(format!("withheld-caller-id/{CALL}"))
    );

    let mock = host();
    let spoofed = INCOMING.replace("TN-Validation-Passed-A", "TN-Validation-Failed-A");
    assert_eq!(
        record(&post(&mock, "/voice/incoming", &spoofed)).party,
        Identity::phone("+14155550100")
    );
}

#[test]
fn calls_from_agents_are_not_customer_records() {
    let mock = host().with_config("agent_identities", json!(["client:alice"]));
    let from_agent = INCOMING.replace("From=%2B14155550100", "From=client%3Aalice");
    let outcome = post(&mock, "/voice/incoming", &from_agent);
    assert_eq!(outcome.response.status, 200);
    assert!(outcome.events.is_empty());
    // Later callbacks of the same call stay silent too.
    assert!(post(&mock, "/voice/status", COMPLETED).events.is_empty());
}

#[test]
fn the_record_verb_posting_back_gets_a_hangup() {
    let mock = host();
    let posted_back =
        format!("{INCOMING}&RecordingUrl=https%3A%2F%2Fapi.twilio.com%2Fr&RecordingDuration=12&Digits=hangup");
    let outcome = post(&mock, "/voice/incoming", &posted_back);
    assert_eq!(
        String::from_utf8(outcome.response.body).unwrap(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Hangup/></Response>"
    );
    assert!(outcome.events.is_empty());
}

#[test]
fn forged_and_unsigned_callbacks_are_refused_with_401_and_no_state() {
    let mock = host();
    for path in [
        "/voice/incoming",
        "/voice/status",
        "/voice/recording",
        "/voice/transcription",
    ] {
        let forged = signed_with("guessed-token", path, COMPLETED);
        assert_eq!(
            Voice::handle_webhook(&mock.host(), forged).unwrap_err().status(),
            401,
            "{path}"
        );
        let bare = unsigned(path, COMPLETED);
        assert_eq!(
            Voice::handle_webhook(&mock.host(), bare).unwrap_err().status(),
            401,
            "{path}"
        );
    }
    assert!(mock.kv().is_empty());
    assert!(mock.logs().iter().any(|(level, _)| *level == LogLevel::Warn));

    let other_account = COMPLETED.replace("ACaaaa", "ACbbbb");
    let err = Voice::handle_webhook(&mock.host(), signed("/voice/status", &other_account)).unwrap_err();
    assert_eq!(err.status(), 403);
}

#[test]
fn malformed_callbacks_are_refused_with_400_or_415() {
    let mock = host();
    let cases = [
        ("/voice/status", COMPLETED.replace("CallSid=", "Sid="), "CallSid"),
        (
            "/voice/status",
            COMPLETED.replace("CallStatus=completed&", ""),
            "CallStatus",
        ),
        (
            "/voice/status",
            COMPLETED.replace("CallDuration=64", "CallDuration=long"),
            "CallDuration",
        ),
        ("/voice/incoming", INCOMING.replace("&From=", "&Sender="), "From"),
        (
            "/voice/recording",
            RECORDING.replace("RecordingUrl=", "Url="),
            "RecordingUrl",
        ),
        (
            "/voice/transcription",
            TRANSCRIPTION.replace("TranscriptionStatus=", "Status="),
            "TranscriptionStatus",
        ),
    ];
    for (path, body, needle) in cases {
        let err = Voice::handle_webhook(&mock.host(), signed(path, &body)).unwrap_err();
        assert_eq!(err.status(), 400, "{path} {needle}");
        assert!(err.message().contains(needle), "{needle}: {err}");
    }
    let mut json = signed("/voice/status", COMPLETED);
    json.headers.retain(|h| h.name != "content-type");
    let json = json.with_header("content-type", "application/json");
    assert_eq!(Voice::handle_webhook(&mock.host(), json).unwrap_err().status(), 415);
}

#[test]
fn unknown_statuses_and_unfinished_media_are_accepted_and_ignored() {
    let mock = host();
    let unknown = COMPLETED.replace("CallStatus=completed", "CallStatus=transferred");
    let outcome = post(&mock, "/voice/status", &unknown);
    assert_eq!(outcome.response.status, 204);
    assert!(outcome.events.is_empty());

    post(&mock, "/voice/incoming", INCOMING);
    let absent = RECORDING.replace("RecordingStatus=completed", "RecordingStatus=absent");
    assert!(post(&mock, "/voice/recording", &absent).events.is_empty());
    let failed = TRANSCRIPTION.replace("TranscriptionStatus=completed", "TranscriptionStatus=failed");
    assert!(post(&mock, "/voice/transcription", &failed).events.is_empty());
}
