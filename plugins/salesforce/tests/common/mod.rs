//! Shared fixtures and builders of the integration tests.

#![allow(dead_code)]

use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::{LogLevel, MessageDirection, TranscriptLine};
use serde_json::{Value, json};

/// A local stand-in for `https://acme.my.salesforce.com`.
pub const INSTANCE: &str = "http://127.0.0.1:9/sf";
/// A local stand-in for `https://login.salesforce.com`.
pub const LOGIN: &str = "http://127.0.0.1:9/login";
/// The static access token of most tests.
pub const STATIC_TOKEN: &str = "00Dstatic!token";
/// The access token in `token-refresh.json`.
pub const REFRESHED_TOKEN: &str =
    "00DB0000000TfcR!AQQAQFhoK8vTMg_rKA.esrJ2bCs.OOIjJgl.9Cx6O7KqjZmHMLOyVb.U61BU9tm4xRusf7d3fD1P9oefzqS6i9sJMPWj48IK";
/// The record id in `upsert-created.json` and `upsert-updated.json`.
pub const CONTACT_ID: &str = "003D000000Q8ePmIAF";
/// The record id in `lead-created.json`.
pub const LEAD_ID: &str = "00QD000000XmLsJMAV";

pub const TOKEN_REFRESH: &str = include_str!("../../fixtures/token-refresh.json");
pub const TOKEN_INVALID_GRANT: &str = include_str!("../../fixtures/token-invalid-grant.json");
pub const UPSERT_CREATED: &str = include_str!("../../fixtures/upsert-created.json");
pub const UPSERT_UPDATED: &str = include_str!("../../fixtures/upsert-updated.json");
pub const LEAD_CREATED: &str = include_str!("../../fixtures/lead-created.json");
pub const TASK_CREATED: &str = include_str!("../../fixtures/task-created.json");
pub const CASE_CREATED: &str = include_str!("../../fixtures/case-created.json");
pub const RECORD_ID: &str = include_str!("../../fixtures/record-id.json");
pub const QUERY_CONTACT: &str = include_str!("../../fixtures/query-contact.json");
pub const QUERY_LEAD: &str = include_str!("../../fixtures/query-lead.json");
pub const QUERY_EMPTY: &str = include_str!("../../fixtures/query-empty.json");
pub const REQUIRED_FIELD_MISSING: &str = include_str!("../../fixtures/error-required-field-missing.json");
pub const REQUIRED_COMPANY_MISSING: &str = include_str!("../../fixtures/error-required-field-missing-company.json");
pub const INVALID_SESSION_ID: &str = include_str!("../../fixtures/error-invalid-session-id.json");
pub const REQUEST_LIMIT_EXCEEDED: &str = include_str!("../../fixtures/error-request-limit-exceeded.json");
pub const SERVER_UNAVAILABLE: &str = include_str!("../../fixtures/error-server-unavailable.json");
pub const NOT_FOUND: &str = include_str!("../../fixtures/error-not-found.json");
pub const EXTERNAL_ID_NOT_FOUND: &str = include_str!("../../fixtures/error-external-id-not-found.json");
pub const MULTIPLE_CHOICES: &str = include_str!("../../fixtures/error-multiple-choices.json");

/// A JSON answer from a fixture.
pub fn answer(status: u16, fixture: &str) -> IncomingResponse {
    let value: Value = serde_json::from_str(fixture).expect("fixtures are JSON");
    IncomingResponse::json(status, &value)
}

/// Config for a local org, without credentials.
pub fn configured() -> testing::MockHost {
    testing::MockHost::new()
        .with_config("instance_url", json!(INSTANCE))
        .with_config("login_url", json!(LOGIN))
}

/// A local org with a static access token.
pub fn host() -> testing::MockHost {
    configured().with_secret("access_token", STATIC_TOKEN)
}

/// A local org with the OAuth refresh token flow's secrets.
pub fn oauth_host() -> testing::MockHost {
    configured()
        .with_secret("client_id", "3MVG9-consumer-key")
        .with_secret("client_secret", "consumer-secret")
        .with_secret("refresh_token", "5Aep861-refresh")
}

/// Ada, with a verified email and a phone.
pub fn ada() -> Person {
    Person {
        id: "p-1".into(),
        display_name: Some("Ada Lovelace".into()),
        identities: vec![
            Identity::email("ada@example.com").verified(),
            Identity::phone("+14155550100"),
            Identity::channel_user("webchat:v-9"),
        ],
        records: Vec::new(),
    }
}

/// An event about a person.
pub fn event(position: i64, kind: &str, person: Person, data: Value) -> DomainEvent {
    DomainEvent {
        position,
        kind: kind.into(),
        // 2024-06-01T12:00:00Z
        at: 1_717_243_200_000,
        person: Some(person),
        conversation_id: None,
        message_id: None,
        data,
        transcript: Vec::new(),
    }
}

/// One transcript line.
pub fn line(direction: MessageDirection, channel: &str, text: &str) -> TranscriptLine {
    TranscriptLine {
        direction,
        channel: channel.into(),
        text: text.into(),
        at: 1_717_243_000_000,
    }
}

/// A request's JSON body.
pub fn body(request: &OutgoingRequest) -> Value {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

/// A form body's fields, decoded.
pub fn form(request: &OutgoingRequest) -> Vec<(String, String)> {
    Request::post("/", request.body.clone())
        .with_header("content-type", "application/x-www-form-urlencoded")
        .form()
        .expect("a form body")
}

/// `{INSTANCE}/services/data/v60.0{path}`.
pub fn data(path: &str) -> String {
    format!("{INSTANCE}/services/data/v60.0{path}")
}

/// Whether the plugin wrote a warning.
pub fn warned(mock: &testing::MockHost) -> bool {
    mock.logs().iter().any(|(level, _)| *level == LogLevel::Warn)
}

/// The warnings, joined.
pub fn warnings(mock: &testing::MockHost) -> String {
    mock.logs()
        .into_iter()
        .filter(|(level, _)| *level == LogLevel::Warn)
        .map(|(_, line)| line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts method, URL and bearer token of a request.
pub fn assert_request(request: &OutgoingRequest, method: &str, url: &str, token: &str) {
    assert_eq!(request.method, method, "method of {}", request.url);
    assert_eq!(request.url, url);
    assert_eq!(
        request.header_value("authorization"),
        Some(format!("Bearer {token}").as_str()),
        "authorization of {url}"
    );
    assert_eq!(request.header_value("accept"), Some("application/json"));
}
