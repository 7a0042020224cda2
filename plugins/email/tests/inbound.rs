//! Inbound webhooks with the providers' documented payloads.

mod support;

use omni_plugin_sdk::LogLevel;
use omni_plugin_sdk::prelude::*;
use serde_json::{Value, json};
use support::*;

const GMAIL_REPLY: &str = include_str!("../fixtures/reply-with-attachment.eml");
const OUTLOOK_REPLY: &str = include_str!("../fixtures/outlook-reply.eml");
const POSTMARK_INBOUND: &str = include_str!("../fixtures/postmark-inbound.json");
const SENDGRID_PARSE: &str = include_str!("../fixtures/sendgrid-inbound-parse.txt");
const SENDGRID_RAW: &str = include_str!("../fixtures/sendgrid-inbound-raw.txt");
const MAILGUN_ROUTE: &str = include_str!("../fixtures/mailgun-route.txt");

const SENDGRID_CT: &str = "multipart/form-data; boundary=xYzZY";
const MAILGUN_CT: &str = "multipart/form-data; boundary=8d2b6c1e5a0f4e3d9c7b";

fn gmail_reply_expected() -> InboundMessage {
    InboundMessage {
        external_id: "CAKq7x4RZ3uW_Q2P7m8=Y4xq3n5J@mail.example.com".into(),
        sender: Identity::email("bob@example.com"),
        claims: vec![],
        display_name: Some("Bob Example".into()),
        text: "Hi,\n\nthe invoice is attached. The parcel still hasn\u{2019}t arrived.\n\nBob".into(),
        attachments: vec![attachment("invoice-1042.pdf", "application/pdf", 31)],
        thread_id: Some("0190c9e8-0000-7000-8000-000000000001@acme.example".into()),
        reply_to: Some("0190c9e8-7a1b-7c3d-9e4f-5a6b7c8d9e0f@acme.example".into()),
        references: vec![
            "0190c9e8-0000-7000-8000-000000000001@acme.example".into(),
            "0190c9e8-7a1b-7c3d-9e4f-5a6b7c8d9e0f@acme.example".into(),
        ],
        sent_at: Some(1_709_633_642_000),
    }
}

#[test]
fn raw_mime_reply_becomes_a_threaded_message() {
    let mock = basic_host();
    let outcome = call(&mock, post("/inbound/mime", "message/rfc822", crlf(GMAIL_REPLY))).unwrap();
    assert_eq!(outcome.response.status, 200);
    assert_eq!(message(&outcome), &gmail_reply_expected());
    // The subject and chain are kept for the agent's reply.
    let record: Value =
        serde_json::from_slice(&mock.kv()["message/CAKq7x4RZ3uW_Q2P7m8=Y4xq3n5J@mail.example.com"]).unwrap();
    assert_eq!(
        record,
        json!({
            "subject": "Re: Your order 1042",
            "references": [
                "0190c9e8-0000-7000-8000-000000000001@acme.example",
                "0190c9e8-7a1b-7c3d-9e4f-5a6b7c8d9e0f@acme.example"
            ]
        })
    );
}

#[test]
fn a_retry_of_the_same_message_has_the_same_external_id() {
    let mock = basic_host();
    let first = call(&mock, post("/inbound/mime", "message/rfc822", crlf(GMAIL_REPLY))).unwrap();
    // An MTA pipe may deliver bare LF line ends; the message is the same.
    let second = call(&mock, post("/inbound/mime", "text/plain", GMAIL_REPLY)).unwrap();
    assert_eq!(message(&first), message(&second));
}

#[test]
fn senders_are_verified_only_by_the_configured_receiving_server() {
    let trusted = basic_host()
        .with_config("trust_authentication_results", json!(true))
        .with_config("authserv_id", json!("mx.acme.example"));
    let outcome = call(&trusted, post("/inbound/mime", "message/rfc822", GMAIL_REPLY)).unwrap();
    assert_eq!(message(&outcome).sender, Identity::email("bob@example.com").verified());

    // The lower header is not the configured server's: not trusted.
    let other = basic_host()
        .with_config("trust_authentication_results", json!(true))
        .with_config("authserv_id", json!("mx.google.com"));
    let outcome = call(&other, post("/inbound/mime", "message/rfc822", GMAIL_REPLY)).unwrap();
    assert!(!message(&outcome).sender.verified);

    // Without an authserv_id nothing is trusted.
    let unset = basic_host().with_config("trust_authentication_results", json!(true));
    let outcome = call(&unset, post("/inbound/mime", "message/rfc822", GMAIL_REPLY)).unwrap();
    assert!(!message(&outcome).sender.verified);
}

#[test]
fn outlook_reply_loses_its_quoted_header_block() {
    let mock = basic_host();
    let outcome = call(&mock, post("/inbound/mime", "message/rfc822", crlf(OUTLOOK_REPLY))).unwrap();
    let m = message(&outcome);
    assert_eq!(
        m.external_id,
        "AM0PR01MB1234A1B2C3D4E5F6A7B8C9D0E1F2@AM0PR01MB1234.eurprd01.prod.outlook.com"
    );
    assert_eq!(m.sender, Identity::email("renee.dupont@contoso.example"));
    assert_eq!(m.display_name.as_deref(), Some("Renée Dupont"));
    assert_eq!(
        m.text,
        "Bonjour,\n\nMerci, le colis est bien arrivé ce matin.\n\nRenée Dupont\nContoso"
    );
    assert!(m.attachments.is_empty());
    assert_eq!(
        m.thread_id.as_deref(),
        Some("0190c9e8-7a1b-7c3d-9e4f-5a6b7c8d9e0f@acme.example")
    );
    assert_eq!(
        m.reply_to.as_deref(),
        Some("0190c9e8-7a1b-7c3d-9e4f-5a6b7c8d9e0f@acme.example")
    );
    assert_eq!(m.sent_at, Some(1_709_717_410_000));
}

#[test]
fn postmark_inbound_json() {
    let mock = basic_host();
    let outcome = call(&mock, post("/inbound", "application/json", POSTMARK_INBOUND)).unwrap();
    assert_eq!(
        message(&outcome),
        &InboundMessage {
            external_id: "CAE3DkVeJ1=UxqPp7Dfv0SA@mail.postmarkapp.com".into(),
            sender: Identity::email("support@postmarkapp.com"),
            claims: vec![],
            display_name: Some("Postmarkapp Support".into()),
            text: "Subject: Test subject\n\nThis is a test text body.".into(),
            attachments: vec![attachment("test.txt", "text/plain", 45)],
            thread_id: Some("CAE3DkVeJ1=UxqPp7Dfv0SA@mail.postmarkapp.com".into()),
            reply_to: None,
            references: vec![],
            sent_at: Some(1_406_925_932_000),
        }
    );
}

#[test]
fn postmark_raw_email_is_preferred() {
    let mut webhook: Value = serde_json::from_str(POSTMARK_INBOUND).unwrap();
    webhook["RawEmail"] = json!(GMAIL_REPLY);
    let mock = basic_host();
    let outcome = call(&mock, post("/inbound", "application/json", webhook.to_string())).unwrap();
    assert_eq!(message(&outcome), &gmail_reply_expected());
}

#[test]
fn postmark_without_message_id_header_uses_a_stable_fingerprint() {
    let mut webhook: Value = serde_json::from_str(POSTMARK_INBOUND).unwrap();
    webhook["Headers"] = json!([{"Name": "X-Spam-Status", "Value": "No"}]);
    webhook["UnknownNewField"] = json!({"nested": true});
    let mock = basic_host();
    let a = call(&mock, post("/inbound", "application/json", webhook.to_string())).unwrap();
    let b = call(&mock, post("/inbound", "application/json", webhook.to_string())).unwrap();
    let id = &message(&a).external_id;
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    assert_eq!(id, &message(&b).external_id);
}

fn sendgrid_expected(external_id: &str) -> InboundMessage {
    InboundMessage {
        external_id: external_id.into(),
        sender: Identity::email("test@example.com"),
        claims: vec![],
        display_name: Some("Example User".into()),
        text: "Subject: Inbound Parse Test Data\n\nHello SendGrid!".into(),
        attachments: vec![attachment("image.jpg", "image/jpeg", 15)],
        thread_id: Some(external_id.into()),
        reply_to: None,
        references: vec![],
        sent_at: Some(1_470_877_813_000),
    }
}

#[test]
fn sendgrid_inbound_parse_form() {
    let mock = basic_host();
    let outcome = call(&mock, post("/inbound", SENDGRID_CT, crlf(SENDGRID_PARSE))).unwrap();
    let m = message(&outcome);
    // No Message-ID in the example's headers: a hash of the fields stands in.
    assert!(m.external_id.starts_with("sha256:"), "{}", m.external_id);
    assert_eq!(m, &sendgrid_expected(&m.external_id));

    // SendGrid's retry may use another boundary; the id stays.
    let reencoded = crlf(SENDGRID_PARSE).replace("xYzZY", "----retry7e1f");
    let retry = call(
        &mock,
        post("/inbound", "multipart/form-data; boundary=----retry7e1f", reencoded),
    )
    .unwrap();
    assert_eq!(message(&retry), m);
}

#[test]
fn sendgrid_dkim_field_verifies_only_an_aligned_domain() {
    // The example's dkim field is a pass for sendgrid.com, not example.com.
    let mock = basic_host().with_config("trust_authentication_results", json!(true));
    let outcome = call(&mock, post("/inbound", SENDGRID_CT, crlf(SENDGRID_PARSE))).unwrap();
    assert!(!message(&outcome).sender.verified);
}

#[test]
fn sendgrid_send_raw_parses_the_email_field() {
    let mock = basic_host().with_config("trust_authentication_results", json!(true));
    let outcome = call(&mock, post("/inbound", SENDGRID_CT, crlf(SENDGRID_RAW))).unwrap();
    assert_eq!(
        message(&outcome),
        &InboundMessage {
            external_id: "20240307080000.1234@example.net".into(),
            // SendGrid's dkim field shows a pass for example.net.
            sender: Identity::email("carol@example.net").verified(),
            claims: vec![],
            display_name: Some("Carol Example".into()),
            text: "Here is the photo of the damaged box.".into(),
            attachments: vec![attachment("box.png", "image/png", 70)],
            thread_id: Some("0190c9e8-7a1b-7c3d-9e4f-5a6b7c8d9e0f@acme.example".into()),
            reply_to: Some("0190c9e8-7a1b-7c3d-9e4f-5a6b7c8d9e0f@acme.example".into()),
            references: vec!["0190c9e8-7a1b-7c3d-9e4f-5a6b7c8d9e0f@acme.example".into()],
            sent_at: Some(1_709_798_400_000),
        }
    );
}

fn mailgun_expected() -> InboundMessage {
    InboundMessage {
        external_id: "517ACC75.5010709@mg.example.com".into(),
        sender: Identity::email("bob@mg.example.com"),
        claims: vec![],
        display_name: Some("Bob".into()),
        text: "Hi Alice,\n\nThis is Bob.\n\nI also attached a file.\n\nThanks,\nBob".into(),
        attachments: vec![attachment("crabs.jpg", "image/jpeg", 18)],
        thread_id: Some("517AC78B.5060404@mg.example.com".into()),
        reply_to: Some("517AC78B.5060404@mg.example.com".into()),
        references: vec!["517AC78B.5060404@mg.example.com".into()],
        sent_at: Some(1_367_002_229_000),
    }
}

#[test]
fn mailgun_route_forward_with_a_valid_signature() {
    let mock = mailgun_host();
    let request = Request::post("/inbound", crlf(MAILGUN_ROUTE)).with_header("content-type", MAILGUN_CT);
    let outcome = call(&mock, request).unwrap();
    assert_eq!(outcome.response.status, 200);
    assert_eq!(message(&outcome), &mailgun_expected());
}

#[test]
fn mailgun_url_encoded_forward() {
    let fields = [
        ("sender", "bob@mg.example.com"),
        ("from", "Bob <bob@mg.example.com>"),
        ("subject", "Re: Sample POST request"),
        ("Message-Id", "<517ACC75.5010709@mg.example.com>"),
        ("In-Reply-To", "<517AC78B.5060404@mg.example.com>"),
        ("References", "<517AC78B.5060404@mg.example.com>"),
        ("Date", "Fri, 26 Apr 2013 11:50:29 -0700"),
        (
            "body-plain",
            "Thanks!\n\nOn 04/26/2013 11:29 AM, Alice wrote:\n> Hi Bob,\n",
        ),
        ("timestamp", "1709632800"),
        ("token", "1f1b4e6a1c8a9e0c2d3b4a5968778695a4b3c2d1e0f9a8b7c6"),
        (
            "signature",
            "47829c883096d135db7985df25e8c68bc2fc99d95cbcaf7ac0d354fc64751812",
        ),
    ];
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let request = Request::post("/inbound", body).with_header("content-type", "application/x-www-form-urlencoded");
    let outcome = call(&mailgun_host(), request).unwrap();
    let expected = InboundMessage {
        text: "Thanks!".into(),
        attachments: vec![],
        ..mailgun_expected()
    };
    assert_eq!(message(&outcome), &expected);
}

#[test]
fn forged_mailgun_signature_is_refused() {
    let mock = mailgun_host();
    let forged = crlf(MAILGUN_ROUTE).replace(
        "47829c883096d135db7985df25e8c68bc2fc99d95cbcaf7ac0d354fc64751812",
        "0000000000000000000000000000000000000000000000000000000000000000",
    );
    let request = Request::post("/inbound", forged).with_header("content-type", MAILGUN_CT);
    let err = call(&mock, request).unwrap_err();
    assert_eq!(err.status(), 401);
    assert!(mock.kv().is_empty());
    assert!(mock.logs().iter().any(|(level, _)| *level == LogLevel::Warn));
}

#[test]
fn unsigned_mailgun_posts_are_refused() {
    let mock = mailgun_host();
    let unsigned = crlf(MAILGUN_ROUTE).replace("name=\"signature\"", "name=\"x-signature\"");
    let request = Request::post("/inbound", unsigned).with_header("content-type", MAILGUN_CT);
    assert_eq!(call(&mock, request).unwrap_err().status(), 401);
    // Raw MIME and JSON carry no Mailgun signature at all.
    let raw = Request::post("/inbound/mime", GMAIL_REPLY).with_header("content-type", "message/rfc822");
    assert_eq!(call(&mock, raw).unwrap_err().status(), 401);
    let json = Request::post("/inbound", POSTMARK_INBOUND).with_header("content-type", "application/json");
    assert_eq!(call(&mock, json).unwrap_err().status(), 401);
    assert!(mock.kv().is_empty());
}

#[test]
fn stale_mailgun_signatures_are_refused() {
    // The default max age is 15 minutes; the fixture is from March 2024.
    let mock = testing::MockHost::new()
        .with_config("inbound_auth", json!("mailgun"))
        .with_secret("webhook_signing_key", SIGNING_KEY);
    let request = Request::post("/inbound", crlf(MAILGUN_ROUTE)).with_header("content-type", MAILGUN_CT);
    let err = call(&mock, request).unwrap_err();
    assert_eq!(err.status(), 401);
    assert!(err.message().contains("timestamp"), "{err}");

    // A fresh, correctly signed one passes.
    let now = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs())
    .to_string();
    let token = "1f1b4e6a1c8a9e0c2d3b4a5968778695a4b3c2d1e0f9a8b7c6";
    let signature = omni_email::auth::mailgun_signature(SIGNING_KEY.as_bytes(), &now, token);
    let fresh = crlf(MAILGUN_ROUTE).replace("1709632800", &now).replace(
        "47829c883096d135db7985df25e8c68bc2fc99d95cbcaf7ac0d354fc64751812",
        &signature,
    );
    let request = Request::post("/inbound", fresh).with_header("content-type", MAILGUN_CT);
    assert_eq!(message(&call(&mock, request).unwrap()), &mailgun_expected());
}

#[test]
fn basic_auth_is_required() {
    let mock = basic_host();
    let missing = Request::post("/inbound/mime", GMAIL_REPLY).with_header("content-type", "message/rfc822");
    let outcome = call(&mock, missing).unwrap();
    assert_eq!(outcome.response.status, 401);
    assert!(outcome.events.is_empty());
    assert_eq!(
        outcome.response.header("www-authenticate"),
        Some("Basic realm=\"omni\", charset=\"UTF-8\"")
    );

    let wrong = Request::post("/inbound/mime", GMAIL_REPLY)
        .with_header("content-type", "message/rfc822")
        .with_header("authorization", &basic("omni", "guess"));
    let outcome = call(&mock, wrong).unwrap();
    assert_eq!(outcome.response.status, 401);
    assert!(outcome.events.is_empty());
    assert!(mock.kv().is_empty());

    let unconfigured = testing::MockHost::new();
    let err = call(&unconfigured, post("/inbound/mime", "message/rfc822", GMAIL_REPLY)).unwrap_err();
    assert_eq!(err.status(), 500);
    assert!(err.message().contains("webhook_password"), "{err}");
}

#[test]
fn malformed_bodies_are_bad_requests() {
    let mock = basic_host();
    let cases: Vec<(&str, &str, &str, u16)> = vec![
        ("/inbound", "application/json", "{\"FromFull\":", 400),
        ("/inbound", "application/json", "{\"Subject\": \"no sender\"}", 400),
        ("/inbound", "multipart/form-data", "--x\r\n\r\nhi\r\n--x--", 400),
        (
            "/inbound",
            SENDGRID_CT,
            "--xYzZY\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\na@b.c\r\n--xYzZY--",
            400,
        ),
        (
            "/inbound",
            "application/x-www-form-urlencoded",
            "message-headers=not-json&body-plain=x",
            400,
        ),
        ("/inbound/mime", "message/rfc822", "", 400),
        (
            "/inbound/mime",
            "message/rfc822",
            "Subject: no sender\r\n\r\nhello",
            400,
        ),
        ("/inbound/mime", "image/png", "\u{1}PNG", 415),
    ];
    for (path, content_type, body, status) in cases {
        let err = call(&mock, post(path, content_type, body)).unwrap_err();
        assert_eq!(err.status(), status, "{content_type} {body:?}: {err}");
    }
    assert!(mock.kv().is_empty());
}

#[test]
fn truncated_and_garbled_bodies_never_panic() {
    let mock = basic_host();
    let cases: [(&str, &str, String); 5] = [
        ("/inbound/mime", "message/rfc822", crlf(GMAIL_REPLY)),
        ("/inbound/mime", "message/rfc822", crlf(OUTLOOK_REPLY)),
        ("/inbound", SENDGRID_CT, crlf(SENDGRID_RAW)),
        ("/inbound", MAILGUN_CT, crlf(MAILGUN_ROUTE)),
        ("/inbound", "application/json", POSTMARK_INBOUND.to_owned()),
    ];
    for (path, content_type, body) in cases {
        let bytes = body.as_bytes();
        for end in (0..bytes.len()).step_by(13) {
            let result = call(&mock, post(path, content_type, &bytes[..end]));
            if let Ok(outcome) = result {
                assert!(outcome.events.len() <= 1);
            }
        }
        // Bytes flipped to 0xFF here and there.
        let mut garbled = bytes.to_vec();
        for i in (0..garbled.len()).step_by(17) {
            garbled[i] = 0xFF;
        }
        let _ = call(&mock, post(path, content_type, garbled));
    }
}
