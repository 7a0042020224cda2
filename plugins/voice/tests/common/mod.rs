//! Helpers shared by the voice connector's tests: Twilio-signed requests and event matching.

#![allow(dead_code)]

use omni_plugin_sdk::CallRecord;
use omni_plugin_sdk::crypto::twilio_signature;
use omni_plugin_sdk::prelude::*;
use serde_json::json;

pub const TOKEN: &str = "test-auth-token";
pub const PUBLIC_URL: &str = "https://omni.example.com/hooks/voice";
pub const ACCOUNT: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// A host configured like the docs' example instance.
pub fn host() -> testing::MockHost {
    testing::MockHost::new()
        .with_secret("auth_token", TOKEN)
        .with_config("public_url", json!(PUBLIC_URL))
        .with_config("account_sid", json!(ACCOUNT))
}

/// A form post without a signature.
pub fn unsigned(path: &str, body: &str) -> Request {
    Request::post(path, body).with_header("content-type", "application/x-www-form-urlencoded")
}

/// The request as Twilio sends it, signed with `token` over the public URL.
pub fn signed_with(token: &str, path: &str, body: &str) -> Request {
    let request = unsigned(path, body);
    let params = request.form().unwrap();
    let signature = twilio_signature(token, &format!("{PUBLIC_URL}{path}"), &params);
    request.with_header("x-twilio-signature", &signature)
}

/// The request as Twilio sends it.
pub fn signed(path: &str, body: &str) -> Request {
    signed_with(TOKEN, path, body)
}

/// The call records of an outcome.
pub fn records(outcome: &WebhookOutcome) -> Vec<CallRecord> {
    outcome
        .events
        .iter()
        .map(|event| match event {
            Event::CallRecord(record) => record.clone(),
            other => panic!("expected call records, got {other:?}"),
        })
        .collect()
}

/// The one call record of an outcome.
pub fn record(outcome: &WebhookOutcome) -> CallRecord {
    match &records(outcome)[..] {
        [record] => record.clone(),
        other => panic!("expected one call record, got {other:?}"),
    }
}
