//! Every class of failure, the events the plugin ignores, and the config schema.

mod common;

use common::*;
use omni_hubspot::HubSpot;
use omni_plugin_sdk::LogLevel;
use omni_plugin_sdk::prelude::*;
use serde_json::json;

/// A `person.created` for an unlinked person: its first request is the email search.
fn first_request_fails(mock: &testing::MockHost) -> IntegrationError {
    HubSpot::on_event(&mock.host(), event("person.created", 1, bryan(&[]))).unwrap_err()
}

#[test]
fn rate_limits_are_retried_after_retry_after() {
    let mock = host().respond(answer(429, "error-429.json").with_header("Retry-After", "10"));
    assert_eq!(
        first_request_fails(&mock),
        IntegrationError::Retryable {
            message: "HubSpot answered 429 to the contact search by email: RATE_LIMIT (SECONDLY): You have reached \
                      your secondly limit. (correlation id c033cdaa-2c40-4a64-ae48-b4cec88dad24)"
                .into(),
            after_ms: Some(10_000),
        }
    );
}

#[test]
fn outages_and_timeouts_are_retried() {
    for status in [500, 502, 503, 504] {
        let mock = host().respond(IncomingResponse::new(status, "<html>oops</html>"));
        assert!(
            matches!(
                first_request_fails(&mock),
                IntegrationError::Retryable { after_ms: None, .. }
            ),
            "{status}"
        );
    }
    for failure in [
        HttpError::Timeout("2s".into()),
        HttpError::Unreachable("connection refused".into()),
    ] {
        let mock = host().fail_http(failure.clone());
        match first_request_fails(&mock) {
            IntegrationError::Retryable { message, .. } => {
                assert!(
                    message.starts_with("HubSpot did not answer the contact search by email"),
                    "{message}"
                )
            }
            other => panic!("{failure:?}: {other:?}"),
        }
    }
}

#[test]
fn a_refused_token_is_retried_and_logged() {
    let mock = host().respond(answer(401, "error-401.json"));
    match first_request_fails(&mock) {
        IntegrationError::Retryable { message, after_ms } => {
            assert!(message.contains("401"), "{message}");
            assert!(message.contains("INVALID_AUTHENTICATION"), "{message}");
            assert_eq!(after_ms, None);
        }
        other => panic!("{other:?}"),
    }
    let warnings: Vec<String> = mock
        .logs()
        .into_iter()
        .filter(|(level, _)| *level == LogLevel::Warn)
        .map(|(_, line)| line)
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("check the `access_token` secret"),
        "{}",
        warnings[0]
    );
}

#[test]
fn other_refusals_are_permanent_with_hubspots_message() {
    let mock = host()
        .respond(answer(200, "search-empty.json"))
        .respond(answer(200, "search-empty.json"))
        .respond(answer(400, "error-400.json"));
    match first_request_fails(&mock) {
        IntegrationError::Permanent { message } => assert_eq!(
            message,
            "HubSpot answered 400 to creating a contact: VALIDATION_ERROR: Property values were not valid: \
             [{\"isValid\":false,\"message\":\"Email address bcooper@@biglytics.net is invalid\",\"error\":\
             \"INVALID_EMAIL\",\"name\":\"email\"}] (correlation id a43683b0-5717-4ceb-80b4-104d02915d8c)"
        ),
        other => panic!("{other:?}"),
    }

    let mock = host().respond(answer(403, "error-403-scopes.json"));
    match first_request_fails(&mock) {
        IntegrationError::Permanent { message } => {
            assert!(message.contains("MISSING_SCOPES"), "{message}");
            assert!(message.contains("give the private app the scopes"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_missing_token_is_permanent_and_says_what_to_set() {
    let mock = testing::MockHost::new().with_config("api_base", json!(BASE));
    match first_request_fails(&mock) {
        IntegrationError::Permanent { message } => {
            assert!(message.contains("secret `access_token` is not set"), "{message}");
            assert!(message.contains("crm.objects.contacts.write"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(mock.requests().is_empty());
    let error = HubSpot::lookup(&mock.host(), bryan(&["512"])).unwrap_err();
    assert!(matches!(error, IntegrationError::Permanent { .. }), "{error:?}");
}

#[test]
fn a_host_outside_allowed_hosts_is_permanent() {
    let mock = host().fail_http(HttpError::Denied("127.0.0.1 is not allowed".into()));
    match first_request_fails(&mock) {
        IntegrationError::Permanent { message } => assert!(message.contains("allowed_hosts"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unreadable_answer_is_permanent() {
    let mock = host().respond(IncomingResponse::new(200, "<html>not HubSpot</html>"));
    match first_request_fails(&mock) {
        IntegrationError::Permanent { message } => assert!(message.contains("api_base"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn events_the_plugin_does_not_follow_are_ignored() {
    let mock = testing::MockHost::new();
    let kinds = [
        "person.split",
        "message.queued",
        "conversation.opened",
        "conversation.reopened",
        "csat.received",
        "integration.checkout.abandoned",
        "something.new",
    ];
    for kind in kinds {
        let outcome = HubSpot::on_event(&mock.host(), event(kind, 2, bryan(&[]))).unwrap();
        assert_eq!(outcome, EventOutcome::none(), "{kind}");
    }
    let mut anonymous = event("person.created", 3, bryan(&[]));
    anonymous.person = None;
    assert_eq!(
        HubSpot::on_event(&mock.host(), anonymous).unwrap(),
        EventOutcome::none()
    );
    // identity.added without data does not fail.
    let mut added = event("identity.added", 4, bryan(&["512"]));
    added.data = json!(null);
    assert_eq!(HubSpot::on_event(&mock.host(), added).unwrap(), EventOutcome::none());
    assert!(mock.requests().is_empty());
}

#[test]
fn the_config_schema_is_documented() {
    let schema = testing::documented_config_schema(&HubSpot::manifest());
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["properties"]["api_base"]["default"], "https://api.hubapi.com");
    assert_eq!(schema["properties"]["note_dedupe_property"]["default"], "omni_event_id");
    assert_eq!(
        schema["properties"]["create_contacts"]["enum"],
        json!(["with_email_or_phone", "never"])
    );
}
