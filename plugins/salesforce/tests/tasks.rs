//! Resolved conversations as Tasks or Cases, upserted by the event's position.

mod common;

use common::*;
use omni_plugin_sdk::MessageDirection::{Inbound, Outbound};
use omni_plugin_sdk::prelude::*;
use omni_salesforce::Salesforce;
use serde_json::json;

fn resolved(person: Person) -> DomainEvent {
    let mut event = event(
        42,
        "conversation.resolved",
        person,
        json!({"status": "resolved", "previous": "open", "by": "agent:7"}),
    );
    event.conversation_id = Some("c-1".into());
    event.transcript = vec![
        line(Inbound, "email", "Hi, where is my order?"),
        line(Outbound, "email", "It ships today."),
        line(Inbound, "sms", "Thanks!"),
    ];
    event
}

fn linked() -> Person {
    let mut person = ada();
    person.records = vec![CONTACT_ID.into()];
    person
}

const TRANSCRIPT: &str =
    "[email] Customer: Hi, where is my order?\n[email] Agent: It ships today.\n[sms] Customer: Thanks!";

#[test]
fn a_resolved_conversation_becomes_a_completed_task() {
    let mock = host().respond(answer(201, TASK_CREATED));
    let outcome = Salesforce::on_event(&mock.host(), resolved(linked())).unwrap();
    assert_eq!(outcome, EventOutcome::record(CONTACT_ID));

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_request(
        &requests[0],
        "PATCH",
        &data("/sobjects/Task/Omni_Event_Id__c/42"),
        STATIC_TOKEN,
    );
    assert_eq!(
        body(&requests[0]),
        json!({
            "Subject": "Conversation c-1 (email, sms)",
            "Description": TRANSCRIPT,
            "Status": "Completed",
            "ActivityDate": "2024-06-01",
            "WhoId": CONTACT_ID
        })
    );
}

#[test]
fn a_replayed_resolution_updates_the_same_task() {
    let mock = host().respond(answer(201, TASK_CREATED)).respond(answer(
        200,
        json!({"id": "00TD000000bDy2kMAC", "success": true, "errors": [], "created": false})
            .to_string()
            .as_str(),
    ));
    Salesforce::on_event(&mock.host(), resolved(linked())).unwrap();
    Salesforce::on_event(&mock.host(), resolved(linked())).unwrap();
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].url, requests[1].url);
    assert_eq!(requests[0].body, requests[1].body);
}

#[test]
fn a_case_for_a_contact_is_closed_with_origin_omni() {
    let mock = host()
        .with_config("conversation_record", json!("Case"))
        .with_config("activity_external_id_field", json!("Omni_Conversation_Event__c"))
        .respond(answer(201, CASE_CREATED));
    Salesforce::on_event(&mock.host(), resolved(linked())).unwrap();
    let request = &mock.requests()[0];
    assert_request(
        request,
        "PATCH",
        &data("/sobjects/Case/Omni_Conversation_Event__c/42"),
        STATIC_TOKEN,
    );
    assert_eq!(
        body(request),
        json!({
            "Subject": "Conversation c-1 (email, sms)",
            "Description": TRANSCRIPT,
            "Status": "Closed",
            "Origin": "Omni",
            "ContactId": CONTACT_ID
        })
    );
}

#[test]
fn a_case_for_a_lead_names_the_person_in_the_web_fields() {
    let mut person = ada();
    person.records = vec![LEAD_ID.into()];
    let mock = host()
        .with_config("object", json!("Lead"))
        .with_config("conversation_record", json!("Case"))
        .respond(answer(201, CASE_CREATED));
    let outcome = Salesforce::on_event(&mock.host(), resolved(person)).unwrap();
    assert_eq!(outcome, EventOutcome::record(LEAD_ID));
    assert_eq!(
        body(&mock.requests()[0]),
        json!({
            "Subject": "Conversation c-1 (email, sms)",
            "Description": TRANSCRIPT,
            "Status": "Closed",
            "Origin": "Omni",
            "SuppliedName": "Ada Lovelace",
            "SuppliedEmail": "ada@example.com",
            "SuppliedPhone": "+14155550100"
        })
    );
}

#[test]
fn a_task_for_a_lead_points_at_the_lead() {
    let mut person = ada();
    person.records = vec![LEAD_ID.into()];
    let mock = host()
        .with_config("object", json!("Lead"))
        .respond(answer(201, TASK_CREATED));
    Salesforce::on_event(&mock.host(), resolved(person)).unwrap();
    assert_eq!(body(&mock.requests()[0])["WhoId"], LEAD_ID);
}

#[test]
fn a_person_without_a_record_is_upserted_first() {
    let mock = host()
        .respond(answer(201, UPSERT_CREATED))
        .respond(answer(201, TASK_CREATED));
    let outcome = Salesforce::on_event(&mock.host(), resolved(ada())).unwrap();
    assert_eq!(outcome, EventOutcome::record(CONTACT_ID));
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].url, data("/sobjects/Contact/Omni_Person_Id__c/p-1"));
    assert_eq!(requests[1].url, data("/sobjects/Task/Omni_Event_Id__c/42"));
    assert_eq!(body(&requests[1])["WhoId"], CONTACT_ID);
}

#[test]
fn the_record_upserted_for_the_person_wins_over_other_linked_records() {
    // After a merge the survivor carries the merged-away person's record too.
    let mut person = ada();
    person.records = vec!["003D000000Q8eQnIAJ".into(), CONTACT_ID.into()];
    let mock = host()
        .respond(answer(200, UPSERT_UPDATED))
        .respond(answer(201, TASK_CREATED));
    Salesforce::on_event(&mock.host(), event(41, "person.merged", person.clone(), json!({}))).unwrap();
    Salesforce::on_event(&mock.host(), resolved(person)).unwrap();
    assert_eq!(body(&mock.requests()[1])["WhoId"], CONTACT_ID);
}

#[test]
fn nothing_is_logged_when_configured_so() {
    let mock = host().with_config("conversation_record", json!("none"));
    assert_eq!(
        Salesforce::on_event(&mock.host(), resolved(linked())).unwrap(),
        EventOutcome::none()
    );
    assert!(mock.requests().is_empty());
}

#[test]
fn an_empty_transcript_still_logs_the_conversation() {
    let mock = host().respond(answer(201, TASK_CREATED));
    let mut event = resolved(linked());
    event.transcript.clear();
    event.conversation_id = None;
    event.data = json!({"channel": "voice"});
    Salesforce::on_event(&mock.host(), event).unwrap();
    let sent = body(&mock.requests()[0]);
    assert_eq!(sent["Subject"], "Conversation (voice)");
    assert_eq!(sent["Description"], "");
}

#[test]
fn a_refused_task_names_salesforces_error() {
    let missing_field = r#"[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]"#;
    let mock = host().respond(answer(404, missing_field));
    let error = Salesforce::on_event(&mock.host(), resolved(linked())).unwrap_err();
    assert!(matches!(&error, IntegrationError::Permanent { message }
        if message.contains("NOT_FOUND") && message.contains("Task Omni_Event_Id__c=42")));
}
