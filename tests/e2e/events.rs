//! The event log over HTTP: long-polling pages, kind filters, the
//! server-sent event stream and resuming it with `Last-Event-ID`.

use std::time::{Duration, Instant};

use omni_tests::process::{OmniProcess, TOKEN, plugin};
use omni_tests::wasm;
use serde_json::{Value, json};

async fn start() -> OmniProcess {
    OmniProcess::start(&plugin("webchat", wasm::webchat(), "")).await
}

async fn chat(omni: &OmniProcess, visitor: &str, id: &str) {
    let body = json!({"visitor_id": visitor, "message_id": id, "text": "hello"});
    let (status, answer) = omni.post_json("/hooks/webchat/messages", &body).await;
    assert_eq!(status, 202, "{answer}");
}

fn kinds(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_poll_waits_for_the_next_event_and_pages_follow_positions() {
    let omni = start().await;
    let (status, empty) = omni.api_get("/v1/events?after=0").await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty, json!({"events": [], "next_after": 0}));

    let client = omni.client.clone();
    let url = omni.url("/v1/events?after=0&wait=20");
    let started = Instant::now();
    let poll = tokio::spawn(async move {
        let response = client.get(url).bearer_auth(TOKEN).send().await.unwrap();
        (started.elapsed(), response.json::<Value>().await.unwrap())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    chat(&omni, "v1", "m1").await;
    let (waited, page) = poll.await.unwrap();
    assert!(
        waited >= Duration::from_millis(400),
        "answered before the event: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(10),
        "the long-poll missed the event: {waited:?}"
    );
    let first = kinds(&page);
    assert!(first.contains(&"message.received".to_owned()), "{first:?}");
    let positions: Vec<i64> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert_eq!(page["next_after"], positions[positions.len() - 1]);

    // The next page starts after the last position; a filter keeps one family.
    chat(&omni, "v2", "m2").await;
    let next = page["next_after"].as_i64().unwrap();
    let (_, messages) = omni.api_get(&format!("/v1/events?after={next}&kinds=message.*")).await;
    assert_eq!(kinds(&messages), vec!["message.received"]);
    assert_eq!(messages["events"][0]["data"]["text"], "hello");
    let (status, bad) = omni.api_get("/v1/events?kinds=DROP%20TABLE").await;
    assert_eq!(status, 400, "{bad}");
    let (status, _) = omni.get("/v1/events").await;
    assert_eq!(status, 401, "the log needs a token");
}

/// Reads server-sent events until `count` `message.received` events arrived;
/// returns every `(id, event)` pair seen.
async fn read_stream(response: reqwest::Response, count: usize) -> Vec<(i64, String)> {
    let mut response = response;
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let events = parse_sse(&text);
        if events.iter().filter(|(_, kind)| kind == "message.received").count() >= count {
            return events;
        }
        assert!(Instant::now() < deadline, "stream so far:\n{text}");
        let chunk = tokio::time::timeout(Duration::from_secs(20), response.chunk())
            .await
            .expect("a chunk")
            .expect("the stream")
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
}

fn parse_sse(text: &str) -> Vec<(i64, String)> {
    text.split("\n\n")
        .filter_map(|block| {
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_owned()))
            };
            Some((field("id")?.parse().ok()?, field("event")?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stream_sends_events_as_they_commit_and_resumes_after_the_last_id() {
    let omni = start().await;
    chat(&omni, "v1", "m1").await;
    let response = omni
        .client
        .get(omni.url("/v1/events/stream"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let reader = tokio::spawn(read_stream(response, 2));
    tokio::time::sleep(Duration::from_millis(300)).await;
    chat(&omni, "v2", "m2").await;
    let seen = reader.await.unwrap();
    let ids: Vec<i64> = seen.iter().map(|(id, _)| *id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(ids[0], 1, "from the start of the log");

    // Reconnecting with Last-Event-ID continues after it, with a filter.
    let first_message = seen.iter().find(|(_, k)| k == "message.received").unwrap().0;
    let response = omni
        .client
        .get(omni.url("/v1/events/stream?kinds=message.received"))
        .bearer_auth(TOKEN)
        .header("last-event-id", first_message.to_string())
        .send()
        .await
        .unwrap();
    let resumed = read_stream(response, 1).await;
    assert_eq!(resumed.len(), 1, "{resumed:?}");
    assert!(resumed[0].0 > first_message);
    assert_eq!(resumed[0].1, "message.received");
}
