//! Outgoing webhooks that the receiver refuses: the event becomes a dead
//! letter with the receiver's answer, later events of other persons still
//! go out, and an operator's retry delivers it with the same `webhook-id`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use omni_tests::process::{OmniProcess, plugin};
use omni_tests::provider::FakeProvider;
use omni_tests::wasm;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_event_is_a_dead_letter_until_an_operator_retries_it() {
    let refuse = Arc::new(AtomicBool::new(true));
    let switch = refuse.clone();
    let receiver = FakeProvider::start(move |_, _| {
        if switch.load(Ordering::SeqCst) {
            (422, json!({"error": "unknown customer"}).to_string())
        } else {
            (200, "{}".to_owned())
        }
    })
    .await;
    let config = [
        plugin("webchat", wasm::webchat(), ""),
        plugin(
            "hook",
            wasm::webhook_out(),
            &format!(
                "allowed_hosts = [\"{0}\"]\nsecrets = {{ signing_secret = {{ env = \"OMNI_TEST_WEBHOOK_SECRET\" }} }}\n\
                 [plugins.config]\nurl = \"{0}/in\"\n[plugins.subscribe]\nevents = [\"message.received\"]\n",
                receiver.origin()
            ),
        ),
    ]
    .join("\n");
    let omni = OmniProcess::start(&config).await;
    let body = json!({"visitor_id": "v1", "message_id": "m1", "text": "first"});
    assert_eq!(omni.post_json("/hooks/webchat/messages", &body).await.0, 202);

    let dead = omni
        .eventually(
            "/v1/subscribers/dead-letters",
            Duration::from_secs(20),
            "a dead letter",
            |list| {
                let list = list.as_array()?;
                (list.len() == 1).then(|| list[0].clone())
            },
        )
        .await;
    assert_eq!(dead["subscriber"], "hook");
    assert_eq!(dead["state"], "dead");
    assert!(dead["last_error"].as_str().unwrap().contains("422"), "{dead}");
    assert_eq!(receiver.requests().len(), 1, "a permanent refusal is not retried");

    // Another person's event goes out meanwhile (the receiver accepts it now).
    refuse.store(false, Ordering::SeqCst);
    let body = json!({"visitor_id": "v2", "message_id": "m2", "text": "second"});
    assert_eq!(omni.post_json("/hooks/webchat/messages", &body).await.0, 202);
    receiver.wait_for(2, Duration::from_secs(20)).await;

    let (status, retried) = omni
        .api_post(
            &format!("/v1/subscribers/dead-letters/{}/retry", dead["id"]),
            &json!({}),
        )
        .await;
    assert_eq!(status, 202, "{retried}");
    assert_eq!(retried["state"], "waiting");
    let requests = receiver.wait_for(3, Duration::from_secs(20)).await;
    let id = |i: usize| requests[i].header("webhook-id").map(str::to_owned);
    assert_eq!(id(2), id(0), "the retry carries the same webhook-id");
    assert_eq!(requests[2].json()["data"]["details"]["text"], "first");
    omni.eventually("/v1/subscribers", Duration::from_secs(20), "no dead letters", |list| {
        let hook = list.as_array()?.iter().find(|s| s["name"] == "hook")?;
        (hook["dead"] == 0 && hook["waiting"] == 0).then_some(())
    })
    .await;
    let (status, missing) = omni
        .api_post("/v1/subscribers/dead-letters/999/retry", &json!({}))
        .await;
    assert_eq!(status, 404, "{missing}");
    let (status, unknown) = omni
        .api_post("/v1/subscribers/nobody/replay", &json!({"from": 0}))
        .await;
    assert_eq!(status, 404, "{unknown}");
}
