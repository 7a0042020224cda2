//! Floods get an answer at once, not a queue without end: beyond the
//! webhooks in progress and the few waiting for a slot the host answers
//! 503, beyond a source's or a connector's rate 429, both with
//! `Retry-After`; and it serves normally again once the flood passes.

use omni_tests::process::{OmniProcess, plugin};
use omni_tests::wasm;
use serde_json::{Value, json};

/// Status, error code and `Retry-After` of a webhook.
async fn hit(client: &reqwest::Client, url: String) -> (u16, String, Option<u64>) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let code = body["error"]["code"].as_str().unwrap_or_default().to_owned();
    (status, code, retry_after)
}

#[tokio::test(flavor = "multi_thread")]
async fn beyond_the_slots_and_the_queue_webhooks_get_503_with_retry_after() {
    let omni = OmniProcess::start_with_server(
        "max_in_flight = 2\nmax_queued = 2\nqueue_wait = \"300ms\"",
        &plugin("hostile", wasm::hostile(), "limits = { timeout_ms = 1500 }"),
    )
    .await;
    let client = reqwest::Client::new();
    // Ten slow webhooks at once: each loops until its 1.5 s deadline.
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let (client, url) = (client.clone(), omni.url("/hooks/hostile/loop"));
            tokio::spawn(async move { hit(&client, url).await })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    let timed_out = answers
        .iter()
        .filter(|(s, c, _)| *s == 504 && c == "plugin_timeout")
        .count();
    let shed: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 503).collect();
    assert_eq!(timed_out, 2, "two ran: {answers:?}");
    assert_eq!(shed.len(), 8, "the rest were shed: {answers:?}");
    assert!(
        shed.iter()
            .all(|(_, code, after)| code == "overloaded" && *after == Some(1)),
        "{answers:?}"
    );
    // The flood is over: normal service.
    let (status, _, _) = hit(&client, omni.url("/hooks/hostile/ok")).await;
    assert_eq!(status, 200);
    let (_, metrics) = omni.get("/metrics").await;
    assert!(metrics.contains("outcome=\"overloaded\""), "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_source_or_a_connector_over_its_rate_gets_429_and_others_carry_on() {
    let plugins = format!(
        "{}{}",
        plugin("hostile", wasm::hostile(), ""),
        plugin("webchat", wasm::webchat(), "inbound = { per_second = 1, burst = 2 }")
    );
    let omni = OmniProcess::start_with_server("per_source = { per_second = 2, burst = 4 }", &plugins).await;
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    for i in 0..6 {
        answers.push(hit(&client, omni.url(&format!("/hooks/hostile/ok?id=m-{i}"))).await);
    }
    let ok = answers.iter().filter(|(s, _, _)| *s == 200).count();
    assert_eq!(ok, 4, "the burst passes: {answers:?}");
    let limited = &answers[5];
    assert_eq!((limited.0, limited.1.as_str()), (429, "rate_limited"), "{answers:?}");
    assert!(limited.2.is_some_and(|s| s >= 1), "{answers:?}");

    // The web chat's own rate: two at once, then 429 naming the connector.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await; // the source's bucket refills
    let mut statuses = Vec::new();
    let mut last = Value::Null;
    for i in 0..3 {
        let body = json!({"visitor_id": "v-1", "message_id": format!("w-{i}"), "text": "hi"});
        let response = client
            .post(omni.url("/hooks/webchat/messages"))
            .json(&body)
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        last = response.json().await.unwrap_or(Value::Null);
    }
    assert_eq!(statuses, [202, 202, 429], "{last}");
    assert!(
        last["error"]["message"].as_str().unwrap().contains("connector webchat"),
        "{last}"
    );
}
