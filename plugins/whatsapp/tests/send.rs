//! Outbound messages through the Messages API, with Meta's documented answers.

use omni_plugin_sdk::crypto::hmac_sha256_hex;
use omni_plugin_sdk::prelude::*;
use omni_whatsapp::{ACCESS_TOKEN, APP_SECRET, WhatsApp};
use serde_json::{Value, json};

const URL: &str = "https://graph.facebook.com/v21.0/106540352242922/messages";
const SENT_ID: &str = "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA";

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn accepted() -> IncomingResponse {
    IncomingResponse::json(200, &fixture(include_str!("../fixtures/send_response.json")))
}

fn accepted_as(id: &str) -> IncomingResponse {
    let mut answer = fixture(include_str!("../fixtures/send_response.json"));
    answer["messages"][0]["id"] = json!(id);
    IncomingResponse::json(200, &answer)
}

fn refused(status: u16, body: &str) -> IncomingResponse {
    IncomingResponse::json(status, &fixture(body))
}

fn mock() -> testing::MockHost {
    testing::MockHost::new()
        .with_secret(ACCESS_TOKEN, "test-access-token")
        .with_config("phone_number_id", json!("106540352242922"))
}

fn sheena() -> Identity {
    Identity::phone("+16505551234").verified()
}

fn send(mock: &testing::MockHost, message: OutboundMessage) -> Result<SendReceipt, SendError> {
    WhatsApp::send(&mock.host(), message, sheena())
}

fn bodies(mock: &testing::MockHost) -> Vec<Value> {
    mock.requests()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn with_attachments(text: &str, attachments: Vec<Attachment>) -> OutboundMessage {
    let mut message = OutboundMessage::text("msg-1", "conv-1", text);
    message.attachments = attachments;
    message
}

fn attachment(content_type: &str, url: &str, name: Option<&str>) -> Attachment {
    Attachment {
        name: name.map(str::to_owned),
        content_type: content_type.into(),
        size: None,
        url: Some(url.into()),
    }
}

#[test]
fn a_text_reply_is_the_documented_request() {
    let mock = mock().respond(accepted());
    let receipt = send(
        &mock,
        OutboundMessage::text("msg-1", "conv-1", "It comes in blue and green."),
    )
    .unwrap();
    assert_eq!(receipt, SendReceipt::sent(SENT_ID));

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].url, URL);
    assert_eq!(
        requests[0].header_value("authorization"),
        Some("Bearer test-access-token")
    );
    assert_eq!(requests[0].header_value("content-type"), Some("application/json"));
    assert_eq!(
        bodies(&mock),
        vec![json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "16505551234",
            "type": "text",
            "text": { "preview_url": false, "body": "It comes in blue and green." }
        })]
    );
}

#[test]
fn replies_quote_the_last_message_unless_disabled() {
    let mut message = OutboundMessage::text("msg-1", "conv-1", "Yes, in blue.");
    message.reply_to = Some("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=".into());

    let mock = mock().respond(accepted());
    send(&mock, message.clone()).unwrap();
    assert_eq!(
        bodies(&mock)[0]["context"],
        json!({ "message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=" })
    );

    let mock = self::mock()
        .with_config("quote_replies", json!(false))
        .respond(accepted());
    send(&mock, message).unwrap();
    assert!(bodies(&mock)[0].get("context").is_none());
}

#[test]
fn the_api_base_and_version_are_configurable() {
    let mock = mock()
        .with_config("api_base", json!("http://127.0.0.1:9999/"))
        .with_config("api_version", json!("v23.0"))
        .respond(accepted());
    send(&mock, OutboundMessage::text("msg-1", "conv-1", "hi")).unwrap();
    assert_eq!(
        mock.requests()[0].url,
        "http://127.0.0.1:9999/v23.0/106540352242922/messages"
    );
}

#[test]
fn one_attachment_carries_the_text_as_caption() {
    let mock = mock().respond(accepted());
    let message = with_attachments(
        "Here is the blue one.",
        vec![attachment("image/png", "https://cdn.example.com/blue.png", None)],
    );
    send(&mock, message).unwrap();
    assert_eq!(
        bodies(&mock),
        vec![json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "16505551234",
            "type": "image",
            "image": { "link": "https://cdn.example.com/blue.png", "caption": "Here is the blue one." }
        })]
    );
}

#[test]
fn text_and_several_attachments_are_sent_in_order_and_resumed_after_a_failure() {
    let message = with_attachments(
        "Your documents:",
        vec![
            attachment(
                "application/pdf",
                "https://cdn.example.com/invoice.pdf",
                Some("invoice.pdf"),
            ),
            attachment("audio/ogg", "https://cdn.example.com/note.ogg", None),
        ],
    );
    let mock = mock()
        .respond(accepted_as("wamid.TEXT"))
        .respond(accepted_as("wamid.DOC"))
        .respond(refused(400, include_str!("../fixtures/error_130429_rate_limit.json")));
    let err = send(&mock, message.clone()).unwrap_err();
    assert!(matches!(err, SendError::Retryable { .. }), "{err:?}");
    let sent = bodies(&mock);
    assert_eq!(sent[0]["text"]["body"], "Your documents:");
    assert_eq!(
        sent[1]["document"],
        json!({ "link": "https://cdn.example.com/invoice.pdf", "filename": "invoice.pdf" })
    );
    assert_eq!(sent[2]["audio"], json!({ "link": "https://cdn.example.com/note.ogg" }));
    assert_eq!(
        mock.kv().get("outbox/msg-1").map(Vec::as_slice),
        Some(&br#"["wamid.TEXT","wamid.DOC"]"#[..])
    );

    // The host retries: only the audio goes out again, and the receipt is the first part's id.
    let retry = testing::MockHost::new()
        .with_secret(ACCESS_TOKEN, "test-access-token")
        .with_config("phone_number_id", json!("106540352242922"))
        .respond(accepted_as("wamid.AUDIO"));
    retry
        .host()
        .kv_set("outbox/msg-1", br#"["wamid.TEXT","wamid.DOC"]"#)
        .unwrap();
    assert_eq!(send(&retry, message).unwrap(), SendReceipt::sent("wamid.TEXT"));
    assert_eq!(bodies(&retry).len(), 1);
    assert_eq!(bodies(&retry)[0]["type"], "audio");
    assert!(!retry.kv().contains_key("outbox/msg-1"));
}

#[test]
fn documented_errors_are_classified() {
    let cases = [
        (400, include_str!("../fixtures/error_130429_rate_limit.json"), true),
        (400, include_str!("../fixtures/error_131056_pair_rate_limit.json"), true),
        (
            500,
            include_str!("../fixtures/error_131000_something_went_wrong.json"),
            true,
        ),
        (400, include_str!("../fixtures/error_131026_undeliverable.json"), false),
        (400, include_str!("../fixtures/error_131047_reengagement.json"), false),
        (
            400,
            include_str!("../fixtures/error_131009_invalid_parameter.json"),
            false,
        ),
        (401, include_str!("../fixtures/error_190_token_expired.json"), false),
    ];
    for (status, body, retryable) in cases {
        let mock = mock().respond(refused(status, body));
        let err = send(&mock, OutboundMessage::text("msg-1", "conv-1", "hi")).unwrap_err();
        assert_eq!(matches!(err, SendError::Retryable { .. }), retryable, "{body}: {err:?}");
    }

    let mock = mock().respond(refused(400, include_str!("../fixtures/error_131047_reengagement.json")));
    let err = send(&mock, OutboundMessage::text("msg-1", "conv-1", "hi")).unwrap_err();
    assert_eq!(
        err,
        SendError::permanent(
            "WhatsApp error 131047: Re-engagement message: Message failed to send because more than 24 hours \
             have passed since the customer last replied to this number. [HTTP 400, fbtrace_id AI5Ob2z72R0JAUB5zOF-nao]"
        )
    );
}

#[test]
fn rate_limits_honour_retry_after_and_transport_failures_are_retryable() {
    let limited = IncomingResponse::new(429, "Too Many Requests").with_header("Retry-After", "30");
    let mock = mock().respond(limited);
    let err = send(&mock, OutboundMessage::text("msg-1", "conv-1", "hi")).unwrap_err();
    assert_eq!(
        err,
        SendError::Retryable {
            message: "WhatsApp answered 429: Too Many Requests".into(),
            after_ms: Some(30_000)
        }
    );
    let mock = self::mock().fail_http(HttpError::Timeout("deadline".into()));
    let err = send(&mock, OutboundMessage::text("msg-1", "conv-1", "hi")).unwrap_err();
    assert!(matches!(err, SendError::Retryable { .. }));
}

#[test]
fn a_closed_window_falls_back_to_the_reengagement_template_once() {
    let template = json!({ "name": "reply_waiting", "language": "en_US" });
    let mock = mock()
        .with_config("reengagement_template", template.clone())
        .respond(refused(400, include_str!("../fixtures/error_131047_reengagement.json")))
        .respond(accepted_as("wamid.TEMPLATE"));
    let receipt = send(&mock, OutboundMessage::text("msg-1", "conv-1", "Your order shipped.")).unwrap();
    assert_eq!(receipt, SendReceipt::sent("wamid.TEMPLATE"));
    let sent = bodies(&mock);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0]["type"], "text");
    assert_eq!(
        sent[1],
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "16505551234",
            "type": "template",
            "template": { "name": "reply_waiting", "language": { "code": "en_US" } }
        })
    );

    // A template refused in turn is not retried again.
    let mock = self::mock()
        .with_config("reengagement_template", template)
        .respond(refused(400, include_str!("../fixtures/error_131047_reengagement.json")))
        .respond(refused(
            400,
            include_str!("../fixtures/error_131009_invalid_parameter.json"),
        ));
    let err = send(&mock, OutboundMessage::text("msg-1", "conv-1", "hi")).unwrap_err();
    assert!(
        matches!(err, SendError::Permanent { ref message } if message.contains("131009")),
        "{err:?}"
    );
    assert_eq!(mock.requests().len(), 2);
}

#[test]
fn a_window_known_to_be_closed_sends_the_template_directly() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let template = json!({ "name": "reply_waiting", "language": "en_US" });

    let mock = mock()
        .with_config("reengagement_template", template.clone())
        .respond(accepted_as("wamid.TEMPLATE"));
    mock.host()
        .kv_set_json("window/16505551234", &(now - 25 * 3600))
        .unwrap();
    assert_eq!(
        send(&mock, OutboundMessage::text("msg-1", "conv-1", "hi")).unwrap(),
        SendReceipt::sent("wamid.TEMPLATE")
    );
    assert_eq!(bodies(&mock).len(), 1);
    assert_eq!(bodies(&mock)[0]["type"], "template");

    // Within the window the reply itself goes out.
    let mock = self::mock()
        .with_config("reengagement_template", template)
        .respond(accepted());
    mock.host().kv_set_json("window/16505551234", &(now - 3600)).unwrap();
    send(&mock, OutboundMessage::text("msg-1", "conv-1", "hi")).unwrap();
    assert_eq!(bodies(&mock)[0]["type"], "text");
}

#[test]
fn statuses_refer_to_the_id_the_send_returned() {
    let mock = mock().with_secret(APP_SECRET, "test-app-secret").respond(accepted());
    let receipt = send(&mock, OutboundMessage::text("msg-1", "conv-1", "hi")).unwrap();

    let body = include_str!("../fixtures/status_delivered.json");
    let signature = format!("sha256={}", hmac_sha256_hex(b"test-app-secret", body.as_bytes()));
    let request = Request::post("/webhook", body)
        .with_header("content-type", "application/json")
        .with_header("x-hub-signature-256", &signature);
    let outcome = WhatsApp::handle_webhook(&mock.host(), request).unwrap();
    match &outcome.events[..] {
        [Event::DeliveryStatus(status)] => {
            assert_eq!(status.external_id, receipt.external_id);
            assert_eq!(status.state, DeliveryState::Delivered);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unusable_recipients_and_configuration_fail_permanently_without_a_request() {
    let mock = mock();
    let message = OutboundMessage::text("msg-1", "conv-1", "hi");
    let err = WhatsApp::send(&mock.host(), message.clone(), Identity::email("ann@example.com")).unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }));
    let err = WhatsApp::send(&mock.host(), message.clone(), Identity::phone("16505551234x")).unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }));

    let no_token = testing::MockHost::new().with_config("phone_number_id", json!("106540352242922"));
    let err = send(&no_token, message.clone()).unwrap_err();
    assert_eq!(
        err,
        SendError::permanent("the secret `access_token` is not configured for this WhatsApp instance")
    );

    let empty = with_attachments("  ", vec![]);
    assert!(matches!(send(&mock, empty).unwrap_err(), SendError::Permanent { .. }));
    assert!(mock.requests().is_empty());
    assert!(no_token.requests().is_empty());
}

#[test]
fn an_accepted_answer_without_an_id_is_not_retried() {
    let mock = mock().respond(IncomingResponse::json(200, &json!({ "messaging_product": "whatsapp" })));
    let err = send(&mock, OutboundMessage::text("msg-1", "conv-1", "hi")).unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
}
