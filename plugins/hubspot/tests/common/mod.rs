//! Shared helpers of the integration tests: a configured host, persons and
//! events, HubSpot's documented answers, and request checks.

#![allow(dead_code)]

use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::{MessageDirection, TranscriptLine};
use serde_json::{Value, json};

/// Where the tests point `api_base`.
pub const BASE: &str = "http://127.0.0.1:9/hubspot";
/// The fake private app token.
pub const TOKEN: &str = "pat-na1-11111111-2222-3333-4444-555555555555";

/// A fixture file, parsed.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// HubSpot's answer with a fixture as body.
pub fn answer(status: u16, name: &str) -> IncomingResponse {
    IncomingResponse::json(status, &fixture(name))
}

/// A host with the token, `api_base` and `portal_id` set.
pub fn host() -> testing::MockHost {
    testing::MockHost::new()
        .with_secret("access_token", TOKEN)
        .with_config("api_base", json!(format!("{BASE}/")))
        .with_config("portal_id", json!(62515))
}

/// Bryan Cooper with an email and a phone number, linked to `records`.
pub fn bryan(records: &[&str]) -> Person {
    Person {
        id: "p-bryan".into(),
        display_name: Some("Bryan Cooper".into()),
        identities: vec![
            Identity::channel_user("webchat:v-1"),
            Identity::email("bcooper@biglytics.net").verified(),
            Identity::phone("+14155550100"),
        ],
        records: records.iter().map(|r| r.to_string()).collect(),
    }
}

/// A person with only the given identities.
pub fn person(identities: Vec<Identity>, records: &[&str]) -> Person {
    Person {
        id: "p-2".into(),
        display_name: None,
        identities,
        records: records.iter().map(|r| r.to_string()).collect(),
    }
}

/// An event of `kind` at `position` about `person`.
pub fn event(kind: &str, position: i64, person: Person) -> DomainEvent {
    DomainEvent {
        position,
        kind: kind.into(),
        at: 1_700_000_000_123,
        person: Some(person),
        conversation_id: Some("c-1".into()),
        message_id: None,
        data: json!({}),
        transcript: Vec::new(),
    }
}

/// `conversation.resolved` with a two-line transcript.
pub fn resolved(position: i64, person: Person) -> DomainEvent {
    let mut event = event("conversation.resolved", position, person);
    event.data = json!({"status": "resolved", "previous": "open", "by": "agent:bo"});
    event.transcript = vec![
        TranscriptLine {
            direction: MessageDirection::Inbound,
            channel: "webchat".into(),
            text: "Where is my order?".into(),
            at: 1_699_999_990_000,
        },
        TranscriptLine {
            direction: MessageDirection::Outbound,
            channel: "webchat".into(),
            text: "It ships today.".into(),
            at: 1_699_999_995_000,
        },
    ];
    event
}

/// The JSON body of a request.
pub fn body(request: &OutgoingRequest) -> Value {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

/// Checks method, URL, token and, for requests with one, the JSON body.
pub fn assert_request(request: &OutgoingRequest, method: &str, path: &str, expected: Option<Value>) {
    assert_eq!(request.method, method, "{}", request.url);
    assert_eq!(request.url, format!("{BASE}{path}"));
    assert_eq!(
        request.header_value("authorization"),
        Some(format!("Bearer {TOKEN}").as_str()),
        "{}",
        request.url
    );
    assert_eq!(request.header_value("accept"), Some("application/json"));
    match expected {
        Some(expected) => {
            assert_eq!(request.header_value("content-type"), Some("application/json"));
            assert_eq!(body(request), expected, "{} {}", request.method, request.url);
        }
        None => assert!(request.body.is_empty(), "{} {} has a body", request.method, request.url),
    }
}

/// The body of a contact search by `property`.
pub fn contact_search(property: &str, value: &str) -> Value {
    json!({
        "filterGroups": [{"filters": [{"propertyName": property, "operator": "EQ", "value": value}]}],
        "properties": ["email", "firstname", "lastname", "phone"],
        "limit": 1
    })
}

/// A key-value entry as text.
pub fn kv(mock: &testing::MockHost, key: &str) -> Option<String> {
    mock.kv().get(key).map(|v| String::from_utf8(v.clone()).unwrap())
}
