//! Merges in Omni reflected in HubSpot, once, whatever the replays.

mod common;

use common::*;
use omni_hubspot::HubSpot;
use omni_plugin_sdk::prelude::*;
use serde_json::json;

fn merged(records: &[&str]) -> DomainEvent {
    let mut event = event("person.merged", 300, bryan(records));
    event.data = json!({"merged": "p-other", "actor": "agent:bo", "reason": "same email"});
    event
}

fn merge_body(primary: &str, other: &str) -> serde_json::Value {
    json!({"primaryObjectId": primary, "objectIdToMerge": other})
}

#[test]
fn two_contacts_of_one_person_are_merged_into_the_first() {
    let mock = host().respond(answer(200, "contact-merged.json"));
    let outcome = HubSpot::on_event(&mock.host(), merged(&["512", "602"])).unwrap();
    assert_eq!(outcome, EventOutcome::none(), "512 is linked already");
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_request(
        &requests[0],
        "POST",
        "/crm/v3/objects/contacts/merge",
        Some(merge_body("512", "602")),
    );
    assert_eq!(kv(&mock, "merged:602").as_deref(), Some("512"));
}

#[test]
fn a_replay_merges_nothing_again() {
    let mock = host().respond(answer(200, "contact-merged.json"));
    HubSpot::on_event(&mock.host(), merged(&["512", "602"])).unwrap();
    HubSpot::on_event(&mock.host(), merged(&["512", "602"])).unwrap();
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn a_replay_with_an_empty_store_takes_hubspots_refusal_as_done() {
    let mock = host().respond(answer(400, "error-merge-already-merged.json"));
    let outcome = HubSpot::on_event(&mock.host(), merged(&["512", "602"])).unwrap();
    assert_eq!(outcome, EventOutcome::none());
    assert_eq!(mock.requests().len(), 1);
    assert_eq!(kv(&mock, "merged:602").as_deref(), Some("512"));

    // A contact deleted meanwhile is nothing to merge either.
    let mock = host().respond(answer(404, "error-404.json"));
    assert_eq!(
        HubSpot::on_event(&mock.host(), merged(&["512", "602"])).unwrap(),
        EventOutcome::none()
    );
}

#[test]
fn later_merges_go_into_the_contact_hubspot_kept() {
    // Should HubSpot answer with another id for the merged contact, the next
    // merge goes into it and the host links it.
    let mut survivor = fixture("contact-merged.json");
    survivor["id"] = json!("900");
    let mock = host()
        .respond(IncomingResponse::json(200, &survivor))
        .respond(IncomingResponse::json(200, &survivor));
    let outcome = HubSpot::on_event(&mock.host(), merged(&["512", "602", "733"])).unwrap();
    assert_eq!(outcome, EventOutcome::record("900"));
    let requests = mock.requests();
    assert_eq!(body(&requests[0]), merge_body("512", "602"));
    assert_eq!(body(&requests[1]), merge_body("900", "733"));
}

#[test]
fn a_failure_midway_resumes_where_it_stopped() {
    let mock = host()
        .respond(answer(200, "contact-merged.json"))
        .respond(IncomingResponse::new(503, "upstream unavailable").with_header("Retry-After", "5"));
    let error = HubSpot::on_event(&mock.host(), merged(&["512", "602", "733"])).unwrap_err();
    assert_eq!(
        error,
        IntegrationError::Retryable {
            message: "HubSpot answered 503 to merging contact 733 into 512: upstream unavailable".into(),
            after_ms: Some(5000),
        }
    );
    // The host retries the event: only the merge that failed is sent.
    let mock = {
        let retry = host().respond(answer(200, "contact-merged.json"));
        for (key, value) in mock.kv() {
            retry.host().kv_set(&key, &value).unwrap();
        }
        retry
    };
    HubSpot::on_event(&mock.host(), merged(&["512", "602", "733"])).unwrap();
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(body(&requests[0]), merge_body("512", "733"));
}

#[test]
fn a_merge_hubspot_refuses_for_another_reason_is_permanent() {
    let mock = host().respond(answer(403, "error-403-scopes.json"));
    let error = HubSpot::on_event(&mock.host(), merged(&["512", "602"])).unwrap_err();
    match error {
        IntegrationError::Permanent { message } => {
            assert!(message.starts_with("HubSpot answered 403 to merging contact 602 into 512: MISSING_SCOPES"));
            assert!(message.contains("crm.objects.contacts.write"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(mock.kv().is_empty());
}

#[test]
fn a_person_with_one_contact_needs_no_merge() {
    let mock = testing::MockHost::new();
    for records in [&["512"][..], &[][..]] {
        assert_eq!(
            HubSpot::on_event(&mock.host(), merged(records)).unwrap(),
            EventOutcome::none()
        );
    }
    assert!(mock.requests().is_empty());
}
