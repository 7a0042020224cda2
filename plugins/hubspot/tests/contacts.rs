//! Linking persons to contacts: search before create, HubSpot's conflict
//! answer, and identities learnt later, against HubSpot's documented answers.

mod common;

use common::*;
use omni_hubspot::HubSpot;
use omni_plugin_sdk::LogLevel;
use omni_plugin_sdk::prelude::*;
use serde_json::json;

#[test]
fn a_person_hubspot_does_not_know_becomes_a_contact() {
    let mock = host()
        .respond(answer(200, "search-empty.json"))
        .respond(answer(200, "search-empty.json"))
        .respond(answer(201, "contact-created.json"));
    let outcome = HubSpot::on_event(&mock.host(), event("person.created", 10, bryan(&[]))).unwrap();
    assert_eq!(outcome, EventOutcome::record("512"));

    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    assert_request(
        &requests[0],
        "POST",
        "/crm/v3/objects/contacts/search",
        Some(contact_search("email", "bcooper@biglytics.net")),
    );
    assert_request(
        &requests[1],
        "POST",
        "/crm/v3/objects/contacts/search",
        Some(contact_search("phone", "+14155550100")),
    );
    assert_request(
        &requests[2],
        "POST",
        "/crm/v3/objects/contacts",
        Some(json!({"properties": {
            "email": "bcooper@biglytics.net",
            "firstname": "Bryan",
            "lastname": "Cooper",
            "phone": "+14155550100"
        }})),
    );
}

#[test]
fn search_before_create_finds_an_existing_contact() {
    let mock = host().respond(answer(200, "contact-search.json"));
    let outcome = HubSpot::on_event(&mock.host(), event("message.received", 11, bryan(&[]))).unwrap();
    assert_eq!(outcome, EventOutcome::record("512"));
    let requests = mock.requests();
    assert_eq!(requests.len(), 1, "no contact is created");
    assert_request(
        &requests[0],
        "POST",
        "/crm/v3/objects/contacts/search",
        Some(contact_search("email", "bcooper@biglytics.net")),
    );
}

#[test]
fn the_phone_is_searched_when_the_email_finds_nothing() {
    let mock = host()
        .respond(answer(200, "search-empty.json"))
        .respond(answer(200, "contact-search.json"));
    let outcome = HubSpot::on_event(&mock.host(), event("identity.added", 12, bryan(&[]))).unwrap();
    assert_eq!(outcome, EventOutcome::record("512"));
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(body(&requests[1]), contact_search("phone", "+14155550100"));
}

#[test]
fn only_known_properties_are_sent() {
    let mock = host()
        .respond(answer(200, "search-empty.json"))
        .respond(answer(201, "contact-created.json"));
    let phone_only = person(vec![Identity::phone("+14155550199")], &[]);
    let outcome = HubSpot::on_event(&mock.host(), event("message.received", 13, phone_only)).unwrap();
    assert_eq!(outcome, EventOutcome::record("512"));
    let requests = mock.requests();
    assert_eq!(requests.len(), 2, "no email to search by");
    assert_eq!(body(&requests[0]), contact_search("phone", "+14155550199"));
    assert_eq!(body(&requests[1]), json!({"properties": {"phone": "+14155550199"}}));
}

#[test]
fn a_conflict_takes_the_existing_contact() {
    let mock = host()
        .respond(answer(200, "search-empty.json"))
        .respond(answer(200, "search-empty.json"))
        .respond(answer(409, "contact-conflict.json"));
    let outcome = HubSpot::on_event(&mock.host(), event("person.created", 14, bryan(&[]))).unwrap();
    assert_eq!(outcome, EventOutcome::record("37765128953"));
    assert_eq!(mock.requests().len(), 3);
}

#[test]
fn a_conflict_without_an_id_is_retried_until_the_search_finds_the_contact() {
    let mock = host()
        .respond(answer(200, "search-empty.json"))
        .respond(answer(200, "search-empty.json"))
        .respond(IncomingResponse::json(
            409,
            &json!({"status": "error", "message": "Contact already exists.", "category": "CONFLICT"}),
        ));
    let error = HubSpot::on_event(&mock.host(), event("person.created", 15, bryan(&[]))).unwrap_err();
    assert!(matches!(error, IntegrationError::Retryable { .. }), "{error:?}");
}

#[test]
fn never_creating_only_links_existing_contacts() {
    let mock = host()
        .with_config("create_contacts", json!("never"))
        .respond(answer(200, "search-empty.json"))
        .respond(answer(200, "search-empty.json"));
    let outcome = HubSpot::on_event(&mock.host(), event("person.created", 16, bryan(&[]))).unwrap();
    assert_eq!(outcome, EventOutcome::none());
    assert_eq!(mock.requests().len(), 2, "two searches, no create");
}

#[test]
fn a_linked_person_costs_no_request_and_a_replay_creates_nothing() {
    // No token either: events with nothing to do never read the config.
    let mock = testing::MockHost::new();
    for kind in ["person.created", "message.received"] {
        let outcome = HubSpot::on_event(&mock.host(), event(kind, 17, bryan(&["512"]))).unwrap();
        assert_eq!(outcome, EventOutcome::none(), "{kind}");
    }
    let mut resolved = event("conversation.resolved", 18, bryan(&["512"]));
    resolved.transcript.clear();
    assert_eq!(HubSpot::on_event(&mock.host(), resolved).unwrap(), EventOutcome::none());
    assert!(mock.requests().is_empty());
}

#[test]
fn a_person_without_email_or_phone_is_not_linked() {
    let mock = testing::MockHost::new();
    let visitor = person(vec![Identity::channel_user("webchat:v-9")], &[]);
    for kind in [
        "person.created",
        "message.received",
        "identity.added",
        "conversation.resolved",
    ] {
        let outcome = HubSpot::on_event(&mock.host(), event(kind, 19, visitor.clone())).unwrap();
        assert_eq!(outcome, EventOutcome::none(), "{kind}");
    }
    assert!(mock.requests().is_empty());
}

fn identity_added(kind: &str, value: &str, person: Person) -> DomainEvent {
    let mut added = event("identity.added", 20, person);
    added.data = json!({"kind": kind, "value": value, "source": "webchat"});
    added
}

#[test]
fn a_new_email_is_copied_to_a_linked_contact_without_one() {
    let mock = host()
        .respond(answer(200, "contact-phone-only.json"))
        .respond(answer(200, "contact-updated.json"));
    let added = identity_added("email", "bcooper@biglytics.net", bryan(&["512"]));
    let outcome = HubSpot::on_event(&mock.host(), added).unwrap();
    assert_eq!(outcome, EventOutcome::none(), "the contact is linked already");
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_request(
        &requests[0],
        "GET",
        "/crm/v3/objects/contacts/512?properties=email",
        None,
    );
    assert_request(
        &requests[1],
        "PATCH",
        "/crm/v3/objects/contacts/512",
        Some(json!({"properties": {"email": "bcooper@biglytics.net"}})),
    );
}

#[test]
fn hubspots_own_value_is_never_overwritten() {
    // The contact has a phone already (a different one): no PATCH.
    let mock = host().respond(answer(200, "contact-phone-only.json"));
    let added = identity_added("phone", "+14155550177", bryan(&["512"]));
    HubSpot::on_event(&mock.host(), added).unwrap();
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_request(
        &requests[0],
        "GET",
        "/crm/v3/objects/contacts/512?properties=phone",
        None,
    );

    // Other kinds of identity are not HubSpot properties.
    let mock = host();
    let added = identity_added("channel_user", "telegram:42", bryan(&["512"]));
    assert_eq!(HubSpot::on_event(&mock.host(), added).unwrap(), EventOutcome::none());
    assert!(mock.requests().is_empty());
}

#[test]
fn an_email_held_by_another_contact_is_left_there() {
    let mock = host()
        .respond(answer(200, "contact-phone-only.json"))
        .respond(answer(409, "contact-conflict.json"));
    let added = identity_added("email", "bcooper@biglytics.net", bryan(&["512"]));
    assert_eq!(HubSpot::on_event(&mock.host(), added).unwrap(), EventOutcome::none());
    assert!(
        mock.logs()
            .iter()
            .any(|(level, line)| *level == LogLevel::Warn && line.contains("Existing ID: 37765128953")),
        "{:?}",
        mock.logs()
    );
}

#[test]
fn a_deleted_linked_contact_gets_no_update() {
    let mock = host().respond(answer(404, "error-404.json"));
    let added = identity_added("email", "bcooper@biglytics.net", bryan(&["512"]));
    assert_eq!(HubSpot::on_event(&mock.host(), added).unwrap(), EventOutcome::none());
    assert_eq!(mock.requests().len(), 1);
}
