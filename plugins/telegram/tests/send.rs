//! Outbound sends against the Bot API's documented answers (see fixtures/README.md).

use omni_plugin_sdk::testing::MockHost;
use omni_plugin_sdk::{
    Attachment, Channel, DeliveryState, Event, HttpError, Identity, IncomingResponse, OutboundMessage, Request,
    SendError, SendReceipt,
};
use omni_telegram::Telegram;
use serde_json::{Value, json};

const TOKEN: &str = "123456:TEST-token_not-real";

const SENT: &str = include_str!("../fixtures/send_message_ok.json");
const CHAT_NOT_FOUND: &str = include_str!("../fixtures/error_chat_not_found.json");
const BLOCKED: &str = include_str!("../fixtures/error_bot_blocked.json");
const DEACTIVATED: &str = include_str!("../fixtures/error_user_deactivated.json");
const TOO_MANY: &str = include_str!("../fixtures/error_too_many_requests.json");
const UNAUTHORIZED: &str = include_str!("../fixtures/error_unauthorized.json");
const INTERNAL: &str = include_str!("../fixtures/error_internal.json");
const REPLY_UPDATE: &str = include_str!("../fixtures/update_reply.json");

fn json_fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn answer(fixture: &str) -> IncomingResponse {
    let value = json_fixture(fixture);
    let status = value["error_code"].as_u64().map_or(200, |code| code as u16);
    IncomingResponse::json(status, &value)
}

/// A `sendMessage` success for message `id` in the test user's chat.
fn sent(id: i64) -> IncomingResponse {
    let mut value = json_fixture(SENT);
    value["result"]["message_id"] = json!(id);
    IncomingResponse::json(200, &value)
}

fn host() -> MockHost {
    MockHost::new().with_secret("bot_token", TOKEN)
}

fn user() -> Identity {
    Identity::channel_user("1111111")
}

fn send(mock: &MockHost, message: OutboundMessage) -> Result<SendReceipt, SendError> {
    Telegram::send(&mock.host(), message, user())
}

fn body(request: &omni_plugin_sdk::OutgoingRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

#[test]
fn a_reply_is_one_send_message_call_quoting_the_persons_message() {
    let mock = host().respond(answer(SENT));
    let mut message = OutboundMessage::text("m-1", "c-1", "Hello! How can we help?");
    message.reply_to = Some("1111111:1365".to_owned());
    let receipt = send(&mock, message).unwrap();
    assert_eq!(receipt, SendReceipt::sent("1111111:1401"));
    assert_eq!(receipt.state, DeliveryState::Sent);

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    // The Bot API authenticates by the token in the path, not by a header.
    assert_eq!(request.url, format!("https://api.telegram.org/bot{TOKEN}/sendMessage"));
    assert_eq!(request.header_value("authorization"), None);
    assert_eq!(request.header_value("content-type"), Some("application/json"));
    assert_eq!(
        body(request),
        json!({
            "chat_id": 1111111,
            "text": "Hello! How can we help?",
            "reply_parameters": {"message_id": 1365, "allow_sending_without_reply": true}
        })
    );
}

#[test]
fn the_receipt_id_is_what_a_persons_reply_to_the_bot_refers_to() {
    let mock = host().respond(answer(SENT));
    let receipt = send(&mock, OutboundMessage::text("m-1", "c-1", "Hello!")).unwrap();
    // The person swipes to reply to the bot's message 1401.
    let mut update = json_fixture(REPLY_UPDATE);
    update["message"]["reply_to_message"]["message_id"] = json!(1401);
    let inbound = host().with_secret("webhook_secret", "test-secret");
    let request = Request::post_json("/webhook", &update).with_header("X-Telegram-Bot-Api-Secret-Token", "test-secret");
    let outcome = Telegram::handle_webhook(&inbound.host(), request).unwrap();
    match &outcome.events[..] {
        [Event::MessageReceived(m)] => assert_eq!(m.reply_to.as_deref(), Some(receipt.external_id.as_str())),
        other => panic!("{other:?}"),
    }
}

#[test]
fn config_sets_the_api_base_and_parse_mode() {
    let mock = host()
        .with_config("api_base", json!("http://127.0.0.1:8081/"))
        .with_config("parse_mode", json!("HTML"))
        .respond(answer(SENT));
    send(&mock, OutboundMessage::text("m-1", "c-1", "<b>Hi</b>")).unwrap();
    let request = &mock.requests()[0];
    assert_eq!(request.url, format!("http://127.0.0.1:8081/bot{TOKEN}/sendMessage"));
    assert_eq!(
        body(request),
        json!({"chat_id": 1111111, "text": "<b>Hi</b>", "parse_mode": "HTML"})
    );
}

#[test]
fn a_reply_into_a_forum_topic_keeps_the_topic() {
    let mock = host().respond(answer(SENT));
    let mut message = OutboundMessage::text("m-1", "c-1", "Sure");
    message.thread_id = Some("1111111:9".to_owned());
    message.reply_to = Some("cb:4382bfdwdsb323b2d9".to_owned());
    send(&mock, message).unwrap();
    // A button press is not a message to quote.
    assert_eq!(
        body(&mock.requests()[0]),
        json!({"chat_id": 1111111, "text": "Sure", "message_thread_id": 9})
    );
}

#[test]
fn a_long_text_is_sent_in_pieces_and_the_receipt_is_the_first() {
    // 12 010 characters: three pieces, cut at the line breaks.
    let text = format!("{}\n{}\n{}", "a".repeat(4000), "b".repeat(4000), "c".repeat(4000));
    let mock = host().respond(sent(1401)).respond(sent(1402)).respond(sent(1403));
    let mut message = OutboundMessage::text("m-1", "c-1", &text);
    message.reply_to = Some("1111111:1365".to_owned());
    let receipt = send(&mock, message).unwrap();
    assert_eq!(receipt.external_id, "1111111:1401");
    let bodies: Vec<Value> = mock.requests().iter().map(body).collect();
    let expected = |letter: &str| json!({"chat_id": 1111111, "text": letter.repeat(4000)});
    let mut first = expected("a");
    first["reply_parameters"] = json!({"message_id": 1365, "allow_sending_without_reply": true});
    // Compared as booleans: a failure would print 12 000 characters.
    assert!(bodies[0] == first, "first piece");
    assert!(bodies[1] == expected("b"), "second piece");
    assert!(bodies[2] == expected("c"), "third piece");
    assert_eq!(bodies.len(), 3);
    assert!(mock.kv().is_empty(), "a finished send leaves no progress behind");
}

#[test]
fn a_retry_after_a_partial_failure_sends_only_the_rest() {
    let text = format!("{}\n{}", "a".repeat(4000), "b".repeat(100));
    let mut message = OutboundMessage::text("m-7", "c-1", &text);
    message.attachments.push(Attachment {
        name: Some("invoice.pdf".to_owned()),
        content_type: "application/pdf".to_owned(),
        size: None,
        url: Some("https://files.example/invoice.pdf".to_owned()),
    });
    let mock = host().respond(sent(1401)).respond(answer(TOO_MANY));
    let error = send(&mock, message.clone()).unwrap_err();
    assert_eq!(
        error,
        SendError::Retryable {
            message: "part 2 of 3: Telegram answered 429: Too Many Requests: retry after 35".to_owned(),
            after_ms: Some(35_000),
        }
    );
    assert!(mock.kv().contains_key("send/m-7"));

    // The host retries the same message later (the key-value store persists).
    let mock = mock.respond(sent(1402)).respond(sent(1403));
    let receipt = send(&mock, message).unwrap();
    assert_eq!(receipt.external_id, "1111111:1401");
    let requests = mock.requests();
    let retried: Vec<(String, Value)> = requests[2..]
        .iter()
        .map(|r| (r.url.rsplit('/').next().unwrap().to_owned(), body(r)))
        .collect();
    assert_eq!(
        retried,
        vec![
            (
                "sendMessage".to_owned(),
                json!({"chat_id": 1111111, "text": "b".repeat(100)})
            ),
            (
                "sendDocument".to_owned(),
                json!({"chat_id": 1111111, "document": "https://files.example/invoice.pdf"})
            ),
        ]
    );
    assert!(mock.kv().is_empty());
}

#[test]
fn attachments_go_by_url_or_by_telegram_file_id() {
    let mut message = OutboundMessage::text("m-1", "c-1", "");
    message.attachments = vec![
        Attachment {
            name: None,
            content_type: "image/png".to_owned(),
            size: None,
            url: Some("https://files.example/chart.png".to_owned()),
        },
        Attachment {
            name: None,
            content_type: "image/jpeg".to_owned(),
            size: Some(81726),
            url: Some("telegram-file:AgACAgIAAxkBAAIBZ2ZlargeXXXXXXXXXXXXXXXX".to_owned()),
        },
    ];
    let mock = host().respond(sent(1401)).respond(sent(1402));
    assert_eq!(send(&mock, message).unwrap().external_id, "1111111:1401");
    let requests = mock.requests();
    assert_eq!(
        requests[0].url,
        format!("https://api.telegram.org/bot{TOKEN}/sendPhoto")
    );
    assert_eq!(
        body(&requests[0]),
        json!({"chat_id": 1111111, "photo": "https://files.example/chart.png"})
    );
    assert_eq!(
        body(&requests[1]),
        json!({"chat_id": 1111111, "photo": "AgACAgIAAxkBAAIBZ2ZlargeXXXXXXXXXXXXXXXX"})
    );
}

#[test]
fn documented_errors_are_classified() {
    let cases = [
        (
            CHAT_NOT_FOUND,
            false,
            "Telegram answered 400: Bad Request: chat not found",
        ),
        (
            BLOCKED,
            false,
            "Telegram answered 403: Forbidden: bot was blocked by the user",
        ),
        (
            DEACTIVATED,
            false,
            "Telegram answered 403: Forbidden: user is deactivated",
        ),
        (INTERNAL, true, "Telegram answered 500: Internal Server Error"),
    ];
    for (fixture, retryable, expected) in cases {
        let mock = host().respond(answer(fixture));
        let error = send(&mock, OutboundMessage::text("m-1", "c-1", "hi")).unwrap_err();
        match (&error, retryable) {
            (
                SendError::Retryable {
                    message,
                    after_ms: None,
                },
                true,
            )
            | (SendError::Permanent { message }, false) => {
                assert_eq!(message, expected)
            }
            _ => panic!("{fixture}: {error:?}"),
        }
    }
}

#[test]
fn flood_control_is_retried_after_telegrams_delay() {
    let mock = host().respond(answer(TOO_MANY));
    let error = send(&mock, OutboundMessage::text("m-1", "c-1", "hi")).unwrap_err();
    assert_eq!(
        error,
        SendError::Retryable {
            message: "Telegram answered 429: Too Many Requests: retry after 35".to_owned(),
            after_ms: Some(35_000),
        }
    );
}

#[test]
fn a_rejected_token_is_permanent_and_never_quoted() {
    let mock = host().respond(answer(UNAUTHORIZED));
    let error = send(&mock, OutboundMessage::text("m-1", "c-1", "hi")).unwrap_err();
    match &error {
        SendError::Permanent { message } => {
            assert!(message.starts_with("Telegram answered 401: Unauthorized"), "{message}");
            assert!(message.contains("bot_token"), "{message}");
            assert!(!message.contains("TEST-token"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn transport_failures_are_classified_and_the_token_is_masked() {
    let url = format!("https://api.telegram.org/bot{TOKEN}/sendMessage");
    let mock = host().fail_http(HttpError::Timeout(format!("no answer from {url}")));
    let error = send(&mock, OutboundMessage::text("m-1", "c-1", "hi")).unwrap_err();
    assert_eq!(
        error,
        SendError::retryable("request timed out: no answer from https://api.telegram.org/bot<bot_token>/sendMessage")
    );
    let mock = host().fail_http(HttpError::Denied(format!("{url} is not in allowed_hosts")));
    let error = send(&mock, OutboundMessage::text("m-1", "c-1", "hi")).unwrap_err();
    assert!(
        matches!(&error, SendError::Permanent { message } if !message.contains(TOKEN)),
        "{error:?}"
    );
    assert!(mock.logs().iter().all(|(_, line)| !line.contains(TOKEN)));
}

#[test]
fn a_missing_bot_token_fails_without_calling_telegram() {
    let mock = MockHost::new().respond(answer(SENT));
    let error = send(&mock, OutboundMessage::text("m-1", "c-1", "hi")).unwrap_err();
    assert!(
        matches!(&error, SendError::Permanent { message } if message.contains("bot_token")),
        "{error:?}"
    );
    assert!(mock.requests().is_empty());
}

#[test]
fn only_telegram_user_ids_are_reachable() {
    let mock = host();
    let error = Telegram::send(
        &mock.host(),
        OutboundMessage::text("m-1", "c-1", "hi"),
        Identity::phone("+447700900123"),
    )
    .unwrap_err();
    assert!(matches!(error, SendError::Permanent { .. }));
    assert!(mock.requests().is_empty());
}
