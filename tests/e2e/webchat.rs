//! A visitor writes, an agent replies, the widget shows it.

use std::time::Duration;

use omni_tests::process::{OmniProcess, plugin};
use omni_tests::wasm;
use serde_json::{Value, json};

fn webchat_config(extra: &str) -> String {
    plugin("webchat", wasm::webchat(), extra)
}

async fn visitor_says(omni: &OmniProcess, visitor: &str, id: &str, text: &str) -> (u16, String) {
    let body = json!({"visitor_id": visitor, "message_id": id, "text": text, "name": "Ann"});
    omni.post_json("/hooks/webchat/messages", &body).await
}

async fn only_conversation(omni: &OmniProcess) -> Value {
    let (status, page) = omni.api_get("/v1/conversations").await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    let (status, detail) = omni
        .api_get(&format!("/v1/conversations/{}", items[0]["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200);
    detail
}

#[tokio::test]
async fn visitor_message_agent_reply_and_widget_poll() {
    let omni = OmniProcess::start(&webchat_config("")).await;

    let (status, body) = visitor_says(&omni, "v-1", "m-1", "Where is my order?").await;
    assert_eq!(status, 202, "{body}");

    let conversation = only_conversation(&omni).await;
    assert_eq!(conversation["channel"], "webchat");
    assert_eq!(conversation["messages"][0]["text"], "Where is my order?");
    assert_eq!(conversation["messages"][0]["direction"], "inbound");
    let id = conversation["id"].as_str().unwrap().to_owned();

    let (status, person) = omni
        .api_get(&format!("/v1/persons/{}", conversation["person_id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(person["display_name"], "Ann");
    assert_eq!(person["identities"][0]["value"], "webchat:v-1");

    let (status, reply) = omni
        .api_post(
            &format!("/v1/conversations/{id}/messages"),
            &json!({"text": "It ships today."}),
        )
        .await;
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply["status"], "queued");
    let reply_id = reply["id"].as_str().unwrap().to_owned();

    // The dispatcher hands the reply to the plugin, which files it in the visitor's mailbox.
    let path = format!("/v1/conversations/{id}");
    omni.eventually(&path, Duration::from_secs(10), "the reply to be sent", |c| {
        (c["messages"][1]["status"] == "sent").then_some(())
    })
    .await;
    let (status, polled) = omni.get("/hooks/webchat/poll?visitor_id=v-1").await;
    assert_eq!(status, 200);
    let polled: Value = serde_json::from_str(&polled).unwrap();
    assert_eq!(polled["messages"][0]["text"], "It ships today.");
    assert_eq!(polled["messages"][0]["id"], reply_id.as_str());
    let cursor = polled["cursor"].as_u64().unwrap();

    omni.eventually(&path, Duration::from_secs(5), "the reply to be delivered", |c| {
        (c["messages"][1]["status"] == "delivered").then_some(())
    })
    .await;
    // Acknowledging with the cursor marks it read and empties the mailbox.
    let (_, polled) = omni
        .get(&format!("/hooks/webchat/poll?visitor_id=v-1&after={cursor}"))
        .await;
    assert_eq!(serde_json::from_str::<Value>(&polled).unwrap()["messages"], json!([]));
    omni.eventually(&path, Duration::from_secs(5), "the reply to be read", |c| {
        (c["messages"][1]["status"] == "read").then_some(())
    })
    .await;
    // Another visitor sees nothing.
    let (_, other) = omni.get("/hooks/webchat/poll?visitor_id=v-2").await;
    assert_eq!(serde_json::from_str::<Value>(&other).unwrap()["messages"], json!([]));
}

#[tokio::test]
async fn the_same_webhook_twice_stores_one_message() {
    let omni = OmniProcess::start(&webchat_config("")).await;
    for _ in 0..2 {
        let (status, body) = visitor_says(&omni, "v-1", "m-1", "hello").await;
        assert_eq!(status, 202, "{body}");
    }
    // Concurrent retries too.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = omni.client.clone();
        let url = omni.url("/hooks/webchat/messages");
        tasks.push(tokio::spawn(async move {
            let body = json!({"visitor_id": "v-1", "message_id": "m-2", "text": "again"});
            client.post(url).json(&body).send().await.unwrap().status().as_u16()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 202);
    }
    let conversation = only_conversation(&omni).await;
    let texts: Vec<_> = conversation["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, vec![json!("hello"), json!("again")]);
}

#[tokio::test]
async fn signed_users_are_verified_and_forgeries_refused() {
    let config = webchat_config("secrets = { identity_secret = { env = \"OMNI_TEST_SECRET\" } }");
    let omni = OmniProcess::start(&config).await;
    let good = omni_plugin_sdk::crypto::hmac_sha256_hex(b"s3cret", b"user-42");
    let forged = omni_plugin_sdk::crypto::hmac_sha256_hex(b"guess", b"user-42");

    let body =
        json!({"visitor_id": "v-1", "message_id": "m-1", "text": "hi", "user_id": "user-42", "user_hash": forged});
    let (status, error) = omni.post_json("/hooks/webchat/messages", &body).await;
    assert_eq!(status, 401, "{error}");
    assert!(error.contains("user_hash"), "{error}");
    let (_, page) = omni.api_get("/v1/conversations").await;
    assert_eq!(page["items"], json!([]), "a forged message must store nothing");

    // The same user from two browsers is one person.
    for (visitor, id) in [("v-laptop", "m-1"), ("v-phone", "m-2")] {
        let body =
            json!({"visitor_id": visitor, "message_id": id, "text": "hi", "user_id": "user-42", "user_hash": good});
        let (status, body) = omni.post_json("/hooks/webchat/messages", &body).await;
        assert_eq!(status, 202, "{body}");
    }
    let conversation = only_conversation(&omni).await;
    assert_eq!(conversation["messages"].as_array().unwrap().len(), 2);
    let (_, person) = omni
        .api_get(&format!("/v1/persons/{}", conversation["person_id"].as_str().unwrap()))
        .await;
    let identities: Vec<_> = person["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_owned(),
                i["value"].as_str().unwrap().to_owned(),
                i["verified"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        identities.contains(&("external_id".into(), "user-42".into(), true)),
        "{identities:?}"
    );
    assert!(
        identities.contains(&("channel_user".into(), "webchat:v-phone".into(), false)),
        "{identities:?}"
    );
}

#[tokio::test]
async fn widget_page_and_script_are_served_by_the_plugin() {
    let config = webchat_config("config = { title = \"Acme <help>\", allowed_origins = [\"https://shop.example\"] }");
    let omni = OmniProcess::start(&config).await;
    let (status, page) = omni.get("/hooks/webchat/").await;
    assert_eq!(status, 200);
    assert!(page.contains("Acme &lt;help&gt;"));
    let (status, script) = omni.get("/hooks/webchat/widget.js").await;
    assert_eq!(status, 200);
    assert!(script.contains("/messages"));

    let preflight = omni
        .client
        .request(reqwest::Method::OPTIONS, omni.url("/hooks/webchat/messages"))
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
}

#[tokio::test]
async fn conversations_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = webchat_config("");
    let mut omni = OmniProcess::start_in(dir.path(), &config).await;
    visitor_says(&omni, "v-1", "m-1", "before restart").await;
    omni.stop();
    let omni = OmniProcess::start_in(dir.path(), &config).await;
    let conversation = only_conversation(&omni).await;
    assert_eq!(conversation["messages"][0]["text"], "before restart");
    // The second start loaded the plugin from the precompiled cache.
    assert!(omni.logs().contains("cache_hits=1"), "{}", omni.logs());
}
