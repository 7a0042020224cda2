//! Profiles for agents, read with one SOQL query by external ID.

mod common;

use common::*;
use omni_plugin_sdk::prelude::*;
use omni_salesforce::Salesforce;
use serde_json::json;

#[test]
fn a_contact_is_found_with_its_owner_and_account() {
    let mock = host().respond(answer(200, QUERY_CONTACT));
    let profile = Salesforce::lookup(&mock.host(), ada()).unwrap().unwrap();
    assert_eq!(
        profile,
        Profile {
            record_id: Some(CONTACT_ID.into()),
            name: Some("Ada Lovelace".into()),
            company: Some("Analytical Engines Ltd".into()),
            owner: Some("Grace Hopper".into()),
            lifecycle_stage: Some("customer".into()),
            url: Some(format!("{INSTANCE}/lightning/r/Contact/{CONTACT_ID}/view")),
            orders: vec![],
            attributes: vec![("Title".into(), "Head of Engineering".into())],
        }
    );

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    // SELECT Id, Name, Email, Phone, Title, Owner.Name, Account.Name FROM Contact
    // WHERE Omni_Person_Id__c = 'p-1' LIMIT 1
    assert_request(
        &requests[0],
        "GET",
        &data(
            "/query?q=SELECT%20Id%2C%20Name%2C%20Email%2C%20Phone%2C%20Title%2C%20Owner.Name%2C%20Account.Name\
             %20FROM%20Contact%20WHERE%20Omni_Person_Id__c%20%3D%20%27p-1%27%20LIMIT%201",
        ),
        STATIC_TOKEN,
    );
}

#[test]
fn a_lead_shows_its_company_and_status() {
    let mock = host()
        .with_config("object", json!("Lead"))
        .respond(answer(200, QUERY_LEAD));
    let profile = Salesforce::lookup(&mock.host(), ada()).unwrap().unwrap();
    assert_eq!(profile.record_id.as_deref(), Some(LEAD_ID));
    assert_eq!(profile.company.as_deref(), Some("[not provided]"));
    assert_eq!(profile.owner.as_deref(), Some("Inbound Sales Queue"));
    assert_eq!(profile.lifecycle_stage.as_deref(), Some("Open - Not Contacted"));
    assert_eq!(
        profile.url.as_deref(),
        Some(format!("{INSTANCE}/lightning/r/Lead/{LEAD_ID}/view").as_str())
    );
    // A null Title is no attribute.
    assert!(profile.attributes.is_empty());
    assert!(
        mock.requests()[0]
            .url
            .contains("%20Company%2C%20Status%20FROM%20Lead%20")
    );
}

#[test]
fn no_record_is_no_profile() {
    let mock = host().respond(answer(200, QUERY_EMPTY));
    assert_eq!(Salesforce::lookup(&mock.host(), ada()).unwrap(), None);
}

#[test]
fn a_contact_without_account_or_title_still_has_a_profile() {
    let sparse = json!({
        "totalSize": 1, "done": true,
        "records": [{"attributes": {"type": "Contact"}, "Id": CONTACT_ID, "Name": "Ada", "Owner": null, "Account": null}]
    });
    let mock = host().respond(IncomingResponse::json(200, &sparse));
    let profile = Salesforce::lookup(&mock.host(), ada()).unwrap().unwrap();
    assert_eq!(profile.company, None);
    assert_eq!(profile.owner, None);
    assert_eq!(profile.name.as_deref(), Some("Ada"));
}

#[test]
fn lookup_failures_are_classified() {
    let mock = host().respond(answer(403, REQUEST_LIMIT_EXCEEDED));
    assert!(matches!(
        Salesforce::lookup(&mock.host(), ada()).unwrap_err(),
        IntegrationError::Retryable { .. }
    ));

    let bad_field = r#"[{"message":"\nWHERE Omni_Person_Id__c = 'p-1'\n      ^\nERROR at Row:1:Column:99\nNo such column 'Omni_Person_Id__c' on entity 'Contact'.","errorCode":"INVALID_FIELD"}]"#;
    let mock = host().respond(answer(400, bad_field));
    assert!(matches!(
        Salesforce::lookup(&mock.host(), ada()).unwrap_err(),
        IntegrationError::Permanent { message } if message.contains("INVALID_FIELD")
    ));

    let mock = host().respond(IncomingResponse::new(200, "<html>"));
    assert!(matches!(
        Salesforce::lookup(&mock.host(), ada()).unwrap_err(),
        IntegrationError::Retryable { .. }
    ));
}
