//! Replies are sent through the plugin, retried, and failed when hopeless.

use std::time::Duration;

use omni_tests::process::{OmniProcess, plugin};
use omni_tests::wasm;
use serde_json::{Value, json};

async fn host_with_conversation() -> (OmniProcess, String) {
    let config = format!(
        "[delivery]\nmax_attempts = 3\nfirst_retry = \"50ms\"\nmax_retry = \"100ms\"\n\n{}",
        plugin("hostile", wasm::hostile(), "limits = { timeout_ms = 300 }")
    );
    let omni = OmniProcess::start(&config).await;
    let (status, _) = omni.get("/hooks/hostile/ok?id=in-1&from=u-1").await;
    assert_eq!(status, 200);
    let (_, page) = omni.api_get("/v1/conversations").await;
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    (omni, id)
}

async fn reply(omni: &OmniProcess, conversation: &str, text: &str) -> String {
    let (status, message) = omni
        .api_post(
            &format!("/v1/conversations/{conversation}/messages"),
            &json!({"text": text}),
        )
        .await;
    assert_eq!(status, 202, "{message}");
    message["id"].as_str().unwrap().to_owned()
}

async fn final_state(omni: &OmniProcess, conversation: &str, message: &str) -> Value {
    omni.eventually(
        &format!("/v1/conversations/{conversation}"),
        Duration::from_secs(15),
        "a final status",
        |c| {
            c["messages"]
                .as_array()?
                .iter()
                .find(|m| m["id"] == message && m["status"] != "queued")
                .cloned()
        },
    )
    .await
}

#[tokio::test]
async fn a_reply_is_sent_with_the_providers_id() {
    let (omni, conversation) = host_with_conversation().await;
    let id = reply(&omni, &conversation, "hello").await;
    let message = final_state(&omni, &conversation, &id).await;
    assert_eq!(message["status"], "sent");
    assert_eq!(message["external_id"], format!("ext-{id}"));
}

#[tokio::test]
async fn a_permanent_error_fails_at_once() {
    let (omni, conversation) = host_with_conversation().await;
    let id = reply(&omni, &conversation, "permanent").await;
    let message = final_state(&omni, &conversation, &id).await;
    assert_eq!(message["status"], "failed");
    assert_eq!(message["error"], "invalid recipient");
}

#[tokio::test]
async fn retryable_errors_and_crashes_give_up_after_max_attempts() {
    let (omni, conversation) = host_with_conversation().await;
    let retry = reply(&omni, &conversation, "retry").await;
    let crash = reply(&omni, &conversation, "trap").await;
    let later = reply(&omni, &conversation, "after the failures").await;
    let message = final_state(&omni, &conversation, &retry).await;
    assert_eq!(message["status"], "failed");
    assert!(
        message["error"]
            .as_str()
            .unwrap()
            .contains("gave up after 3 attempts: provider said 503"),
        "{message}"
    );
    let message = final_state(&omni, &conversation, &crash).await;
    assert!(message["error"].as_str().unwrap().contains("crashed"), "{message}");
    // Replies behind failed ones still go out, in order.
    let message = final_state(&omni, &conversation, &later).await;
    assert_eq!(message["status"], "sent");
}

#[tokio::test]
async fn replies_are_refused_without_an_address() {
    let (omni, conversation) = host_with_conversation().await;
    let (status, error) = omni
        .api_post(
            &format!("/v1/conversations/{conversation}/messages"),
            &json!({"text": "x", "connector": "nope"}),
        )
        .await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["error"]["code"], "unknown_connector");
}
