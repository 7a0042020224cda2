//! The Salesforce integration in the real host, against a local stand-in of
//! the REST API: a new person is upserted as a Contact by external id (so a
//! replay creates nothing), the Contact id joins the person, and a resolved
//! conversation becomes a completed Task on it.

use std::time::Duration;

use omni_plugin_sdk::crypto::hmac_sha256_hex;
use omni_tests::process::{OmniProcess, plugin};
use omni_tests::provider::FakeProvider;
use omni_tests::wasm;
use serde_json::json;

const SECRET: &str = "s3cret";

#[tokio::test(flavor = "multi_thread")]
async fn a_new_person_becomes_a_contact_and_a_resolved_conversation_a_task() {
    let salesforce = FakeProvider::start(|request, _| {
        if request.method == "PATCH" && request.path.contains("/sobjects/Contact/Omni_Person_Id__c/") {
            (
                201,
                json!({"id": "003R000000abcDEF", "success": true, "errors": [], "created": true}).to_string(),
            )
        } else if request.method == "PATCH" && request.path.contains("/sobjects/Task/Omni_Event_Id__c/") {
            (
                201,
                json!({"id": "00TR000000xyzABC", "success": true, "errors": [], "created": true}).to_string(),
            )
        } else {
            (
                404,
                json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]).to_string(),
            )
        }
    })
    .await;
    let config = [
        plugin(
            "webchat",
            wasm::webchat(),
            "secrets = { identity_secret = { env = \"OMNI_TEST_SECRET\" } }",
        ),
        plugin(
            "salesforce",
            wasm::salesforce(),
            &format!(
                "allowed_hosts = [\"{0}\"]\nsecrets = {{ access_token = {{ env = \"OMNI_TEST_SECRET\" }} }}\n\
                 [plugins.config]\ninstance_url = \"{0}\"\n[plugins.subscribe]\n\
                 events = [\"person.*\", \"identity.added\", \"conversation.resolved\"]\n",
                salesforce.origin()
            ),
        ),
    ]
    .join("\n");
    let omni = OmniProcess::start(&config).await;
    let email = "gil@example.com";
    let body = json!({"visitor_id": "v-gil", "message_id": "m1", "text": "Hi", "email": email, "name": "Gil Ross",
                      "user_hash": hmac_sha256_hex(SECRET.as_bytes(), email.as_bytes())});
    let (status, answer) = omni.post_json("/hooks/webchat/messages", &body).await;
    assert_eq!(status, 202, "{answer}");
    let (_, page) = omni.api_get("/v1/conversations").await;
    let conversation = page["items"][0]["id"].as_str().unwrap().to_owned();
    let person = page["items"][0]["person_id"].as_str().unwrap().to_owned();

    let path = format!("/v1/persons/{person}?enrich=false");
    omni.eventually(&path, Duration::from_secs(20), "the Contact id on the person", |p| {
        p["identities"]
            .as_array()?
            .iter()
            .any(|i| i["value"] == "salesforce:003R000000abcDEF")
            .then_some(())
    })
    .await;
    let upsert = salesforce
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .expect("an upsert");
    assert!(
        upsert
            .path
            .ends_with(&format!("/sobjects/Contact/Omni_Person_Id__c/{person}")),
        "{}",
        upsert.path
    );
    assert_eq!(upsert.header("authorization"), Some("Bearer s3cret"));
    let fields = upsert.json();
    assert_eq!(
        (fields["Email"].as_str(), fields["LastName"].as_str()),
        (Some(email), Some("Ross"))
    );

    let (status, _) = omni
        .api_patch(
            &format!("/v1/conversations/{conversation}"),
            &json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(status, 200);
    let started = std::time::Instant::now();
    let task = loop {
        if let Some(task) = salesforce
            .requests()
            .into_iter()
            .find(|r| r.path.contains("/sobjects/Task/"))
        {
            break task;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:#?}",
            salesforce.requests()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let fields = task.json();
    assert_eq!(fields["Status"], "Completed");
    assert_eq!(fields["WhoId"], "003R000000abcDEF");
    assert!(fields["Description"].as_str().unwrap().contains("Hi"), "{fields}");
}
