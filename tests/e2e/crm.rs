//! CRM integrations end to end: the real binary with web chat and the
//! HubSpot integration against a local stand-in of HubSpot's CRM API. A
//! new chat person appears in the CRM once, its record enriches the person,
//! an operator's merge is reflected, a replay of the whole log duplicates
//! nothing, and a CRM that was down catches up in order.

use std::time::{Duration, Instant};

use omni_plugin_sdk::crypto::hmac_sha256_hex;
use omni_tests::hubspot::FakeHubSpot;
use omni_tests::process::{OmniProcess, plugin};
use omni_tests::wasm;
use serde_json::json;

const SECRET: &str = "s3cret";
const WAIT: Duration = Duration::from_secs(20);

async fn start(hubspot: &FakeHubSpot, subscribe: &str) -> OmniProcess {
    let config = [
        plugin(
            "webchat",
            wasm::webchat(),
            "secrets = { identity_secret = { env = \"OMNI_TEST_SECRET\" } }",
        ),
        plugin(
            "hubspot",
            wasm::hubspot(),
            &format!(
                "allowed_hosts = [\"{0}\"]\nlookup_ttl = \"1s\"\nsecrets = {{ access_token = {{ env = \"OMNI_TEST_SECRET\" }} }}\n\
                 [plugins.config]\napi_base = \"{0}\"\n[plugins.subscribe]\nfrom = \"beginning\"\n{subscribe}\n",
                hubspot.base
            ),
        ),
    ]
    .join("\n");
    OmniProcess::start(&config).await
}

/// A signed-in web chat message.
async fn chat(omni: &OmniProcess, visitor: &str, id: &str, email: &str, text: &str) {
    let body = json!({"visitor_id": visitor, "message_id": id, "text": text, "email": email, "name": "Ann Example",
                      "user_hash": hmac_sha256_hex(SECRET.as_bytes(), email.as_bytes())});
    let (status, answer) = omni.post_json("/hooks/webchat/messages", &body).await;
    assert_eq!(status, 202, "{answer}");
}

/// The person and conversation of the visitor's latest conversation.
async fn conversation_of(omni: &OmniProcess, visitor: &str) -> (String, String) {
    let (_, page) = omni.api_get("/v1/conversations?limit=200").await;
    for conversation in page["items"].as_array().unwrap() {
        let id = conversation["id"].as_str().unwrap();
        let (_, detail) = omni.api_get(&format!("/v1/conversations/{id}")).await;
        let (_, person) = omni
            .api_get(&format!(
                "/v1/persons/{}?enrich=false",
                detail["person_id"].as_str().unwrap()
            ))
            .await;
        let has_visitor = person["identities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["value"] == format!("webchat:{visitor}"));
        if has_visitor {
            return (person["id"].as_str().unwrap().to_owned(), id.to_owned());
        }
    }
    panic!("no conversation of visitor {visitor}");
}

async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The record ids of the person's `hubspot:` identities.
async fn records(omni: &OmniProcess, person: &str) -> Vec<String> {
    let (_, p) = omni.api_get(&format!("/v1/persons/{person}?enrich=false")).await;
    p["identities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "crm_id")
        .filter_map(|i| i["value"].as_str()?.strip_prefix("hubspot:").map(str::to_owned))
        .collect()
}

async fn wait_for_records(omni: &OmniProcess, person: &str, count: usize) -> Vec<String> {
    let started = Instant::now();
    loop {
        let found = records(omni, person).await;
        if found.len() >= count {
            return found;
        }
        assert!(
            started.elapsed() < WAIT,
            "person {person} has records {found:?}, expected {count}\nlogs:\n{}",
            omni.logs()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until the subscriber has looked at every event and retries nothing.
async fn caught_up(omni: &OmniProcess) {
    omni.eventually("/v1/subscribers", WAIT, "hubspot to catch up", |list| {
        let hubspot = list.as_array()?.iter().find(|s| s["name"] == "hubspot")?;
        (hubspot["lag"] == 0 && hubspot["waiting"] == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_chat_person_appears_in_the_crm_once_and_enriches_the_person() {
    let hubspot = FakeHubSpot::start().await;
    let omni = start(&hubspot, "").await;
    chat(&omni, "v-ann", "m1", "ann@example.com", "Hello, where is my order?").await;
    chat(&omni, "v-ann", "m2", "ann@example.com", "Order 1001").await;
    let (person, _) = conversation_of(&omni, "v-ann").await;

    let linked = wait_for_records(&omni, &person, 1).await;
    caught_up(&omni).await;
    let contacts = hubspot.contacts();
    assert_eq!(contacts.len(), 1, "{contacts:#?}");
    assert_eq!(contacts[0].properties["email"], "ann@example.com");
    assert_eq!(linked, vec![contacts[0].id.clone()]);
    let creates = hubspot
        .log()
        .iter()
        .filter(|l| *l == "POST /crm/v3/objects/contacts")
        .count();
    assert_eq!(creates, 1, "{:#?}", hubspot.log());

    // The record is a verified identity of the person, linked by the integration.
    let (_, p) = omni.api_get(&format!("/v1/persons/{person}")).await;
    let identity = p["identities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "crm_id")
        .unwrap();
    assert_eq!(identity["verified"], true);
    assert_eq!(identity["verified_by"], "hubspot");
    // Enrichment: HubSpot's view of the person, on the person.
    let profile = &p["profiles"]["hubspot"];
    assert_eq!(profile["profile"]["record_id"], contacts[0].id.as_str(), "{p:#}");
    assert_eq!(profile["stale"], false);
    assert!(profile["fetched_at"].is_string(), "{profile}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resolved_conversation_is_logged_once_even_after_replaying_the_whole_log() {
    let hubspot = FakeHubSpot::start().await;
    let omni = start(&hubspot, "").await;
    chat(&omni, "v-bob", "m1", "bob@example.com", "My parcel is late").await;
    let (person, conversation) = conversation_of(&omni, "v-bob").await;
    let (status, reply) = omni
        .api_post(
            &format!("/v1/conversations/{conversation}/messages"),
            &json!({"text": "Sorry Bob, it ships today."}),
        )
        .await;
    assert_eq!(status, 202, "{reply}");
    let (status, body) = omni
        .api_patch(
            &format!("/v1/conversations/{conversation}"),
            &json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    wait_until("the transcript note", || hubspot.notes().len() == 1).await;
    let note = &hubspot.notes()[0];
    let body = note.properties["hs_note_body"].as_str().unwrap();
    assert!(
        body.contains("My parcel is late") && body.contains("it ships today"),
        "{body}"
    );
    assert_eq!(
        note.contact.as_deref(),
        Some(wait_for_records(&omni, &person, 1).await[0].as_str())
    );
    caught_up(&omni).await;

    let (status, replay) = omni
        .api_post("/v1/subscribers/hubspot/replay", &json!({"from": 0}))
        .await;
    assert_eq!(status, 202, "{replay}");
    assert_eq!(replay["position"], 0);
    caught_up(&omni).await;
    // The replay went through HubSpot again...
    let searches = hubspot
        .log()
        .iter()
        .filter(|l| *l == "POST /crm/v3/objects/notes/search" || *l == "POST /crm/v3/objects/contacts/search")
        .count();
    assert!(searches >= 1, "{:#?}", hubspot.log());
    // ...and created nothing twice.
    assert_eq!(hubspot.contacts().len(), 1, "{:#?}", hubspot.contacts());
    assert_eq!(hubspot.notes().len(), 1, "{:#?}", hubspot.notes());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_merge_is_reflected_in_the_crm() {
    let hubspot = FakeHubSpot::start().await;
    let omni = start(&hubspot, "").await;
    chat(&omni, "v-home", "m1", "cara@example.com", "Hi from home").await;
    let (first, _) = conversation_of(&omni, "v-home").await;
    let first_record = wait_for_records(&omni, &first, 1).await;
    chat(&omni, "v-work", "m2", "cara@work.example", "Hi from work").await;
    let (second, _) = conversation_of(&omni, "v-work").await;
    let second_record = wait_for_records(&omni, &second, 1).await;
    assert_eq!(hubspot.contacts().len(), 2);

    let (status, merged) = omni
        .api_post(
            &format!("/v1/persons/{first}/merge"),
            &json!({"other_person_id": second, "reason": "same customer, two addresses"}),
        )
        .await;
    assert_eq!(status, 200, "{merged}");
    wait_until("the contacts to merge", || hubspot.contacts().len() == 1).await;
    let survivor = &hubspot.contacts()[0];
    assert_eq!(survivor.id, first_record[0], "the older record survives");
    let merged_away = hubspot
        .all_contacts()
        .into_iter()
        .find(|c| c.id == second_record[0])
        .unwrap();
    assert_eq!(merged_away.merged_into.as_deref(), Some(first_record[0].as_str()));
    let both = wait_for_records(&omni, merged["id"].as_str().unwrap(), 2).await;
    assert_eq!(both.len(), 2, "the person keeps both record ids: {both:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crm_that_was_down_catches_up_in_order_without_slowing_ingestion() {
    let hubspot = FakeHubSpot::start().await;
    hubspot.set_down(true);
    let omni = start(&hubspot, "first_retry = \"100ms\"\nmax_retry = \"400ms\"").await;
    let started = Instant::now();
    for (i, name) in ["dan", "eve", "fay"].iter().enumerate() {
        chat(
            &omni,
            &format!("v-{name}"),
            &format!("m{i}"),
            &format!("{name}@example.com"),
            "Hello",
        )
        .await;
    }
    let (_, conversation) = conversation_of(&omni, "v-eve").await;
    let (status, _) = omni
        .api_patch(
            &format!("/v1/conversations/{conversation}"),
            &json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(status, 200);
    let ingest_time = started.elapsed();
    // While HubSpot is down, deliveries fail and wait; nothing reached it.
    omni.eventually("/v1/subscribers", WAIT, "failed deliveries to wait", |list| {
        let hubspot = list.as_array()?.iter().find(|s| s["name"] == "hubspot")?;
        (hubspot["waiting"].as_i64()? > 0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(hubspot.contacts().is_empty());
    assert!(
        ingest_time < Duration::from_secs(5),
        "webhooks waited for the CRM: {ingest_time:?}"
    );

    hubspot.set_down(false);
    caught_up(&omni).await;
    wait_until("three contacts and one note", || {
        hubspot.contacts().len() == 3 && hubspot.notes().len() == 1
    })
    .await;
    // In order per person: Eve's contact existed before her transcript was logged.
    let log = hubspot.log();
    let first_note = log.iter().position(|l| l == "POST /crm/v3/objects/notes").unwrap();
    let eve = hubspot
        .contacts()
        .into_iter()
        .find(|c| c.properties["email"] == "eve@example.com")
        .unwrap();
    assert_eq!(hubspot.notes()[0].contact.as_deref(), Some(eve.id.as_str()));
    let creates_before_note = log[..first_note]
        .iter()
        .filter(|l| *l == "POST /crm/v3/objects/contacts")
        .count();
    assert!(creates_before_note >= 1, "{log:#?}");
    let (_, dead) = omni.api_get("/v1/subscribers/dead-letters").await;
    assert_eq!(dead, json!([]), "nothing was given up on");
}
