//! Helpers shared by the integration tests.
#![allow(dead_code)]

use omni_email::Email;
use omni_plugin_sdk::crypto::base64;
use omni_plugin_sdk::prelude::*;
use serde_json::json;

/// The webhook password the tests configure.
pub const PASSWORD: &str = "test-secret";
/// The Mailgun signing key the fixtures are signed with.
pub const SIGNING_KEY: &str = "test-signing-key";

/// Fixture text with CRLF line ends, as providers send multipart bodies.
pub fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// `Authorization: Basic` for the user and password.
pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

/// A host with Basic webhook auth configured.
pub fn basic_host() -> testing::MockHost {
    testing::MockHost::new().with_secret("webhook_password", PASSWORD)
}

/// A host with Mailgun signature auth configured; the fixtures' timestamps are old.
pub fn mailgun_host() -> testing::MockHost {
    testing::MockHost::new()
        .with_config("inbound_auth", json!("mailgun"))
        .with_config("signature_max_age_seconds", json!(0))
        .with_secret("webhook_signing_key", SIGNING_KEY)
}

/// A POST with a body, content type and the right Basic credentials.
pub fn post(path: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Request {
    Request::post(path, body)
        .with_header("content-type", content_type)
        .with_header("authorization", &basic("omni", PASSWORD))
}

/// Runs the webhook.
pub fn call(mock: &testing::MockHost, request: Request) -> Result<WebhookOutcome, PluginError> {
    Email::handle_webhook(&mock.host(), request)
}

/// The single message of an outcome.
pub fn message(outcome: &WebhookOutcome) -> &InboundMessage {
    match &outcome.events[..] {
        [Event::MessageReceived(m)] => m,
        other => panic!("expected one message, got {other:?}"),
    }
}

/// The delivery statuses of an outcome.
pub fn statuses(outcome: &WebhookOutcome) -> Vec<DeliveryStatus> {
    outcome
        .events
        .iter()
        .map(|e| match e {
            Event::DeliveryStatus(s) => s.clone(),
            other => panic!("expected delivery statuses, got {other:?}"),
        })
        .collect()
}

/// An attachment's metadata.
pub fn attachment(name: &str, content_type: &str, size: u64) -> Attachment {
    Attachment {
        name: Some(name.to_owned()),
        content_type: content_type.to_owned(),
        size: Some(size),
        url: None,
    }
}
