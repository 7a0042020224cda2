//! Video sessions: Twilio Video's room, recording and composition status
//! callbacks, with the documented parameters in `fixtures/`.

mod common;

use common::{host, record, records, signed, signed_with, unsigned};
use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::{CallDirection, CallRecord};
use omni_voice::Voice;
use serde_json::json;

const ROOM_CREATED: &str = include_str!("../fixtures/room-created.form");
const CONNECTED: &str = include_str!("../fixtures/participant-connected.form");
const AGENT_CONNECTED: &str = include_str!("../fixtures/participant-connected-agent.form");
const TRACK_ADDED: &str = include_str!("../fixtures/track-added.form");
const TRACK_RECORDED: &str = include_str!("../fixtures/recording-completed-video.form");
const DISCONNECTED: &str = include_str!("../fixtures/participant-disconnected.form");
const ROOM_ENDED: &str = include_str!("../fixtures/room-ended.form");
const COMPOSITION: &str = include_str!("../fixtures/composition-available.form");

const ANN: &str = "RMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:PAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn post(mock: &testing::MockHost, body: &str) -> WebhookOutcome {
    Voice::handle_webhook(&mock.host(), signed("/video/status", body)).unwrap()
}

fn joined() -> CallRecord {
    CallRecord {
        external_id: ANN.into(),
        party: Identity::email("ann@example.com").verified(),
        direction: CallDirection::Inbound,
        status: "in-progress".into(),
        started_at: Some(1_772_463_612_500),
        duration_ms: None,
        recording_url: None,
        transcript: None,
    }
}

fn agents() -> testing::MockHost {
    host().with_config("agent_identities", json!(["agent-bob"]))
}

#[test]
fn a_room_session_is_one_record_per_customer() {
    let mock = agents();
    assert!(post(&mock, ROOM_CREATED).events.is_empty());
    let connected = post(&mock, CONNECTED);
    assert_eq!(connected.response.status, 204);
    assert_eq!(record(&connected), joined());
    // The business's own agent joining is not a customer's call.
    assert!(post(&mock, AGENT_CONNECTED).events.is_empty());
    assert!(post(&mock, TRACK_ADDED).events.is_empty());

    let left = record(&post(&mock, DISCONNECTED));
    assert_eq!(
        left,
        CallRecord {
            status: "completed".into(),
            duration_ms: Some(300_000),
            ..joined()
        }
    );
    assert!(post(&mock, ROOM_ENDED).events.is_empty());
}

#[test]
fn recordings_and_compositions_reach_the_customers_records() {
    let mock = agents();
    post(&mock, CONNECTED);
    post(&mock, AGENT_CONNECTED);
    post(&mock, DISCONNECTED);

    let track = record(&post(&mock, TRACK_RECORDED));
    assert_eq!(
        track.recording_url.as_deref(),
        Some("https://video.twilio.com/v1/Recordings/RTaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Media")
    );
    assert_eq!(track.status, "completed");

    let composed = records(&post(&mock, COMPOSITION));
    assert_eq!(
        composed,
        vec![CallRecord {
            status: "completed".into(),
            duration_ms: Some(300_000),
            recording_url: Some(
                "https://video.twilio.com/v1/Compositions/CJaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Media".into()
            ),
            ..joined()
        }]
    );
}

#[test]
fn a_leave_without_a_join_dates_the_session_from_its_duration() {
    let mock = host();
    let left = record(&post(&mock, DISCONNECTED));
    // 15:05:12.500 less 300 s.
    assert_eq!(left.started_at, Some(1_772_463_612_500));
    assert_eq!(left.status, "completed");
}

#[test]
fn a_twilio_retry_gives_the_same_record() {
    let mock = host();
    let first = post(&mock, CONNECTED);
    let again = post(&mock, CONNECTED);
    assert_eq!(first.events, again.events);
    assert_eq!(record(&again).external_id, ANN);
}

#[test]
fn participant_identities_follow_config() {
    let mock = host().with_config("participant_identity", json!("external-id"));
    let customer = CONNECTED.replace("ann%40example.com", "cust-1001");
    assert_eq!(
        record(&post(&mock, &customer)).party,
        Identity::external_id("cust-1001").verified()
    );

    let mock = host().with_config("video_direction", json!("outbound"));
    let guest = CONNECTED.replace("ann%40example.com", "guest-7f3a");
    let r = record(&post(&mock, &guest));
    assert_eq!(r.party, Identity::channel_user("guest-7f3a").verified());
    assert_eq!(r.direction, CallDirection::Outbound);
}

#[test]
fn forged_unsigned_and_malformed_room_callbacks_are_refused() {
    let mock = host();
    let forged = signed_with("guessed-token", "/video/status", CONNECTED);
    assert_eq!(Voice::handle_webhook(&mock.host(), forged).unwrap_err().status(), 401);
    let bare = unsigned("/video/status", CONNECTED);
    assert_eq!(Voice::handle_webhook(&mock.host(), bare).unwrap_err().status(), 401);
    assert!(mock.kv().is_empty());

    let cases = [
        (
            CONNECTED.replace("StatusCallbackEvent=", "Event="),
            "StatusCallbackEvent",
        ),
        (CONNECTED.replace("RoomSid=", "Room="), "RoomSid"),
        (CONNECTED.replace("ParticipantSid=", "Participant="), "ParticipantSid"),
        (
            CONNECTED.replace("ParticipantIdentity=", "Identity="),
            "ParticipantIdentity",
        ),
        (
            DISCONNECTED.replace("ParticipantDuration=300", "ParticipantDuration=5m"),
            "ParticipantDuration",
        ),
        (COMPOSITION.replace("MediaUri=", "Uri="), "MediaUri"),
    ];
    for (body, needle) in cases {
        let err = Voice::handle_webhook(&mock.host(), signed("/video/status", &body)).unwrap_err();
        assert_eq!(err.status(), 400, "{needle}");
        assert!(err.message().contains(needle), "{needle}: {err}");
    }
}
