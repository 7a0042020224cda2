//! Outbound messages through the Send API, with Meta's documented answers.

use omni_messenger::{APP_SECRET, Messenger, PAGE_ACCESS_TOKEN};
use omni_plugin_sdk::crypto::hmac_sha256_hex;
use omni_plugin_sdk::prelude::*;
use serde_json::{Value, json};

const PSID: &str = "1254477777772919";
const SENT_ID: &str = "AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P";

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn accepted() -> IncomingResponse {
    IncomingResponse::json(200, &fixture(include_str!("../fixtures/send_response.json")))
}

fn accepted_as(mid: &str) -> IncomingResponse {
    IncomingResponse::json(200, &json!({ "recipient_id": PSID, "message_id": mid }))
}

fn refused(status: u16, body: &str) -> IncomingResponse {
    IncomingResponse::json(status, &fixture(body))
}

fn mock() -> testing::MockHost {
    testing::MockHost::new().with_secret(PAGE_ACCESS_TOKEN, "test-page-token")
}

fn send(mock: &testing::MockHost, message: OutboundMessage) -> Result<SendReceipt, SendError> {
    Messenger::send(&mock.host(), message, Identity::channel_user(PSID).verified())
}

fn text(text: &str) -> OutboundMessage {
    OutboundMessage::text("msg-1", "conv-1", text)
}

fn bodies(mock: &testing::MockHost) -> Vec<Value> {
    mock.requests()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn a_text_reply_is_the_documented_request() {
    let mock = mock().respond(accepted());
    assert_eq!(
        send(&mock, text("Hello from the shop")).unwrap(),
        SendReceipt::sent(SENT_ID)
    );
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].url, "https://graph.facebook.com/v21.0/me/messages");
    assert_eq!(
        requests[0].header_value("authorization"),
        Some("Bearer test-page-token")
    );
    assert_eq!(requests[0].header_value("content-type"), Some("application/json"));
    assert_eq!(
        bodies(&mock),
        vec![json!({
            "recipient": { "id": PSID },
            "messaging_type": "RESPONSE",
            "message": { "text": "Hello from the shop" }
        })]
    );
}

#[test]
fn a_configured_page_sends_through_its_own_endpoint() {
    let mock = mock()
        .with_config("page_id", json!("682498302938465"))
        .with_config("api_base", json!("http://127.0.0.1:9999"))
        .with_config("api_version", json!("v23.0"))
        .respond(accepted());
    send(&mock, text("hi")).unwrap();
    assert_eq!(
        mock.requests()[0].url,
        "http://127.0.0.1:9999/v23.0/682498302938465/messages"
    );
}

#[test]
fn attachments_are_sent_by_url_after_the_text() {
    let mut message = text("Your receipt:");
    message.attachments = vec![
        Attachment {
            name: Some("receipt.pdf".into()),
            content_type: "application/pdf".into(),
            size: None,
            url: Some("https://cdn.example.com/receipt.pdf".into()),
        },
        Attachment {
            name: None,
            content_type: "image/png".into(),
            size: None,
            url: None,
        },
    ];
    let mock = mock().respond(accepted_as("m_text")).respond(accepted_as("m_file"));
    assert_eq!(send(&mock, message).unwrap(), SendReceipt::sent("m_text"));
    let sent = bodies(&mock);
    assert_eq!(sent.len(), 2, "the attachment without a URL is skipped");
    assert_eq!(
        sent[1]["message"],
        json!({ "attachment": { "type": "file", "payload": { "url": "https://cdn.example.com/receipt.pdf", "is_reusable": false } } })
    );
}

#[test]
fn a_failed_part_is_resumed_without_resending_the_others() {
    let long = format!("{} {}", "a".repeat(1500), "b".repeat(1500));
    let mock = mock()
        .respond(accepted_as("m_1"))
        .respond(refused(400, include_str!("../fixtures/error_rate_limit.json")));
    assert!(matches!(
        send(&mock, text(&long)).unwrap_err(),
        SendError::Retryable { .. }
    ));
    let sent = bodies(&mock);
    assert_eq!(sent[0]["message"]["text"], "a".repeat(1500));
    assert_eq!(sent[1]["message"]["text"], "b".repeat(1500));
    assert_eq!(
        mock.kv().get("outbox/msg-1").map(Vec::as_slice),
        Some(&br#"["m_1"]"#[..])
    );

    let retry = self::mock().respond(accepted_as("m_2"));
    retry.host().kv_set("outbox/msg-1", br#"["m_1"]"#).unwrap();
    assert_eq!(send(&retry, text(&long)).unwrap(), SendReceipt::sent("m_1"));
    assert_eq!(bodies(&retry).len(), 1);
    assert_eq!(bodies(&retry)[0]["message"]["text"], "b".repeat(1500));
    assert!(!retry.kv().contains_key("outbox/msg-1"));
}

#[test]
fn documented_errors_are_classified() {
    let cases = [
        (400, include_str!("../fixtures/error_rate_limit.json"), true),
        (500, include_str!("../fixtures/error_temporary_failure.json"), true),
        (503, include_str!("../fixtures/error_service_unavailable.json"), true),
        (400, include_str!("../fixtures/error_person_unavailable.json"), false),
        (400, include_str!("../fixtures/error_no_matching_user.json"), false),
        (400, include_str!("../fixtures/error_outside_window.json"), false),
        (401, include_str!("../fixtures/error_invalid_token.json"), false),
    ];
    for (status, body, retryable) in cases {
        let mock = mock().respond(refused(status, body));
        let err = send(&mock, text("hi")).unwrap_err();
        assert_eq!(matches!(err, SendError::Retryable { .. }), retryable, "{body}: {err:?}");
        assert_eq!(mock.requests().len(), 1, "no tag retry without human_agent_tag");
    }
    let mock = mock().respond(refused(400, include_str!("../fixtures/error_person_unavailable.json")));
    assert_eq!(
        send(&mock, text("hi")).unwrap_err(),
        SendError::permanent(
            "Messenger error 551/1545041: This person isn't available right now. [HTTP 400, fbtrace_id BLBz/WZt8dN]"
        )
    );
}

#[test]
fn http_failures_and_retry_after_are_honoured() {
    let mock = mock().respond(IncomingResponse::new(429, "slow down").with_header("retry-after", "12"));
    assert_eq!(
        send(&mock, text("hi")).unwrap_err(),
        SendError::Retryable {
            message: "Messenger answered 429: slow down".into(),
            after_ms: Some(12_000)
        }
    );
    let mock = self::mock().fail_http(HttpError::Unreachable("dns".into()));
    assert!(matches!(
        send(&mock, text("hi")).unwrap_err(),
        SendError::Retryable { .. }
    ));
    let mock = self::mock().fail_http(HttpError::Denied("not allowed".into()));
    assert!(matches!(
        send(&mock, text("hi")).unwrap_err(),
        SendError::Permanent { .. }
    ));
}

#[test]
fn outside_the_window_the_human_agent_tag_is_tried_once() {
    let mock = mock()
        .with_config("human_agent_tag", json!(true))
        .respond(refused(400, include_str!("../fixtures/error_outside_window.json")))
        .respond(accepted());
    assert_eq!(
        send(&mock, text("Sorry for the wait")).unwrap(),
        SendReceipt::sent(SENT_ID)
    );
    let sent = bodies(&mock);
    assert_eq!(sent[0]["messaging_type"], "RESPONSE");
    assert_eq!(
        sent[1],
        json!({
            "recipient": { "id": PSID },
            "messaging_type": "MESSAGE_TAG",
            "tag": "HUMAN_AGENT",
            "message": { "text": "Sorry for the wait" }
        })
    );

    // Refused again (past the 7 days the tag allows): permanent, no third try.
    let mock = self::mock()
        .with_config("human_agent_tag", json!(true))
        .respond(refused(400, include_str!("../fixtures/error_outside_window.json")))
        .respond(refused(400, include_str!("../fixtures/error_outside_window.json")));
    assert!(matches!(
        send(&mock, text("hi")).unwrap_err(),
        SendError::Permanent { .. }
    ));
    assert_eq!(mock.requests().len(), 2);
}

#[test]
fn a_window_known_to_be_closed_is_tagged_up_front() {
    let mock = mock().with_config("human_agent_tag", json!(true)).respond(accepted());
    mock.host()
        .kv_set_json(&format!("window/{PSID}"), &(now_ms() - 30 * 3600 * 1000))
        .unwrap();
    send(&mock, text("hi")).unwrap();
    assert_eq!(bodies(&mock).len(), 1);
    assert_eq!(bodies(&mock)[0]["tag"], "HUMAN_AGENT");
}

#[test]
fn read_receipts_cover_the_messages_sent() {
    let mock = mock().with_secret(APP_SECRET, "test-app-secret").respond(accepted());
    let before = now_ms();
    let receipt = send(&mock, text("hi")).unwrap();
    let log: Value = mock.host().kv_get_json(&format!("sent/{PSID}")).unwrap().unwrap();
    assert_eq!(log[0]["mid"], SENT_ID);
    assert!(log[0]["at"].as_i64().unwrap() >= before);

    // The person reads everything up to now.
    let body = json!({"object": "page", "entry": [{"id": "682498302938465", "time": now_ms(), "messaging": [{
        "sender": {"id": PSID}, "recipient": {"id": "682498302938465"}, "timestamp": now_ms() + 5000,
        "read": {"watermark": now_ms() + 5000}
    }]}]})
    .to_string();
    let signature = format!("sha256={}", hmac_sha256_hex(b"test-app-secret", body.as_bytes()));
    let request = Request::post("/webhook", body)
        .with_header("content-type", "application/json")
        .with_header("x-hub-signature-256", &signature);
    let outcome = Messenger::handle_webhook(&mock.host(), request).unwrap();
    match &outcome.events[..] {
        [Event::DeliveryStatus(status)] => {
            assert_eq!(status.external_id, receipt.external_id);
            assert_eq!(status.state, DeliveryState::Read);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unusable_recipients_and_configuration_fail_permanently_without_a_request() {
    let mock = mock();
    let err = Messenger::send(&mock.host(), text("hi"), Identity::phone("+16505551234")).unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }));
    let no_token = testing::MockHost::new();
    assert_eq!(
        send(&no_token, text("hi")).unwrap_err(),
        SendError::permanent("the secret `page_access_token` is not configured for this Messenger instance")
    );
    assert!(matches!(
        send(&mock, text(" ")).unwrap_err(),
        SendError::Permanent { .. }
    ));
    assert!(mock.requests().is_empty());
    assert!(no_token.requests().is_empty());
}

#[test]
fn an_accepted_answer_without_a_message_id_is_not_retried() {
    let mock = mock().respond(IncomingResponse::json(200, &json!({ "recipient_id": PSID })));
    assert!(matches!(
        send(&mock, text("hi")).unwrap_err(),
        SendError::Permanent { .. }
    ));
}
