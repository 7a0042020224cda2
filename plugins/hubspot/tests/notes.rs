//! Transcripts of resolved conversations as notes, written once per event
//! position whatever the replays.

mod common;

use common::*;
use omni_hubspot::HubSpot;
use omni_plugin_sdk::prelude::*;
use serde_json::{Value, json};

fn note_search(property: &str, position: &str) -> Value {
    json!({
        "filterGroups": [{"filters": [{"propertyName": property, "operator": "EQ", "value": position}]}],
        "properties": [property],
        "limit": 1
    })
}

fn note(contact: &str, property: &str, position: &str) -> Value {
    json!({
        "properties": {
            "hs_timestamp": "2023-11-14T22:13:20.123Z",
            "hs_note_body": "[webchat] Customer: Where is my order?<br>[webchat] Agent: It ships today.",
            property: position
        },
        "associations": [{
            "to": {"id": contact},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}]
        }]
    })
}

#[test]
fn a_resolved_conversation_becomes_a_note_on_the_contact() {
    let mock = host()
        .respond(answer(200, "search-empty.json"))
        .respond(answer(201, "note-created.json"));
    let outcome = HubSpot::on_event(&mock.host(), resolved(4242, bryan(&["512"]))).unwrap();
    assert_eq!(outcome, EventOutcome::none(), "the contact is linked already");

    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_request(
        &requests[0],
        "POST",
        "/crm/v3/objects/notes/search",
        Some(note_search("omni_event_id", "4242")),
    );
    assert_request(
        &requests[1],
        "POST",
        "/crm/v3/objects/notes",
        Some(note("512", "omni_event_id", "4242")),
    );
    assert_eq!(kv(&mock, "note:4242").as_deref(), Some("9105"));
}

#[test]
fn a_replay_finds_the_note_in_the_store() {
    let mock = host()
        .respond(answer(200, "search-empty.json"))
        .respond(answer(201, "note-created.json"));
    HubSpot::on_event(&mock.host(), resolved(4242, bryan(&["512"]))).unwrap();
    assert_eq!(mock.requests().len(), 2);
    // Redelivered, then replayed: no request at all.
    HubSpot::on_event(&mock.host(), resolved(4242, bryan(&["512"]))).unwrap();
    HubSpot::on_event(&mock.host(), resolved(4242, bryan(&["512"]))).unwrap();
    assert_eq!(mock.requests().len(), 2);
}

#[test]
fn a_replay_with_an_empty_store_finds_the_note_in_hubspot() {
    let mock = host().respond(answer(200, "note-search.json"));
    let outcome = HubSpot::on_event(&mock.host(), resolved(4242, bryan(&["512"]))).unwrap();
    assert_eq!(outcome, EventOutcome::none());
    let requests = mock.requests();
    assert_eq!(requests.len(), 1, "no second note");
    assert_eq!(body(&requests[0]), note_search("omni_event_id", "4242"));
    // And the store knows from now on.
    assert_eq!(kv(&mock, "note:4242").as_deref(), Some("9105"));
}

#[test]
fn an_unlinked_person_is_linked_before_the_note_is_written() {
    let mock = host()
        .respond(answer(200, "search-empty.json"))
        .respond(answer(200, "search-empty.json"))
        .respond(answer(201, "contact-created.json"))
        .respond(answer(200, "search-empty.json"))
        .respond(answer(201, "note-created.json"));
    let outcome = HubSpot::on_event(&mock.host(), resolved(4242, bryan(&[]))).unwrap();
    assert_eq!(outcome, EventOutcome::record("512"));
    let requests = mock.requests();
    let paths: Vec<&str> = requests.iter().map(|r| &r.url[BASE.len()..]).collect();
    assert_eq!(
        paths,
        [
            "/crm/v3/objects/contacts/search",
            "/crm/v3/objects/contacts/search",
            "/crm/v3/objects/contacts",
            "/crm/v3/objects/notes/search",
            "/crm/v3/objects/notes",
        ]
    );
    assert_eq!(body(&requests[4]), note("512", "omni_event_id", "4242"));
}

#[test]
fn the_dedupe_property_is_configurable() {
    let mock = host()
        .with_config("note_dedupe_property", json!("omni_position"))
        .respond(answer(200, "search-empty.json"))
        .respond(answer(201, "note-created.json"));
    HubSpot::on_event(&mock.host(), resolved(77, bryan(&["512"]))).unwrap();
    let requests = mock.requests();
    assert_eq!(body(&requests[0]), note_search("omni_position", "77"));
    assert_eq!(body(&requests[1]), note("512", "omni_position", "77"));
}

#[test]
fn markup_in_messages_is_escaped() {
    let mock = host()
        .respond(answer(200, "search-empty.json"))
        .respond(answer(201, "note-created.json"));
    let mut event = resolved(5, bryan(&["512"]));
    event.transcript[0].text = "<script>alert('x')</script> & more\nlines".into();
    HubSpot::on_event(&mock.host(), event).unwrap();
    assert_eq!(
        body(&mock.requests()[1])["properties"]["hs_note_body"],
        "[webchat] Customer: &lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; more<br>lines<br>\
         [webchat] Agent: It ships today."
    );
}

#[test]
fn a_missing_dedupe_property_says_how_to_create_it() {
    let mock = host().respond(answer(400, "error-400-property.json"));
    let error = HubSpot::on_event(&mock.host(), resolved(6, bryan(&["512"]))).unwrap_err();
    match error {
        IntegrationError::Permanent { message } => {
            assert!(message.contains("VALIDATION_ERROR"), "{message}");
            assert!(
                message.contains("create the note property `omni_event_id`"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(mock.kv().is_empty());
}
