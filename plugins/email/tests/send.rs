//! Outbound replies through Postmark, SendGrid and Mailgun.

mod support;

use omni_email::Email;
use omni_plugin_sdk::prelude::*;
use serde_json::{Value, json};
use support::*;

const GMAIL_REPLY: &str = include_str!("../fixtures/reply-with-attachment.eml");
const POSTMARK_OK: &str = include_str!("../fixtures/postmark-send-response.json");
const POSTMARK_INACTIVE: &str = include_str!("../fixtures/postmark-error-inactive-recipient.json");
const POSTMARK_INVALID: &str = include_str!("../fixtures/postmark-error-invalid-email.json");
const POSTMARK_RATE_LIMIT: &str = include_str!("../fixtures/postmark-error-rate-limit.json");
const SENDGRID_400: &str = include_str!("../fixtures/sendgrid-error-400.json");
const MAILGUN_OK: &str = include_str!("../fixtures/mailgun-send-response.json");

const INBOUND_ID: &str = "CAKq7x4RZ3uW_Q2P7m8=Y4xq3n5J@mail.example.com";
const HOST_MESSAGE_ID: &str = "0190c9e8-9999-7000-8000-00000000abcd";
const OUR_ID: &str = "0190c9e8-9999-7000-8000-00000000abcd@acme.example";

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// A host that received the Gmail reply, configured for `provider`.
fn host_after_inbound(provider: &str, response: IncomingResponse) -> testing::MockHost {
    let mock = basic_host()
        .with_config("provider", json!(provider))
        .with_config("from", json!("support@acme.example"))
        .with_config("from_name", json!("Acme Support"))
        .with_secret("api_key", "test-api-key")
        .respond(response);
    let inbound = post("/inbound/mime", "message/rfc822", GMAIL_REPLY);
    call(&mock, inbound).unwrap();
    mock
}

fn reply() -> OutboundMessage {
    OutboundMessage {
        reply_to: Some(INBOUND_ID.into()),
        thread_id: Some("0190c9e8-0000-7000-8000-000000000001@acme.example".into()),
        ..OutboundMessage::text(HOST_MESSAGE_ID, "conv-1", "We sent a new parcel today.")
    }
}

fn to_bob() -> Identity {
    Identity::email("bob@example.com")
}

const REFERENCES: &str = "<0190c9e8-0000-7000-8000-000000000001@acme.example> \
<0190c9e8-7a1b-7c3d-9e4f-5a6b7c8d9e0f@acme.example> <CAKq7x4RZ3uW_Q2P7m8=Y4xq3n5J@mail.example.com>";

#[test]
fn postmark_reply_is_threaded() {
    let mock = host_after_inbound("postmark", IncomingResponse::json(200, &fixture(POSTMARK_OK)));
    let receipt = Email::send(&mock.host(), reply(), to_bob()).unwrap();
    assert_eq!(receipt, SendReceipt::sent(OUR_ID));

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, "https://api.postmarkapp.com/email");
    assert_eq!(request.header_value("x-postmark-server-token"), Some("test-api-key"));
    assert_eq!(request.header_value("accept"), Some("application/json"));
    assert_eq!(request.header_value("content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({
            "From": "\"Acme Support\" <support@acme.example>",
            "To": "bob@example.com",
            "Subject": "Re: Your order 1042",
            "TextBody": "We sent a new parcel today.",
            "MessageStream": "outbound",
            "Headers": [
                {"Name": "Message-ID", "Value": format!("<{OUR_ID}>")},
                {"Name": "In-Reply-To", "Value": format!("<{INBOUND_ID}>")},
                {"Name": "References", "Value": REFERENCES},
            ],
            "Metadata": {"omni_message_id": OUR_ID},
        })
    );
    // Delivery webhooks name Postmark's id; it maps back to ours.
    let mapped: String =
        serde_json::from_slice(&mock.kv()["sent/postmark/0a129aee-e1cd-480d-b08d-4f48548ff48d"]).unwrap();
    assert_eq!(mapped, OUR_ID);
}

#[test]
fn postmark_options() {
    let mock = host_after_inbound("postmark", IncomingResponse::json(200, &fixture(POSTMARK_OK)))
        .with_config("api_base", json!("http://127.0.0.1:9100/"))
        .with_config("message_stream", json!("support-replies"))
        .with_config("reply_to", json!("reply@parse.acme.example"))
        .with_config("track_opens", json!(true));
    let mut message = reply();
    message.text = "See <this> & that".into();
    message.attachments = vec![Attachment {
        name: Some("label.pdf".into()),
        content_type: "application/pdf".into(),
        size: Some(10),
        url: Some("https://files.acme.example/label.pdf".into()),
    }];
    Email::send(&mock.host(), message, to_bob()).unwrap();
    let request = &mock.requests()[0];
    assert_eq!(request.url, "http://127.0.0.1:9100/email");
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["MessageStream"], "support-replies");
    assert_eq!(body["ReplyTo"], "reply@parse.acme.example");
    assert_eq!(body["TrackOpens"], true);
    assert_eq!(
        body["TextBody"],
        "See <this> & that\n\nAttachments:\n- label.pdf: https://files.acme.example/label.pdf"
    );
    assert_eq!(
        body["HtmlBody"],
        "<html><body><p>See &lt;this&gt; &amp; that<br>\n<br>\nAttachments:<br>\n- label.pdf: https://files.acme.example/label.pdf</p></body></html>"
    );
}

#[test]
fn a_message_to_an_unknown_email_uses_the_default_subject() {
    let mock = basic_host()
        .with_config("provider", json!("postmark"))
        .with_config("from", json!("support@acme.example"))
        .with_config("default_subject", json!("A message from Acme"))
        .with_secret("api_key", "test-api-key")
        .respond(IncomingResponse::json(200, &fixture(POSTMARK_OK)));
    let message = OutboundMessage::text(HOST_MESSAGE_ID, "conv-1", "Hello!");
    Email::send(&mock.host(), message, to_bob()).unwrap();
    let body: Value = serde_json::from_slice(&mock.requests()[0].body).unwrap();
    assert_eq!(body["Subject"], "A message from Acme");
    assert_eq!(body["From"], "support@acme.example");
    assert_eq!(
        body["Headers"],
        json!([{"Name": "Message-ID", "Value": format!("<{OUR_ID}>")}])
    );
}

#[test]
fn postmark_errors_are_classified() {
    let cases: Vec<(IncomingResponse, bool)> = vec![
        (IncomingResponse::json(422, &fixture(POSTMARK_INACTIVE)), false),
        (IncomingResponse::json(422, &fixture(POSTMARK_INVALID)), false),
        (IncomingResponse::json(422, &fixture(POSTMARK_RATE_LIMIT)), true),
        (
            IncomingResponse::json(
                401,
                &json!({"ErrorCode": 10, "Message": "No Account or Server API tokens were supplied in the HTTP headers."}),
            ),
            false,
        ),
        (
            IncomingResponse::new(429, "Too Many Requests").with_header("Retry-After", "30"),
            true,
        ),
        (IncomingResponse::new(500, "Internal Server Error"), true),
        (IncomingResponse::new(503, "Service Unavailable"), true),
    ];
    for (response, retryable) in cases {
        let status = response.status;
        let mock = host_after_inbound("postmark", response);
        let err = Email::send(&mock.host(), reply(), to_bob()).unwrap_err();
        assert_eq!(matches!(err, SendError::Retryable { .. }), retryable, "{status}: {err}");
        // Nothing was sent, so nothing maps back.
        assert!(!mock.kv().keys().any(|k| k.starts_with("sent/")));
    }
    let mock = host_after_inbound("postmark", IncomingResponse::json(422, &fixture(POSTMARK_INACTIVE)));
    assert_eq!(
        Email::send(&mock.host(), reply(), to_bob()).unwrap_err(),
        SendError::permanent(
            "Postmark error 406: You tried to send to a recipient that has been marked as inactive. \
             Found inactive addresses: receiver@example.com. Inactive recipients are ones that have \
             generated a hard bounce or a spam complaint. Reactivate your recipients and try again."
        )
    );
    let mock = host_after_inbound(
        "postmark",
        IncomingResponse::new(429, "Too Many Requests").with_header("Retry-After", "30"),
    );
    assert_eq!(
        Email::send(&mock.host(), reply(), to_bob()).unwrap_err(),
        SendError::Retryable {
            message: "Postmark answered 429: Too Many Requests".into(),
            after_ms: Some(30_000)
        }
    );
}

#[test]
fn timeouts_are_retryable() {
    let mock = basic_host()
        .with_config("provider", json!("postmark"))
        .with_config("from", json!("support@acme.example"))
        .with_secret("api_key", "test-api-key")
        .fail_http(HttpError::Timeout("2s".into()));
    let err = Email::send(&mock.host(), reply(), to_bob()).unwrap_err();
    assert!(matches!(err, SendError::Retryable { .. }), "{err}");
}

#[test]
fn sendgrid_reply_is_threaded() {
    let accepted = IncomingResponse::new(202, "").with_header("X-Message-Id", "Y3rcDBQARMGsjq5jlgWhWw");
    let mock = host_after_inbound("sendgrid", accepted);
    let receipt = Email::send(&mock.host(), reply(), to_bob()).unwrap();
    assert_eq!(receipt, SendReceipt::sent(OUR_ID));
    let request = &mock.requests()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, "https://api.sendgrid.com/v3/mail/send");
    assert_eq!(request.header_value("authorization"), Some("Bearer test-api-key"));
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({
            "personalizations": [{"to": [{"email": "bob@example.com"}]}],
            "from": {"email": "support@acme.example", "name": "Acme Support"},
            "subject": "Re: Your order 1042",
            "content": [{"type": "text/plain", "value": "We sent a new parcel today."}],
            "headers": {
                "Message-ID": format!("<{OUR_ID}>"),
                "In-Reply-To": format!("<{INBOUND_ID}>"),
                "References": REFERENCES,
            },
            "custom_args": {"omni_message_id": OUR_ID},
        })
    );
    let mapped: String = serde_json::from_slice(&mock.kv()["sent/sendgrid/Y3rcDBQARMGsjq5jlgWhWw"]).unwrap();
    assert_eq!(mapped, OUR_ID);
}

#[test]
fn sendgrid_errors_are_classified() {
    let mock = host_after_inbound("sendgrid", IncomingResponse::json(400, &fixture(SENDGRID_400)));
    assert_eq!(
        Email::send(&mock.host(), reply(), to_bob()).unwrap_err(),
        SendError::permanent("SendGrid answered 400: Does not contain a valid address.")
    );
    for (status, retryable) in [
        (401, false),
        (403, false),
        (413, false),
        (429, true),
        (500, true),
        (503, true),
    ] {
        let mock = host_after_inbound("sendgrid", IncomingResponse::new(status, "{}"));
        let err = Email::send(&mock.host(), reply(), to_bob()).unwrap_err();
        assert_eq!(matches!(err, SendError::Retryable { .. }), retryable, "{status}: {err}");
    }
}

#[test]
fn mailgun_reply_is_threaded() {
    let mock = host_after_inbound("mailgun", IncomingResponse::json(200, &fixture(MAILGUN_OK)))
        .with_config("mailgun_domain", json!("mg.acme.example"))
        .with_config("api_base", json!("https://api.eu.mailgun.net"));
    let receipt = Email::send(&mock.host(), reply(), to_bob()).unwrap();
    assert_eq!(receipt, SendReceipt::sent(OUR_ID));
    let request = &mock.requests()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, "https://api.eu.mailgun.net/v3/mg.acme.example/messages");
    assert_eq!(
        request.header_value("authorization"),
        Some(basic("api", "test-api-key").as_str())
    );
    assert_eq!(
        request.header_value("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let fields: Vec<(String, String)> = form_urlencoded::parse(&request.body).into_owned().collect();
    let expected: Vec<(String, String)> = [
        ("from", "\"Acme Support\" <support@acme.example>".to_owned()),
        ("to", "bob@example.com".to_owned()),
        ("subject", "Re: Your order 1042".to_owned()),
        ("text", "We sent a new parcel today.".to_owned()),
        ("h:Message-ID", format!("<{OUR_ID}>")),
        ("h:In-Reply-To", format!("<{INBOUND_ID}>")),
        ("h:References", REFERENCES.to_owned()),
        ("v:omni_message_id", OUR_ID.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(fields, expected);
    let mapped: String =
        serde_json::from_slice(&mock.kv()["sent/mailgun/20240305101500.1.5E6F7A8B9C0D1E2F@mg.acme.example"]).unwrap();
    assert_eq!(mapped, OUR_ID);
}

#[test]
fn mailgun_domain_defaults_to_the_from_domain() {
    let mock = host_after_inbound("mailgun", IncomingResponse::json(200, &fixture(MAILGUN_OK)));
    Email::send(&mock.host(), reply(), to_bob()).unwrap();
    assert_eq!(
        mock.requests()[0].url,
        "https://api.mailgun.net/v3/acme.example/messages"
    );
}

#[test]
fn missing_settings_and_wrong_recipients_are_permanent() {
    let mock = testing::MockHost::new();
    let err = Email::send(&mock.host(), reply(), to_bob()).unwrap_err();
    assert_eq!(
        err,
        SendError::permanent("config `provider` is not set (postmark, sendgrid or mailgun)")
    );
    let no_key = testing::MockHost::new()
        .with_config("provider", json!("sendgrid"))
        .with_config("from", json!("support@acme.example"));
    let err = Email::send(&no_key.host(), reply(), to_bob()).unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent { message } if message.contains("api_key")),
        "{err}"
    );
    let no_from = testing::MockHost::new()
        .with_config("provider", json!("sendgrid"))
        .with_secret("api_key", "k");
    let err = Email::send(&no_from.host(), reply(), to_bob()).unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent { message } if message.contains("`from`")),
        "{err}"
    );
    let configured = testing::MockHost::new()
        .with_config("provider", json!("sendgrid"))
        .with_config("from", json!("support@acme.example"))
        .with_secret("api_key", "k");
    let err = Email::send(&configured.host(), reply(), Identity::phone("+15551234567")).unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }));
    let err = Email::send(&configured.host(), reply(), Identity::email("a@b.c\r\nBcc: x@y.z")).unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }));
    assert!(configured.requests().is_empty());
}
