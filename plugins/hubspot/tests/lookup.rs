//! The agent's view of a person: the contact, its owner and a record link.

mod common;

use common::*;
use omni_hubspot::HubSpot;
use omni_plugin_sdk::prelude::*;
use serde_json::json;

const CONTACT_PATH: &str =
    "/crm/v3/objects/contacts/512?properties=firstname,lastname,email,phone,company,lifecyclestage,hubspot_owner_id";

fn lookup_search(property: &str, value: &str) -> serde_json::Value {
    json!({
        "filterGroups": [{"filters": [{"propertyName": property, "operator": "EQ", "value": value}]}],
        "properties": ["firstname", "lastname", "email", "phone", "company", "lifecyclestage", "hubspot_owner_id"],
        "limit": 1
    })
}

#[test]
fn a_linked_contact_is_read_with_its_owner() {
    let mock = host()
        .respond(answer(200, "contact.json"))
        .respond(answer(200, "owner.json"));
    let profile = HubSpot::lookup(&mock.host(), bryan(&["512"])).unwrap().unwrap();
    assert_eq!(
        profile,
        Profile {
            record_id: Some("512".into()),
            name: Some("Bryan Cooper".into()),
            company: Some("Biglytics".into()),
            owner: Some("John Smith".into()),
            lifecycle_stage: Some("Customer".into()),
            url: Some("https://app.hubspot.com/contacts/62515/record/0-1/512".into()),
            orders: Vec::new(),
            attributes: vec![
                ("email".into(), "bcooper@biglytics.net".into()),
                ("phone".into(), "+14155550100".into()),
            ],
        }
    );
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_request(&requests[0], "GET", CONTACT_PATH, None);
    assert_request(&requests[1], "GET", "/crm/v3/owners/6166860", None);
}

#[test]
fn an_unlinked_person_is_searched_by_email() {
    let mock = host().respond(answer(200, "contact-search.json"));
    let profile = HubSpot::lookup(&mock.host(), bryan(&[])).unwrap().unwrap();
    assert_eq!(profile.record_id.as_deref(), Some("512"));
    assert_eq!(profile.name.as_deref(), Some("Bryan Cooper"));
    assert_eq!(profile.owner, None, "the contact has no owner");
    assert_eq!(profile.company, None);
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_request(
        &requests[0],
        "POST",
        "/crm/v3/objects/contacts/search",
        Some(lookup_search("email", "bcooper@biglytics.net")),
    );
}

#[test]
fn a_failed_owner_lookup_leaves_the_owner_out() {
    let mock = host()
        .respond(answer(200, "contact.json"))
        .respond(answer(403, "error-403-scopes.json"));
    let profile = HubSpot::lookup(&mock.host(), bryan(&["512"])).unwrap().unwrap();
    assert_eq!(profile.owner, None);
    assert_eq!(profile.company.as_deref(), Some("Biglytics"));

    let mock = host()
        .respond(answer(200, "contact.json"))
        .fail_http(HttpError::Timeout("2s".into()));
    let profile = HubSpot::lookup(&mock.host(), bryan(&["512"])).unwrap().unwrap();
    assert_eq!(profile.owner, None);
}

#[test]
fn nobody_in_hubspot_is_none() {
    let mock = host()
        .respond(answer(200, "search-empty.json"))
        .respond(answer(200, "search-empty.json"));
    assert_eq!(HubSpot::lookup(&mock.host(), bryan(&[])).unwrap(), None);
    let requests = mock.requests();
    assert_eq!(body(&requests[1]), lookup_search("phone", "+14155550100"));

    // Nothing to search by: no request.
    let mock = host();
    let visitor = person(vec![Identity::channel_user("webchat:v-9")], &[]);
    assert_eq!(HubSpot::lookup(&mock.host(), visitor).unwrap(), None);
    assert!(mock.requests().is_empty());
}

#[test]
fn a_deleted_linked_contact_falls_back_to_the_search() {
    let mock = host()
        .respond(answer(404, "error-404.json"))
        .respond(answer(200, "contact-search.json"));
    let profile = HubSpot::lookup(&mock.host(), bryan(&["400"])).unwrap().unwrap();
    assert_eq!(profile.record_id.as_deref(), Some("512"));
    assert_eq!(mock.requests().len(), 2);
}

#[test]
fn profiles_without_portal_id_have_no_link() {
    let mock = testing::MockHost::new()
        .with_secret("access_token", TOKEN)
        .with_config("api_base", json!(BASE))
        .respond(answer(200, "contact-search.json"));
    let profile = HubSpot::lookup(&mock.host(), bryan(&[])).unwrap().unwrap();
    assert_eq!(profile.url, None);
}

#[test]
fn lookup_failures_are_reported() {
    let mock = host().respond(answer(429, "error-429.json").with_header("Retry-After", "1"));
    let error = HubSpot::lookup(&mock.host(), bryan(&["512"])).unwrap_err();
    assert!(
        matches!(
            error,
            IntegrationError::Retryable {
                after_ms: Some(1000),
                ..
            }
        ),
        "{error:?}"
    );
}
