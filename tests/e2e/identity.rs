//! One person across channels, over the real HTTP API, on SQLite and on
//! PostgreSQL: suggestions for unproven claims, one continuing conversation
//! for proven identities, operator merge and split, guard refusals.

use omni_plugin_sdk::crypto::hmac_sha256_hex;
use omni_tests::process::{Database, OmniProcess, plugin};
use omni_tests::wasm;
use serde_json::{Value, json};

macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    super::$name(omni_tests::process::Database::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    if let Some(database) = omni_tests::process::Database::postgres().await {
                        super::$name(database).await
                    }
                }
            )*
        }
    };
}

on_both_databases!(
    an_unverified_email_only_raises_a_suggestion,
    a_signed_chat_continues_by_email_as_one_person_and_conversation,
    an_operator_split_undoes_a_wrong_merge,
    blocklisted_and_over_cap_merges_are_refused_with_a_reason,
);

const SECRET: &str = "s3cret";

async fn host(database: &Database, extra: &str) -> OmniProcess {
    let config = format!(
        "{extra}\n{}{}",
        plugin(
            "webchat",
            wasm::webchat(),
            "secrets = { identity_secret = { env = \"OMNI_TEST_SECRET\" } }"
        ),
        plugin("email", wasm::scripted(), "")
    );
    OmniProcess::start_on(database, &config).await
}

/// A web chat message; `signed_email` signs the visitor in by email.
async fn chat(omni: &OmniProcess, visitor: &str, id: &str, text: &str, email: Option<(&str, bool)>) {
    let mut body = json!({"visitor_id": visitor, "message_id": id, "text": text});
    if let Some((email, signed)) = email {
        body["email"] = json!(email);
        if signed {
            body["user_hash"] = json!(hmac_sha256_hex(SECRET.as_bytes(), email.as_bytes()));
        }
    }
    let (status, answer) = omni.post_json("/hooks/webchat/messages", &body).await;
    assert_eq!(status, 202, "{answer}");
}

/// An inbound email, played through the scripted connector.
async fn email(omni: &OmniProcess, from: &str, id: &str, text: &str) {
    let event = json!({"type": "message-received", "external_id": id, "text": text,
                       "sender": {"kind": "email", "value": from, "verified": true}});
    let (status, answer) = omni.post_json("/hooks/email/events", &json!({"events": [event]})).await;
    assert_eq!(status, 204, "{answer}");
}

async fn conversations(omni: &OmniProcess) -> Vec<Value> {
    let (status, page) = omni.api_get("/v1/conversations?limit=200").await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// The person whose conversation holds a message with this text.
async fn person_with(omni: &OmniProcess, text: &str) -> String {
    for c in conversations(omni).await {
        let (_, detail) = omni
            .api_get(&format!("/v1/conversations/{}", c["id"].as_str().unwrap()))
            .await;
        if detail["messages"].as_array().unwrap().iter().any(|m| m["text"] == text) {
            return detail["person_id"].as_str().unwrap().to_owned();
        }
    }
    panic!("no conversation holds {text:?}")
}

async fn an_unverified_email_only_raises_a_suggestion(database: Database) {
    let omni = host(&database, "").await;
    chat(
        &omni,
        "v-ann",
        "m1",
        "signed in as Ann",
        Some(("ann@example.com", true)),
    )
    .await;
    chat(
        &omni,
        "v-guest",
        "m1",
        "I'm Ann (typed into the form)",
        Some(("ann@example.com", false)),
    )
    .await;
    let (ann, guest) = (
        person_with(&omni, "signed in as Ann").await,
        person_with(&omni, "I'm Ann (typed into the form)").await,
    );
    assert_ne!(ann, guest, "an unverified email must not merge persons");
    let (status, suggestions) = omni.api_get(&format!("/v1/persons/{guest}/suggestions")).await;
    assert_eq!(status, 200);
    let suggestions = suggestions.as_array().unwrap();
    assert_eq!(suggestions.len(), 1, "{suggestions:?}");
    assert_eq!(suggestions[0]["reason"], "unverified_match");
    assert_eq!(suggestions[0]["other_person_id"], ann.as_str());
    let (_, person) = omni.api_get(&format!("/v1/persons/{guest}")).await;
    let link = person["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["to"]["value"] == "ann@example.com")
        .unwrap();
    assert_eq!(link["trusted"], false);
    assert_eq!(link["source"], "webchat");
}

async fn a_signed_chat_continues_by_email_as_one_person_and_conversation(database: Database) {
    let omni = host(&database, "").await;
    chat(
        &omni,
        "v-ann",
        "m1",
        "Where is order 17?",
        Some(("ann@example.com", true)),
    )
    .await;
    email(&omni, "ann@EXAMPLE.COM", "<e1@mail.example>", "Following up by email").await;

    let all = conversations(&omni).await;
    assert_eq!(all.len(), 1, "one continuing conversation: {all:?}");
    let id = all[0]["id"].as_str().unwrap();
    let (_, detail) = omni.api_get(&format!("/v1/conversations/{id}")).await;
    let channels: Vec<_> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["channel"].clone())
        .collect();
    assert_eq!(channels, vec![json!("webchat"), json!("email")]);
    let person = detail["person_id"].as_str().unwrap();
    let (_, p) = omni.api_get(&format!("/v1/persons/{person}")).await;
    let email_identity = p["identities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "email")
        .unwrap();
    assert_eq!(email_identity["value"], "ann@example.com");
    assert_eq!(email_identity["verified"], true);

    // The agent's reply goes out where Ann wrote last: email.
    let (status, reply) = omni
        .api_post(
            &format!("/v1/conversations/{id}/messages"),
            &json!({"text": "It shipped."}),
        )
        .await;
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply["channel"], "email");
    let path = format!("/v1/conversations/{id}");
    omni.eventually(
        &path,
        std::time::Duration::from_secs(10),
        "the email reply to be sent",
        |c| (c["messages"][2]["status"] == "sent").then_some(()),
    )
    .await;
    let (_, sent) = omni.get("/hooks/email/sent?to=ann@example.com").await;
    assert_eq!(serde_json::from_str::<Value>(&sent).unwrap(), json!(["It shipped."]));

    let (status, timeline) = omni.api_get(&format!("/v1/persons/{person}/timeline")).await;
    assert_eq!(status, 200);
    let kinds: Vec<_> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(kinds.contains(&"conversation.channel_switched".to_owned()), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "message.received").count(), 2);
}

async fn an_operator_split_undoes_a_wrong_merge(database: Database) {
    let omni = host(&database, "").await;
    chat(&omni, "v-1", "m1", "first visitor", None).await;
    chat(&omni, "v-2", "m1", "second visitor", None).await;
    let (a, b) = (
        person_with(&omni, "first visitor").await,
        person_with(&omni, "second visitor").await,
    );

    let (status, merged) = omni
        .api_post(
            &format!("/v1/persons/{a}/merge"),
            &json!({"other_person_id": b, "reason": "looked alike"}),
        )
        .await;
    assert_eq!(status, 200, "{merged}");
    let survivor = merged["id"].as_str().unwrap().to_owned();
    assert_eq!(person_with(&omni, "first visitor").await, survivor);
    assert_eq!(person_with(&omni, "second visitor").await, survivor);
    let link = merged["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["source_kind"] == "operator")
        .unwrap()
        .clone();
    assert_eq!(link["source"], "api:test");

    let (status, split) = omni
        .api_post(
            &format!("/v1/persons/{survivor}/split"),
            &json!({"link_id": link["id"], "reason": "wrong merge"}),
        )
        .await;
    assert_eq!(status, 200, "{split}");
    assert_eq!(split["persons"].as_array().unwrap().len(), 2);
    let (a2, b2) = (
        person_with(&omni, "first visitor").await,
        person_with(&omni, "second visitor").await,
    );
    assert_ne!(a2, b2, "the conversations followed their identities");
    let (_, audit) = omni.api_get(&format!("/v1/persons/{survivor}/audit")).await;
    let actions: Vec<_> = audit.as_array().unwrap().iter().map(|e| e["action"].clone()).collect();
    assert_eq!(actions, vec![json!("split"), json!("merge")]);
    assert_eq!(audit[0]["actor"], "api:test");
    assert_eq!(audit[0]["reason"], "wrong merge");
}

async fn blocklisted_and_over_cap_merges_are_refused_with_a_reason(database: Database) {
    let omni = host(&database, "[identity.max_per_kind]\nchannel_user = 2\n").await;
    // Two people signed in with a placeholder address are not one person.
    chat(&omni, "v-1", "m1", "tester one", Some(("test@test.com", true))).await;
    chat(&omni, "v-2", "m1", "tester two", Some(("test@test.com", true))).await;
    let (one, two) = (
        person_with(&omni, "tester one").await,
        person_with(&omni, "tester two").await,
    );
    assert_ne!(one, two);
    let (_, suggestions) = omni.api_get(&format!("/v1/persons/{one}/suggestions")).await;
    assert_eq!(suggestions, json!([]));

    chat(&omni, "v-3", "m1", "third", None).await;
    let three = person_with(&omni, "third").await;
    let (status, merged) = omni
        .api_post(
            &format!("/v1/persons/{one}/merge"),
            &json!({"other_person_id": two, "reason": "same team"}),
        )
        .await;
    assert_eq!(status, 200, "{merged}");
    let (status, refused) = omni
        .api_post(
            &format!("/v1/persons/{one}/merge"),
            &json!({"other_person_id": three, "reason": "also"}),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "merge_refused");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("3 channel_user identities; the limit is 2"),
        "{message}"
    );
    let (status, missing_reason) = omni
        .api_post(
            &format!("/v1/persons/{one}/merge"),
            &json!({"other_person_id": three, "reason": " "}),
        )
        .await;
    assert_eq!(status, 400, "{missing_reason}");
}
