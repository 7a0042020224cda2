//! `POST /webhook` with the Bot API's documented updates (see fixtures/README.md).

use omni_plugin_sdk::testing::MockHost;
use omni_plugin_sdk::{Attachment, Channel, Event, Identity, InboundMessage, LogLevel, Request, WebhookOutcome};
use omni_telegram::{SECRET_HEADER, Telegram};
use serde_json::{Value, json};

const SECRET: &str = "test-secret";

const TEXT: &str = include_str!("../fixtures/update_text.json");
const REPLY: &str = include_str!("../fixtures/update_reply.json");
const EDITED: &str = include_str!("../fixtures/update_edited_message.json");
const AUDIO: &str = include_str!("../fixtures/update_audio.json");
const VOICE: &str = include_str!("../fixtures/update_voice.json");
const DOCUMENT: &str = include_str!("../fixtures/update_document.json");
const INLINE_QUERY: &str = include_str!("../fixtures/update_inline_query.json");
const CALLBACK: &str = include_str!("../fixtures/update_callback_query.json");
const CALLBACK_ON_MESSAGE: &str = include_str!("../fixtures/update_callback_query_message.json");
const PHOTO: &str = include_str!("../fixtures/update_photo_caption.json");
const CONTACT: &str = include_str!("../fixtures/update_contact.json");
const CHANNEL_POST: &str = include_str!("../fixtures/update_channel_post.json");
const GROUP_TOPIC: &str = include_str!("../fixtures/update_group_topic.json");
const BLOCKED: &str = include_str!("../fixtures/update_my_chat_member_kicked.json");

fn host() -> MockHost {
    MockHost::new().with_secret("webhook_secret", SECRET)
}

fn update(body: &str) -> Request {
    Request::post("/webhook", body)
        .with_header("content-type", "application/json")
        .with_header("X-Telegram-Bot-Api-Secret-Token", SECRET)
}

fn edit(fixture: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut value: Value = serde_json::from_str(fixture).unwrap();
    change(&mut value);
    value.to_string()
}

fn receive(mock: &MockHost, body: &str) -> WebhookOutcome {
    Telegram::handle_webhook(&mock.host(), update(body)).unwrap()
}

fn message(outcome: &WebhookOutcome) -> &InboundMessage {
    assert_eq!(outcome.response.status, 200);
    match &outcome.events[..] {
        [Event::MessageReceived(m)] => m,
        other => panic!("expected one message, got {other:?}"),
    }
}

fn test_user() -> Identity {
    Identity::channel_user("1111111").verified()
}

#[test]
fn a_text_message_becomes_a_message_from_a_verified_telegram_user() {
    let mock = host();
    let outcome = receive(&mock, TEXT);
    let expected = InboundMessage {
        external_id: "1111111:1365".to_owned(),
        sender: test_user(),
        claims: vec![],
        display_name: Some("Test Firstname Test Lastname".to_owned()),
        text: "/start".to_owned(),
        attachments: vec![],
        thread_id: None,
        reply_to: None,
        references: vec![],
        sent_at: Some(1_441_645_532_000),
    };
    assert_eq!(message(&outcome), &expected);
    assert!(outcome.response.body.is_empty());
}

#[test]
fn a_reply_names_the_replied_message_in_the_same_chat() {
    let outcome = receive(&host(), REPLY);
    let m = message(&outcome);
    // message_id is only unique per chat; a reply is always in the message's own chat.
    assert_eq!(m.reply_to.as_deref(), Some("1111111:1334"));
    assert_eq!(m.external_id, "1111111:1365");
}

#[test]
fn a_photo_is_its_largest_size_with_the_caption_as_text() {
    let outcome = receive(&host(), PHOTO);
    let m = message(&outcome);
    assert_eq!(m.text, "Is this the right part?");
    assert_eq!(
        m.attachments,
        vec![Attachment {
            name: None,
            content_type: "image/jpeg".to_owned(),
            size: Some(81726),
            url: Some("telegram-file:AgACAgIAAxkBAAIBZ2ZlargeXXXXXXXXXXXXXXXX".to_owned()),
        }]
    );
    assert_eq!(m.external_id, "1111111:1366");
    assert_eq!(m.sent_at, Some(1_441_645_600_000));
}

#[test]
fn documents_voice_notes_and_audio_are_attachment_metadata() {
    let mock = host();
    let document = receive(&mock, DOCUMENT);
    let document = message(&document);
    assert_eq!(document.text, "");
    assert_eq!(
        document.attachments,
        vec![Attachment {
            name: Some("Testfile.pdf".to_owned()),
            content_type: "application/pdf".to_owned(),
            size: Some(536392),
            url: Some("telegram-file:AwADBAADbXXXXXXXXXXXGBdhD2l6_XX".to_owned()),
        }]
    );
    let voice = receive(&mock, VOICE);
    assert_eq!(
        message(&voice).attachments,
        vec![Attachment {
            name: None,
            content_type: "audio/ogg".to_owned(),
            size: Some(23000),
            url: Some("telegram-file:AwADBAADbXXXXXXXXXXXGBdhD2l6_XX".to_owned()),
        }]
    );
    let audio = receive(&mock, AUDIO);
    assert_eq!(
        message(&audio).attachments,
        vec![Attachment {
            name: Some("Test music file".to_owned()),
            content_type: "audio/mpeg".to_owned(),
            size: Some(3897500),
            url: Some("telegram-file:AwADBAADbXXXXXXXXXXXGBdhD2l6_XX".to_owned()),
        }]
    );
}

#[test]
fn sharing_ones_own_contact_proves_the_phone_number() {
    let outcome = receive(&host(), CONTACT);
    let m = message(&outcome);
    assert_eq!(m.claims, vec![Identity::phone("+447700900123").verified()]);
    assert_eq!(m.text, "Contact: Test Firstname Test Lastname 447700900123");
    assert_eq!(m.sender, test_user());
}

#[test]
fn someone_elses_contact_claims_nothing_about_the_sender() {
    let other = edit(CONTACT, |v| v["message"]["contact"]["user_id"] = json!(2222222));
    let m = receive(&host(), &other);
    assert!(message(&m).claims.is_empty());
    let unknown = edit(CONTACT, |v| {
        v["message"]["contact"].as_object_mut().unwrap().remove("user_id");
    });
    let m = receive(&host(), &unknown);
    assert!(message(&m).claims.is_empty());
    assert_eq!(message(&m).text, "Contact: Test Firstname Test Lastname 447700900123");
}

#[test]
fn an_edit_is_a_new_message_answering_the_original() {
    let outcome = receive(&host(), EDITED);
    let m = message(&outcome);
    assert_eq!(m.external_id, "1111111:1365:edit:1441646600");
    assert_eq!(m.reply_to.as_deref(), Some("1111111:1365"));
    assert_eq!(m.text, "(edited) Edited text");
    assert_eq!(m.sent_at, Some(1_441_646_600_000));
    assert_eq!(m.sender, test_user());
}

#[test]
fn a_live_location_update_is_not_a_message() {
    let live = edit(EDITED, |v| {
        let message = v["edited_message"].as_object_mut().unwrap();
        message.remove("text");
        message.insert("location".into(), json!({"latitude": 51.5007, "longitude": -0.1246}));
    });
    let outcome = receive(&host(), &live);
    assert_eq!(outcome.response.status, 200);
    assert!(outcome.events.is_empty());
}

#[test]
fn a_location_is_a_geo_uri_in_the_text() {
    let located = edit(TEXT, |v| {
        let message = v["message"].as_object_mut().unwrap();
        message.remove("text");
        message.insert("location".into(), json!({"latitude": 51.5007, "longitude": -0.1246}));
    });
    assert_eq!(
        message(&receive(&host(), &located)).text,
        "Location: geo:51.5007,-0.1246"
    );
}

#[test]
fn a_button_press_is_a_message_with_the_callback_data_and_is_answered() {
    let outcome = receive(&host(), CALLBACK);
    let m = message(&outcome);
    // No sent_at: a callback query carries no time of the press.
    let expected = InboundMessage::new("cb:4382bfdwdsb323b2d9", test_user(), "Data from button callback")
        .with_display_name("Test Firstname Test Lastname");
    assert_eq!(m, &expected);
    assert_eq!(outcome.response.header("content-type"), Some("application/json"));
    let answer: Value = serde_json::from_slice(&outcome.response.body).unwrap();
    assert_eq!(
        answer,
        json!({"method": "answerCallbackQuery", "callback_query_id": "4382bfdwdsb323b2d9"})
    );
}

#[test]
fn a_button_press_on_a_bot_message_replies_to_that_message() {
    let outcome = receive(&host(), CALLBACK_ON_MESSAGE);
    let m = message(&outcome);
    assert_eq!(m.external_id, "cb:4382bfdwdsb323b2e0");
    assert_eq!(m.text, "helpful:yes");
    assert_eq!(m.reply_to.as_deref(), Some("1111111:1400"));
}

#[test]
fn channel_posts_inline_queries_and_unknown_updates_are_accepted_and_ignored() {
    let mock = host();
    for body in [
        CHANNEL_POST,
        INLINE_QUERY,
        r#"{"update_id": 10007, "poll": {"id": "1", "question": "?", "options": []}}"#,
        r#"{"update_id": 10008}"#,
    ] {
        let outcome = receive(&mock, body);
        assert_eq!(outcome.response.status, 200, "{body}");
        assert!(outcome.events.is_empty(), "{body}");
    }
    assert!(
        mock.logs()
            .iter()
            .any(|(level, line)| *level == LogLevel::Debug && line.contains("inline_query"))
    );
}

#[test]
fn service_messages_and_messages_without_a_person_are_ignored() {
    let mock = host();
    let service = edit(TEXT, |v| {
        let message = v["message"].as_object_mut().unwrap();
        message.remove("text");
        message.insert(
            "pinned_message".into(),
            json!({"message_id": 1, "date": 1, "chat": {"id": 1111111}}),
        );
    });
    let from_bot = edit(TEXT, |v| v["message"]["from"]["is_bot"] = json!(true));
    let no_sender = edit(TEXT, |v| {
        v["message"].as_object_mut().unwrap().remove("from");
    });
    for body in [service, from_bot, no_sender] {
        let outcome = receive(&mock, &body);
        assert_eq!(outcome.response.status, 200);
        assert!(outcome.events.is_empty(), "{body}");
    }
}

#[test]
fn a_blocked_bot_is_logged_without_events() {
    let mock = host();
    let outcome = receive(&mock, BLOCKED);
    assert_eq!(outcome.response.status, 200);
    assert!(outcome.events.is_empty());
    assert!(
        mock.logs()
            .iter()
            .any(|(level, line)| *level == LogLevel::Info && line.contains("1111111 blocked the bot")),
        "{:?}",
        mock.logs()
    );
}

#[test]
fn group_messages_are_ignored_unless_groups_are_accepted() {
    let outcome = receive(&host(), GROUP_TOPIC);
    assert_eq!(outcome.response.status, 200);
    assert!(outcome.events.is_empty());

    let mock = host().with_config("accept_groups", json!(true));
    let outcome = receive(&mock, GROUP_TOPIC);
    let m = message(&outcome);
    assert_eq!(m.external_id, "-1009876543210:88");
    // Topic ids are per chat, and the host keys threads per connector.
    assert_eq!(m.thread_id.as_deref(), Some("-1009876543210:77"));
    assert_eq!(m.sender, test_user());

    // Channels never count, even with groups accepted.
    let channel = edit(GROUP_TOPIC, |v| v["message"]["chat"]["type"] = json!("channel"));
    assert!(receive(&mock, &channel).events.is_empty());
    // Nor messages an anonymous admin sends on behalf of the group.
    let anonymous = edit(GROUP_TOPIC, |v| {
        v["message"]["sender_chat"] = json!({"id": -1009876543210_i64, "type": "supergroup"})
    });
    assert!(receive(&mock, &anonymous).events.is_empty());
}

#[test]
fn a_reply_thread_in_a_supergroup_is_not_a_topic() {
    let mock = host().with_config("accept_groups", json!(true));
    let reply_thread = edit(GROUP_TOPIC, |v| v["message"]["is_topic_message"] = json!(false));
    assert_eq!(message(&receive(&mock, &reply_thread)).thread_id, None);
}

#[test]
fn telegrams_retry_of_an_update_yields_the_same_external_ids() {
    let mock = host();
    for body in [TEXT, PHOTO, EDITED, CALLBACK, CONTACT] {
        let first = receive(&mock, body);
        let again = receive(&mock, body);
        assert_eq!(message(&first).external_id, message(&again).external_id, "{body}");
        assert_eq!(first.events, again.events);
    }
}

#[test]
fn a_wrong_secret_token_is_refused_without_events() {
    let mock = host();
    let request = Request::post("/webhook", TEXT)
        .with_header("content-type", "application/json")
        .with_header("X-Telegram-Bot-Api-Secret-Token", "guessed-secret");
    let error = Telegram::handle_webhook(&mock.host(), request).unwrap_err();
    assert_eq!(error.status(), 401);
    assert!(
        mock.logs()
            .iter()
            .any(|(level, line)| *level == LogLevel::Warn && line.contains("wrong"))
    );
}

#[test]
fn a_missing_secret_token_is_refused() {
    let mock = host();
    let request = Request::post("/webhook", TEXT).with_header("content-type", "application/json");
    let error = Telegram::handle_webhook(&mock.host(), request).unwrap_err();
    assert_eq!(error.status(), 401);
    assert!(error.message().contains("X-Telegram-Bot-Api-Secret-Token"), "{error}");
    assert_eq!(SECRET_HEADER, "x-telegram-bot-api-secret-token");
}

#[test]
fn the_secret_token_is_checked_before_the_body_is_read() {
    let request = Request::post("/webhook", "not json")
        .with_header("content-type", "application/json")
        .with_header("X-Telegram-Bot-Api-Secret-Token", "guessed-secret");
    assert_eq!(
        Telegram::handle_webhook(&host().host(), request).unwrap_err().status(),
        401
    );
}

#[test]
fn an_unconfigured_webhook_secret_is_a_server_error_naming_it() {
    let mock = MockHost::new();
    let error = Telegram::handle_webhook(&mock.host(), update(TEXT)).unwrap_err();
    assert_eq!(error.status(), 500);
    assert!(error.message().contains("webhook_secret"), "{error}");
}

#[test]
fn malformed_updates_are_bad_requests() {
    let mock = host();
    for body in [
        "{\"update_id\": 1, ",
        "[]",
        r#"{"message": {"message_id": 1, "date": 1, "chat": {"id": 1}, "text": "hi"}}"#,
        r#"{"update_id": "ten"}"#,
        r#"{"update_id": 1, "message": {"message_id": 1, "text": "no chat"}}"#,
    ] {
        let error = Telegram::handle_webhook(&mock.host(), update(body)).unwrap_err();
        assert_eq!(error.status(), 400, "{body}: {error}");
    }
    let error = Telegram::handle_webhook(&mock.host(), update("{}")).unwrap_err();
    assert!(error.message().contains("update_id"), "{error}");
    let text_plain = Request::post("/webhook", TEXT)
        .with_header("content-type", "text/plain")
        .with_header("X-Telegram-Bot-Api-Secret-Token", SECRET);
    assert_eq!(
        Telegram::handle_webhook(&mock.host(), text_plain).unwrap_err().status(),
        415
    );
}
