//! Salesforce's error arrays, status codes and transport failures, read as retryable or permanent.

mod common;

use common::*;
use omni_plugin_sdk::prelude::*;
use omni_salesforce::Salesforce;
use serde_json::json;

fn upsert_with(response: IncomingResponse) -> IntegrationError {
    let mock = host().respond(response);
    Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap_err()
}

#[test]
fn a_missing_required_field_is_permanent_with_code_and_message() {
    let error = upsert_with(answer(400, REQUIRED_FIELD_MISSING));
    let IntegrationError::Permanent { message } = error else {
        panic!("expected a permanent error, got {error:?}");
    };
    assert!(message.contains("400"), "{message}");
    assert!(
        message.contains("REQUIRED_FIELD_MISSING: Required fields are missing: [LastName] [LastName]"),
        "{message}"
    );
    assert!(message.contains("Contact Omni_Person_Id__c=p-1"), "{message}");
}

#[test]
fn the_api_request_limit_is_retryable_with_a_pause() {
    assert_eq!(
        upsert_with(answer(403, REQUEST_LIMIT_EXCEEDED)),
        IntegrationError::Retryable {
            message: "Salesforce answered 403 while upserting Contact Omni_Person_Id__c=p-1: \
                      REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded."
                .into(),
            after_ms: Some(300_000),
        }
    );
    // Retry-After, when given, wins.
    let error = upsert_with(answer(403, REQUEST_LIMIT_EXCEEDED).with_header("Retry-After", "60"));
    assert!(matches!(
        error,
        IntegrationError::Retryable {
            after_ms: Some(60_000),
            ..
        }
    ));
}

#[test]
fn salesforce_trouble_is_retryable_honouring_retry_after() {
    let error = upsert_with(answer(503, SERVER_UNAVAILABLE).with_header("Retry-After", "120"));
    assert!(
        matches!(&error, IntegrationError::Retryable { after_ms: Some(120_000), message }
        if message.contains("SERVER_UNAVAILABLE"))
    );
    assert!(matches!(
        upsert_with(IncomingResponse::new(500, "<html>Internal Server Error</html>")),
        IntegrationError::Retryable { after_ms: None, .. }
    ));
}

#[test]
fn transport_failures() {
    for (failure, retryable) in [
        (HttpError::Timeout("deadline".into()), true),
        (HttpError::Unreachable("connection refused".into()), true),
        (HttpError::Denied("not allowed".into()), false),
    ] {
        let mock = host().fail_http(failure);
        let error = Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap_err();
        assert_eq!(
            matches!(error, IntegrationError::Retryable { .. }),
            retryable,
            "{error:?}"
        );
    }
    let mock = host().fail_http(HttpError::Denied("not allowed".into()));
    let error = Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap_err();
    assert!(matches!(&error, IntegrationError::Permanent { message } if message.contains("allowed_hosts")));
}

#[test]
fn a_missing_external_id_field_is_permanent_with_a_hint() {
    let missing = r#"[{"errorCode":"NOT_FOUND","message":"Provided external ID field does not exist or is not accessible: Omni_Person_Id__c"}]"#;
    let error = upsert_with(answer(404, missing));
    assert!(matches!(&error, IntegrationError::Permanent { message }
        if message.contains("create the External ID field")));
    let error = upsert_with(answer(404, NOT_FOUND));
    assert!(matches!(&error, IntegrationError::Permanent { message } if message.contains("NOT_FOUND")));
}

#[test]
fn other_refusals_are_permanent() {
    let duplicate = r#"[{"message":"Use one of these records?","errorCode":"DUPLICATES_DETECTED","fields":[]}]"#;
    assert!(matches!(
        upsert_with(answer(400, duplicate)),
        IntegrationError::Permanent { message } if message.contains("duplicate rule")
    ));
    assert!(matches!(
        upsert_with(IncomingResponse::new(400, "")),
        IntegrationError::Permanent { .. }
    ));
}

#[test]
fn a_missing_instance_url_is_permanent() {
    let mock = testing::MockHost::new().with_secret("access_token", STATIC_TOKEN);
    let error = Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap_err();
    assert!(matches!(&error, IntegrationError::Permanent { message } if message.contains("instance_url")));
    assert!(mock.requests().is_empty());
}

#[test]
fn unreadable_success_answers_do_not_panic() {
    // 200 without an id: the id is read back, and that answer is unreadable too.
    let mock = host()
        .respond(IncomingResponse::new(200, "garbage"))
        .respond(IncomingResponse::new(200, "[]"));
    let error = Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap_err();
    assert!(matches!(error, IntegrationError::Permanent { .. }));

    // A merged record read back without an id.
    let mock = host()
        .respond(answer(200, UPSERT_UPDATED))
        .respond(IncomingResponse::new(200, "{}"));
    let error =
        Salesforce::on_event(&mock.host(), event(1, "person.merged", ada(), json!({"merged": "p-9"}))).unwrap_err();
    assert!(matches!(error, IntegrationError::Permanent { .. }));
}

#[test]
fn odd_events_do_not_panic() {
    let odd_people = [
        Person {
            id: "".into(),
            display_name: None,
            identities: vec![],
            records: vec![],
        },
        Person {
            id: "'; DROP".into(),
            display_name: Some("   ".into()),
            identities: vec![Identity::email("")],
            records: vec!["".into()],
        },
    ];
    for person in odd_people {
        for kind in [
            "person.created",
            "identity.added",
            "message.received",
            "person.merged",
            "conversation.resolved",
        ] {
            let mock = host()
                .respond(answer(201, UPSERT_CREATED))
                .respond(answer(201, TASK_CREATED))
                .respond(answer(200, RECORD_ID))
                .respond(IncomingResponse::new(204, ""));
            let mut event = event(i64::MIN, kind, person.clone(), json!([1, 2, 3]));
            event.at = i64::MAX;
            let _ = Salesforce::on_event(&mock.host(), event);
        }
        let mock = host().respond(answer(200, QUERY_EMPTY));
        let _ = Salesforce::lookup(&mock.host(), person);
    }
}
