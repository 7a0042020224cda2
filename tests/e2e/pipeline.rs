//! The delivery pipeline against a local Twilio stand-in, through the real
//! SMS connector: provider outages retried until sent once, rejected
//! numbers dead-lettered and retried by an operator, receipts that beat
//! the send response, per-connector concurrency and rate.

use std::time::Duration;

use omni_tests::process::OmniProcess;
use omni_tests::provider::FakeProvider;
use serde_json::{Value, json};

use crate::twilio::{ACCOUNT, sid, sms, twilio, twilio_webhook};

async fn host(provider: &FakeProvider, tables: &str) -> OmniProcess {
    let config = format!(
        "[delivery]\nmax_attempts = 4\nfirst_retry = \"50ms\"\nmax_retry = \"200ms\"\n\n{}",
        sms(provider, tables)
    );
    OmniProcess::start(&config).await
}

/// An SMS from `from`, the first message of the test; returns its conversation.
async fn text_from(omni: &OmniProcess, from: &str, sid: &str, text: &str) -> String {
    let (status, answer) = twilio_webhook(
        omni,
        "/sms",
        &[
            ("MessageSid", sid),
            ("SmsSid", sid),
            ("AccountSid", ACCOUNT),
            ("From", from),
            ("To", "+15005550006"),
            ("Body", text),
            ("NumMedia", "0"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    omni.eventually(
        "/v1/conversations?limit=200",
        Duration::from_secs(10),
        "the only conversation",
        |page| match page["items"].as_array()?.as_slice() {
            [only] => only["id"].as_str().map(str::to_owned),
            _ => None,
        },
    )
    .await
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

async fn message_where(
    omni: &OmniProcess,
    conversation: &str,
    id: &str,
    what: &str,
    check: fn(&Value) -> bool,
) -> Value {
    let id = id.to_owned();
    omni.eventually(
        &format!("/v1/conversations/{conversation}"),
        Duration::from_secs(20),
        what,
        move |c| {
            c["messages"]
                .as_array()?
                .iter()
                .find(|m| m["id"] == id.as_str() && check(m))
                .cloned()
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_outage_is_retried_until_the_reply_is_sent_once() {
    let provider = twilio().await;
    let outage = json!({"code": 20500, "message": "Internal Server Error", "status": 500}).to_string();
    provider.script(&[(500, &outage), (503, &outage)]);
    let omni = host(&provider, "").await;
    let conversation = text_from(&omni, "+14155550100", "SMaaaa", "is my order shipped?").await;
    let id = reply(&omni, &conversation, "yes, this morning").await;
    let message = message_where(&omni, &conversation, &id, "sent", |m| m["status"] == "sent").await;
    assert_eq!(message["external_id"], sid(2), "the third answer's sid");
    // Nothing more goes out once the provider accepted it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let requests = provider.requests();
    assert_eq!(requests.len(), 3, "{requests:#?}");
    for request in &requests {
        assert_eq!(request.path, format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json"));
        assert_eq!(request.form("To").as_deref(), Some("+14155550100"));
        assert_eq!(request.form("Body").as_deref(), Some("yes, this morning"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_number_is_dead_lettered_and_an_operator_retries_it() {
    let provider = twilio().await;
    let invalid = json!({
        "code": 21211,
        "message": "The 'To' number +14155550100 is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400
    })
    .to_string();
    provider.script(&[(400, &invalid)]);
    let omni = host(&provider, "").await;
    let conversation = text_from(&omni, "+14155550100", "SMbbbb", "hello").await;
    let id = reply(&omni, &conversation, "hi there").await;
    let failed = message_where(&omni, &conversation, &id, "failed", |m| m["status"] == "failed").await;
    assert!(failed["error"].as_str().unwrap().contains("21211"), "{failed}");
    assert_eq!(provider.requests().len(), 1, "a permanent error is not retried");

    let (status, dead) = omni.api_get("/v1/dead-letters?connector=sms").await;
    assert_eq!(status, 200, "{dead}");
    let items = dead["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{dead}");
    assert_eq!(items[0]["message_id"], id.as_str());
    assert_eq!(items[0]["attempts"], 1);
    assert!(items[0]["error"].as_str().unwrap().contains("21211"));

    let letter = items[0]["id"].as_i64().unwrap();
    let (status, requeued) = omni
        .api_post(&format!("/v1/dead-letters/{letter}/retry"), &json!({}))
        .await;
    assert_eq!(status, 202, "{requeued}");
    assert_eq!(requeued["status"], "queued");
    let sent = message_where(&omni, &conversation, &id, "sent", |m| m["status"] == "sent").await;
    assert_eq!(sent["external_id"], sid(1));
    let (_, dead) = omni.api_get("/v1/dead-letters").await;
    assert_eq!(dead["items"], json!([]));
    let (status, again) = omni
        .api_post(&format!("/v1/dead-letters/{letter}/retry"), &json!({}))
        .await;
    assert_eq!(status, 404, "{again}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receipt_that_beats_the_send_response_still_counts() {
    let provider = twilio().await;
    provider.set_latency(Duration::from_millis(1500));
    let omni = host(&provider, "").await;
    let conversation = text_from(&omni, "+14155550100", "SMcccc", "hello").await;
    let id = reply(&omni, &conversation, "on its way").await;
    // Twilio calls back while our API call is still waiting for its answer.
    provider.wait_for(1, Duration::from_secs(10)).await;
    let (status, answer) = twilio_webhook(
        &omni,
        "/status",
        &[
            ("MessageSid", &sid(0)),
            ("SmsSid", &sid(0)),
            ("AccountSid", ACCOUNT),
            ("MessageStatus", "delivered"),
            ("From", "+15005550006"),
            ("To", "+14155550100"),
        ],
    )
    .await;
    assert!((200..300).contains(&status), "{status} {answer}");
    let message = message_where(&omni, &conversation, &id, "delivered", |m| m["status"] == "delivered").await;
    assert_eq!(message["external_id"], sid(0));
}

/// Replies to `count` different people, so nothing orders them.
async fn replies_to_many(omni: &OmniProcess, count: usize) {
    let mut conversations = Vec::new();
    for i in 0..count {
        let from = format!("+1415555{:04}", 200 + i);
        let (status, answer) = twilio_webhook(
            omni,
            "/sms",
            &[
                ("MessageSid", &format!("SMin{i}")),
                ("AccountSid", ACCOUNT),
                ("From", &from),
                ("To", "+15005550006"),
                ("Body", "hi"),
                ("NumMedia", "0"),
            ],
        )
        .await;
        assert_eq!(status, 200, "{answer}");
    }
    let (_, page) = omni.api_get("/v1/conversations?limit=200").await;
    for c in page["items"].as_array().unwrap() {
        conversations.push(c["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(conversations.len(), count, "{page}");
    for conversation in &conversations {
        reply(omni, conversation, "thanks").await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connector_never_has_more_sends_in_flight_than_allowed() {
    let provider = twilio().await;
    provider.set_latency(Duration::from_millis(150));
    let omni = host(&provider, "[plugins.delivery]\nconcurrency = 1\n").await;
    replies_to_many(&omni, 4).await;
    provider.wait_for(4, Duration::from_secs(20)).await;
    assert_eq!(provider.most_in_flight(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connector_sends_no_faster_than_its_rate() {
    let provider = twilio().await;
    let omni = host(&provider, "[plugins.delivery]\nper_second = 4\nburst = 1\n").await;
    replies_to_many(&omni, 5).await;
    let requests = provider.wait_for(5, Duration::from_secs(20)).await;
    // Five sends at 4 per second with no burst take at least a second; a
    // slow machine only makes it longer, so this cannot flake.
    let span = requests[4].at - requests[0].at;
    assert!(span >= Duration::from_millis(950), "5 sends took only {span:?}");
}
