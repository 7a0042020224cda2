//! Several hosts on one PostgreSQL: webhooks may hit any host, replies are
//! sent by whichever host claims them, and a host killed mid-run loses
//! nothing and repeats nothing: every message is stored once, every reply
//! reaches the person once (the provider honours the retry key the LINE
//! connector derives from the message id).

use std::time::{Duration, Instant};

use omni_tests::line::{self, FakeLine};
use omni_tests::process::{Database, OmniProcess};
use serde_json::json;

/// LINE users writing in.
pub(crate) const USERS: usize = 6;

/// Posts LINE event `i` to `omni`; `true` when it answered 2xx.
pub(crate) async fn deliver_event(omni: &OmniProcess, i: usize) -> bool {
    line::post_event(
        &omni.client,
        &omni.base,
        &user(i),
        &message_id(i),
        &format!("inbound {i}"),
    )
    .await
}

/// The LINE user of event `i`.
pub(crate) fn user(i: usize) -> String {
    format!("U{:032x}", 0xace0 + i % USERS)
}

/// The LINE message id of event `i`.
pub(crate) fn message_id(i: usize) -> String {
    format!("{}", 90_000_000 + i)
}

/// Every message of every conversation, as `(direction, text, status)`.
pub(crate) async fn all_messages(omni: &OmniProcess) -> Vec<(String, String, String)> {
    let (status, page) = omni.api_get("/v1/conversations?limit=200").await;
    assert_eq!(status, 200, "{page}");
    let mut messages = Vec::new();
    for conversation in page["items"].as_array().unwrap() {
        let (_, detail) = omni
            .api_get(&format!("/v1/conversations/{}", conversation["id"].as_str().unwrap()))
            .await;
        for m in detail["messages"].as_array().unwrap() {
            let field = |name: &str| m[name].as_str().unwrap_or_default().to_owned();
            messages.push((field("direction"), field("text"), field("status")));
        }
    }
    messages
}

/// The conversation id of each LINE user, by the text of their first message.
pub(crate) async fn conversations_by_user(omni: &OmniProcess) -> Vec<String> {
    let (_, page) = omni.api_get("/v1/conversations?limit=200").await;
    let mut ids = Vec::new();
    for conversation in page["items"].as_array().unwrap() {
        ids.push(conversation["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), USERS, "one conversation per LINE user: {page}");
    ids
}

async fn post_reply(omni: &OmniProcess, conversation: &str, text: &str) -> bool {
    reply_to(&omni.client, &omni.base, conversation, text).await
}

/// Posts an agent's reply through the API of the host at `base`; `true` on 202.
pub(crate) async fn reply_to(client: &reqwest::Client, base: &str, conversation: &str, text: &str) -> bool {
    let response = client
        .post(format!("{base}/v1/conversations/{conversation}/messages"))
        .bearer_auth(omni_tests::process::TOKEN)
        .json(&json!({"text": text}))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    matches!(response, Ok(r) if r.status().as_u16() == 202)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hosts_share_the_work_and_a_killed_one_loses_and_repeats_nothing() {
    let Some(database) = Database::postgres().await else {
        return;
    };
    let line = FakeLine::start().await;
    // Slow pushes, so the host that dies has some in flight.
    line.set_latency(Duration::from_millis(400));
    let config = format!("[delivery]\nlease = \"3s\"\n\n{}", line::plugin_entry(&line));
    let mut a = OmniProcess::start_on(&database, &config).await;
    let b = OmniProcess::start_on(&database, &config).await;

    // Interleaved webhooks: even ones to A, odd ones to B.
    let mut accepted = Vec::new();
    for i in 0..30 {
        let host = if i % 2 == 0 { &a } else { &b };
        assert!(deliver_event(host, i).await, "event {i} refused");
        accepted.push(i);
    }
    // Replies through both hosts' APIs, then A dies while sending.
    let conversations = conversations_by_user(&b).await;
    let mut replies = Vec::new();
    for round in 0..3 {
        for (c, conversation) in conversations.iter().enumerate() {
            let text = format!("reply {round}-{c}");
            let host = if (round + c) % 2 == 0 { &a } else { &b };
            assert!(post_reply(host, conversation, &text).await, "{text} refused");
            replies.push(text);
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.kill();
    // The provider's webhooks keep coming; those meant for A are redelivered to B.
    for i in 30..60 {
        if i % 2 == 0 {
            assert!(!deliver_event(&a, i).await, "A is dead");
        }
        assert!(deliver_event(&b, i).await, "event {i} refused by B");
        accepted.push(i);
    }
    for (c, conversation) in conversations.iter().enumerate() {
        let text = format!("reply 3-{c}");
        assert!(post_reply(&b, conversation, &text).await);
        replies.push(text);
    }

    // Every reply ends sent, including those A had claimed when it died.
    settle_and_check(&b, &line, &accepted, &replies).await;
    eprintln!(
        "{} webhooks, {} replies; {} pushes repeated after the kill and refused by their retry key",
        accepted.len(),
        replies.len(),
        line.repeats()
    );
}

/// Waits until every reply the API accepted is sent, then checks that each
/// accepted webhook is stored once and LINE executed each reply once. A
/// reply or webhook whose answer a killed host never gave may still have
/// been stored: then it too must appear, and be executed, exactly once.
pub(crate) async fn settle_and_check(omni: &OmniProcess, line: &FakeLine, accepted: &[usize], replies: &[String]) {
    let started = Instant::now();
    loop {
        let messages = all_messages(omni).await;
        let unsent: Vec<&String> = replies
            .iter()
            .filter(|text| {
                !messages
                    .iter()
                    .any(|(direction, t, status)| direction == "outbound" && t == *text && status == "sent")
            })
            .collect();
        if unsent.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} of {} replies not sent: {unsent:?}\nlog:\n{}",
            unsent.len(),
            replies.len(),
            omni.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let messages = all_messages(omni).await;
    for i in accepted {
        let text = format!("inbound {i}");
        let copies = messages.iter().filter(|(_, t, _)| *t == text).count();
        assert_eq!(copies, 1, "{text} stored {copies} times");
    }
    let executed = line.executed_texts();
    for text in replies {
        assert_eq!(executed.get(text), Some(&1), "{text}: {executed:#?}");
    }
    for (text, times) in &executed {
        assert_eq!(*times, 1, "{text} was executed {times} times");
        assert!(text.starts_with("reply "), "only replies were pushed: {text}");
    }
}
