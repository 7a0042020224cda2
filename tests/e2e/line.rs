//! The LINE connector, written in Python, through the real host: a signed
//! webhook lands on a timeline once however often LINE redelivers it, a
//! forged one is refused, and a reply is pushed with one retry key across
//! the host's retries.

use std::time::Duration;

use omni_tests::line::{self, SECRET};
use omni_tests::process::{OmniProcess, plugin};
use omni_tests::provider::FakeProvider;
use omni_tests::wasm;
use serde_json::json;

use crate::channels::{conversation_with, reply, status_of};

const USER: &str = "U4af4980629bd5f9b5c1f06bd9aa9a4b5";

fn event(message_id: &str, text: &str, redelivery: bool) -> String {
    let body = line::text_event(USER, message_id, text);
    if redelivery {
        body.replace("\"isRedelivery\":false", "\"isRedelivery\":true")
    } else {
        body
    }
}

async fn webhook(omni: &OmniProcess, body: &str, secret: &str) -> u16 {
    omni.client
        .post(omni.url("/hooks/line/webhook"))
        .header("content-type", "application/json")
        .header("x-line-signature", line::signature(secret, body))
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_line_conversation_through_the_python_plugin() {
    // LINE's push endpoint: unavailable once, then accepting.
    let line = FakeProvider::start(|_, n| {
        (
            200,
            json!({"sentMessages": [{"id": format!("4612309668{n}"), "quoteToken": "q"}]}).to_string(),
        )
    })
    .await;
    line.script(&[(503, r#"{"message":"The server is temporarily unavailable"}"#)]);
    let config = plugin(
        "line",
        wasm::line(),
        &format!(
            "allowed_hosts = [\"{0}\"]\nsecrets = {{ channel_secret = {{ env = \"OMNI_TEST_SECRET\" }}, \
             channel_access_token = {{ env = \"OMNI_TEST_SECRET\" }} }}\n[plugins.config]\napi_base = \"{0}\"\n",
            line.origin()
        ),
    );
    let omni = OmniProcess::start(&config).await;
    assert!(
        omni.logs().contains("warm instance"),
        "a CPython component is served from a warm instance:\n{}",
        omni.logs()
    );

    let body = event("14353798921116", "Hello, is my parcel on its way?", false);
    assert_eq!(webhook(&omni, &body, SECRET).await, 200);
    // LINE redelivers; a forged copy is refused.
    let again = event("14353798921116", "Hello, is my parcel on its way?", true);
    assert_eq!(webhook(&omni, &again, SECRET).await, 200);
    let forged = event("14353798921117", "forged", false);
    assert_eq!(webhook(&omni, &forged, "not-the-secret").await, 401);

    let conversation = conversation_with(&omni, "Hello, is my parcel on its way?").await;
    let messages = conversation["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "stored once: {messages:#?}");
    assert!(!messages.iter().any(|m| m["text"] == "forged"));

    let id = conversation["id"].as_str().unwrap().to_owned();
    let sent_id = reply(&omni, &id, json!({"text": "Yes, it arrives tomorrow."})).await;
    let sent = status_of(&omni, &id, &sent_id, "sent").await;
    assert_eq!(sent["external_id"], "46123096681");
    let requests = line.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(requests.len(), 2, "one failed push, one retry");
    for request in &requests {
        assert_eq!(request.path, "/v2/bot/message/push");
        assert_eq!(request.header("authorization"), Some("Bearer s3cret"));
        assert_eq!(request.json()["to"], USER);
        assert_eq!(request.json()["messages"][0]["text"], "Yes, it arrives tomorrow.");
    }
    let keys: Vec<_> = requests.iter().map(|r| r.header("x-line-retry-key")).collect();
    assert!(
        keys[0].is_some() && keys[0] == keys[1],
        "one retry key across retries: {keys:?}"
    );
}
