//! Persons upserted as Contacts or Leads by external ID, answered with Salesforce's documented responses.

mod common;

use common::*;
use omni_plugin_sdk::prelude::*;
use omni_salesforce::Salesforce;
use serde_json::json;

#[test]
fn a_new_person_is_upserted_as_a_contact() {
    let mock = host().respond(answer(201, UPSERT_CREATED));
    let outcome = Salesforce::on_event(&mock.host(), event(7, "person.created", ada(), json!({}))).unwrap();
    assert_eq!(outcome, EventOutcome::record(CONTACT_ID));

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_request(
        request,
        "PATCH",
        &data("/sobjects/Contact/Omni_Person_Id__c/p-1"),
        STATIC_TOKEN,
    );
    assert_eq!(request.header_value("content-type"), Some("application/json"));
    assert_eq!(
        body(request),
        json!({
            "FirstName": "Ada",
            "LastName": "Lovelace",
            "Email": "ada@example.com",
            "Phone": "+14155550100"
        })
    );
    // Remembered for later events (a resolved conversation's WhoId).
    assert_eq!(
        mock.kv().get("record/Contact/p-1").map(Vec::as_slice),
        Some(CONTACT_ID.as_bytes())
    );
}

#[test]
fn an_existing_contact_is_updated_and_keeps_what_omni_does_not_know() {
    let mock = host().respond(answer(200, UPSERT_UPDATED));
    let mut person = ada();
    person.display_name = None;
    person.records = vec![CONTACT_ID.into()];
    let outcome = Salesforce::on_event(
        &mock.host(),
        event(
            8,
            "identity.added",
            person,
            json!({"kind": "email", "value": "ada@example.com", "source": "email"}),
        ),
    )
    .unwrap();
    assert_eq!(outcome, EventOutcome::record(CONTACT_ID));
    // No stand-in LastName overwrites the name sales typed in.
    assert_eq!(
        body(&mock.requests()[0]),
        json!({"Email": "ada@example.com", "Phone": "+14155550100"})
    );
}

#[test]
fn a_lead_gets_a_company_when_it_may_be_new() {
    let mock = host()
        .with_config("object", json!("Lead"))
        .with_config("lead_company", json!("Unknown (Omni)"))
        .with_config("external_id_field", json!("Omni_Id__c"))
        .respond(answer(201, LEAD_CREATED));
    let outcome = Salesforce::on_event(&mock.host(), event(3, "person.created", ada(), json!({}))).unwrap();
    assert_eq!(outcome, EventOutcome::record(LEAD_ID));
    let request = &mock.requests()[0];
    assert_request(request, "PATCH", &data("/sobjects/Lead/Omni_Id__c/p-1"), STATIC_TOKEN);
    assert_eq!(
        body(request),
        json!({
            "FirstName": "Ada",
            "LastName": "Lovelace",
            "Email": "ada@example.com",
            "Phone": "+14155550100",
            "Company": "Unknown (Omni)"
        })
    );
}

#[test]
fn a_known_lead_keeps_its_company_unless_it_was_deleted() {
    let mut person = ada();
    person.records = vec![LEAD_ID.into()];
    let mock = host()
        .with_config("object", json!("Lead"))
        .respond(answer(400, REQUIRED_COMPANY_MISSING))
        .respond(answer(201, LEAD_CREATED));
    let outcome = Salesforce::on_event(&mock.host(), event(9, "person.merged", person, json!({}))).unwrap();
    assert_eq!(outcome, EventOutcome::record(LEAD_ID));

    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert!(body(&requests[0]).get("Company").is_none());
    // Salesforce said the record is new (deleted there): the required field follows.
    assert_eq!(requests[1].url, requests[0].url);
    assert_eq!(body(&requests[1])["Company"], "[not provided]");
}

#[test]
fn names_fall_back_to_email_phone_or_the_person_id() {
    let cases = [
        (None, vec![Identity::email("ada@example.com")], "ada@example.com"),
        (Some(" "), vec![Identity::phone("+14155550100")], "+14155550100"),
        (None, vec![Identity::channel_user("telegram:42")], "Omni person p-1"),
        (Some("Ada"), vec![], "Ada"),
    ];
    for (name, identities, last_name) in cases {
        let mock = host().respond(answer(201, UPSERT_CREATED));
        let person = Person {
            id: "p-1".into(),
            display_name: name.map(str::to_owned),
            identities,
            records: vec![],
        };
        Salesforce::on_event(&mock.host(), event(1, "message.received", person, json!({}))).unwrap();
        let sent = body(&mock.requests()[0]);
        assert_eq!(sent["LastName"], last_name);
        assert!(sent.get("FirstName").is_none());
    }
}

#[test]
fn long_values_are_cut_to_salesforces_field_lengths() {
    let mock = host().respond(answer(201, UPSERT_CREATED));
    let mut person = ada();
    person.display_name = Some(format!("{} {}", "F".repeat(60), "L".repeat(100)));
    Salesforce::on_event(&mock.host(), event(1, "person.created", person, json!({}))).unwrap();
    let sent = body(&mock.requests()[0]);
    assert_eq!(sent["FirstName"].as_str().unwrap().len(), 40);
    assert_eq!(sent["LastName"].as_str().unwrap().len(), 80);
}

#[test]
fn a_replay_sends_the_same_idempotent_upsert() {
    let mock = host()
        .respond(answer(201, UPSERT_CREATED))
        .respond(answer(200, UPSERT_UPDATED));
    let first = Salesforce::on_event(&mock.host(), event(7, "person.created", ada(), json!({}))).unwrap();
    // The replay re-delivers the same position; the person now has its record linked.
    let mut linked = ada();
    linked.records = vec![CONTACT_ID.into()];
    let again = Salesforce::on_event(&mock.host(), event(7, "person.created", linked, json!({}))).unwrap();
    assert_eq!(first, again);

    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method, requests[1].method);
    assert_eq!(requests[0].url, requests[1].url);
    assert_eq!(requests[0].body, requests[1].body);
}

#[test]
fn events_that_change_nothing_in_salesforce_send_nothing() {
    let mut linked = ada();
    linked.records = vec![CONTACT_ID.into()];
    let anonymous = Person {
        id: "p-2".into(),
        display_name: Some("Visitor".into()),
        identities: vec![Identity::channel_user("webchat:v-1")],
        records: vec![],
    };
    let events = [
        event(1, "person.created", anonymous.clone(), json!({})),
        event(
            2,
            "message.received",
            linked.clone(),
            json!({"channel": "email", "text": "hi"}),
        ),
        event(
            3,
            "identity.added",
            linked.clone(),
            json!({"kind": "channel-user", "value": "x", "source": "sms"}),
        ),
        event(4, "person.split", linked.clone(), json!({})),
        event(5, "conversation.opened", linked.clone(), json!({})),
        event(6, "conversation.reopened", linked.clone(), json!({})),
        event(7, "csat.received", linked.clone(), json!({"score": 5, "scale": 5})),
        event(8, "integration.shopify", linked.clone(), json!({})),
        event(9, "something.new", linked, json!(null)),
    ];
    // No credentials and no config: ignored events must not need them.
    let mock = testing::MockHost::new();
    for e in events {
        assert_eq!(Salesforce::on_event(&mock.host(), e).unwrap(), EventOutcome::none());
    }
    let mut personless = event(10, "person.created", ada(), json!({}));
    personless.person = None;
    assert_eq!(
        Salesforce::on_event(&mock.host(), personless).unwrap(),
        EventOutcome::none()
    );
    assert!(mock.requests().is_empty());
}

#[test]
fn a_first_message_or_any_identity_gives_a_person_a_record() {
    let anonymous = Person {
        id: "p-2".into(),
        display_name: None,
        identities: vec![Identity::channel_user("webchat:v-1")],
        records: vec![],
    };
    let mock = host()
        .respond(answer(201, UPSERT_CREATED))
        .respond(answer(200, UPSERT_UPDATED));
    Salesforce::on_event(&mock.host(), event(1, "message.received", anonymous.clone(), json!({}))).unwrap();
    Salesforce::on_event(
        &mock.host(),
        event(
            2,
            "identity.added",
            anonymous,
            json!({"kind": "channel-user", "value": "webchat:v-1"}),
        ),
    )
    .unwrap();
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(body(&requests[0]), json!({"LastName": "Omni person p-2"}));
    // The second upsert knows the record (remembered), so it sends no stand-in name.
    assert_eq!(body(&requests[1]), json!({}));
}

#[test]
fn an_update_answered_with_204_reads_the_id_back() {
    let mock = host()
        .with_config("api_version", json!("v45.0"))
        .respond(IncomingResponse::new(204, ""))
        .respond(answer(200, RECORD_ID));
    let outcome = Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap();
    assert_eq!(outcome, EventOutcome::record("003D000000Q8eQnIAJ"));
    let requests = mock.requests();
    assert_request(
        &requests[1],
        "GET",
        &format!("{INSTANCE}/services/data/v45.0/sobjects/Contact/Omni_Person_Id__c/p-1?fields=Id"),
        STATIC_TOKEN,
    );
}

#[test]
fn several_records_with_one_external_id_are_permanent() {
    let mock = host().respond(answer(300, MULTIPLE_CHOICES));
    let error = Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap_err();
    assert!(matches!(&error, IntegrationError::Permanent { message } if message.contains("Unique")));
}

#[test]
fn a_merge_upserts_the_survivor_and_annotates_the_merged_record() {
    let mock = host()
        .respond(answer(200, UPSERT_UPDATED))
        .respond(answer(200, RECORD_ID))
        .respond(IncomingResponse::new(204, ""));
    let outcome = Salesforce::on_event(
        &mock.host(),
        event(
            12,
            "person.merged",
            ada(),
            json!({"merged": "p-merged", "actor": "agent:1", "reason": "same email"}),
        ),
    )
    .unwrap();
    assert_eq!(outcome, EventOutcome::record(CONTACT_ID));

    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    assert_request(
        &requests[0],
        "PATCH",
        &data("/sobjects/Contact/Omni_Person_Id__c/p-1"),
        STATIC_TOKEN,
    );
    assert_request(
        &requests[1],
        "GET",
        &data("/sobjects/Contact/Omni_Person_Id__c/p-merged?fields=Id"),
        STATIC_TOKEN,
    );
    assert_request(
        &requests[2],
        "PATCH",
        &data("/sobjects/Contact/003D000000Q8eQnIAJ"),
        STATIC_TOKEN,
    );
    assert_eq!(
        body(&requests[2]),
        json!({"Description": "Merged into Omni person p-1"})
    );
}

#[test]
fn a_merge_without_a_merged_record_only_upserts_the_survivor() {
    let mock = host()
        .respond(answer(200, UPSERT_UPDATED))
        .respond(answer(404, EXTERNAL_ID_NOT_FOUND));
    let outcome = Salesforce::on_event(
        &mock.host(),
        event(12, "person.merged", ada(), json!({"merged": "p-merged"})),
    )
    .unwrap();
    assert_eq!(outcome, EventOutcome::record(CONTACT_ID));
    assert_eq!(mock.requests().len(), 2);

    // No `merged` in the data, or the survivor itself: nothing to annotate.
    for data in [json!({}), json!({"merged": 5}), json!({"merged": "p-1"})] {
        let mock = host().respond(answer(200, UPSERT_UPDATED));
        Salesforce::on_event(&mock.host(), event(12, "person.merged", ada(), data)).unwrap();
        assert_eq!(mock.requests().len(), 1);
    }
}

#[test]
fn unusual_person_ids_are_encoded() {
    let mock = host().respond(answer(201, UPSERT_CREATED));
    let mut person = ada();
    person.id = "p/1 ä".into();
    Salesforce::on_event(&mock.host(), event(1, "person.created", person, json!({}))).unwrap();
    assert_eq!(
        mock.requests()[0].url,
        data("/sobjects/Contact/Omni_Person_Id__c/p%2F1%20%C3%A4")
    );
}
