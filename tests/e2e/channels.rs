//! One person across web chat, email, SMS and WhatsApp, through the real
//! connectors and local stand-ins for Postmark, Twilio and Meta's Graph
//! API: recognised on every channel, one timeline, replies going out where
//! the person wrote last (or where the agent asks), receipts coming back.

use std::time::Duration;

use omni_plugin_sdk::crypto::{base64, hmac_sha256_hex};
use omni_tests::process::{OmniProcess, plugin};
use omni_tests::provider::FakeProvider;
use omni_tests::wasm;
use serde_json::{Value, json};

use crate::twilio::{ACCOUNT, signed_webhook, sms, twilio, twilio_webhook};

const SECRET: &str = "s3cret";
const PHONE_NUMBER_ID: &str = "106540352242922";

struct Providers {
    postmark: FakeProvider,
    twilio: FakeProvider,
    meta: FakeProvider,
    messenger: FakeProvider,
    telegram: FakeProvider,
}

/// A Graph API that accepts every Send API call.
async fn send_api() -> FakeProvider {
    FakeProvider::start(|_, n| {
        let body = json!({"recipient_id": "6254477777772919", "message_id": format!("m_out-{n}")});
        (200, body.to_string())
    })
    .await
}

/// A Bot API that accepts every `sendMessage`.
async fn bot_api() -> FakeProvider {
    FakeProvider::start(|request, n| {
        let chat = request.json()["chat_id"].clone();
        let body = json!({"ok": true, "result": {"message_id": 1400 + n, "date": 1795780800,
                          "chat": {"id": chat, "type": "private"}, "text": "ok"}});
        (200, body.to_string())
    })
    .await
}

async fn start() -> (OmniProcess, Providers) {
    let postmark = FakeProvider::start(|_, n| {
        let body = json!({"To": "ann@example.com", "SubmittedAt": "2026-11-27T10:00:00Z",
                          "MessageID": format!("pm-{n}"), "ErrorCode": 0, "Message": "OK"});
        (200, body.to_string())
    })
    .await;
    let meta = FakeProvider::start(|_, n| {
        let body = json!({"messaging_product": "whatsapp",
                          "contacts": [{"input": "14155550100", "wa_id": "14155550100"}],
                          "messages": [{"id": format!("wamid.out-{n}")}]});
        (200, body.to_string())
    })
    .await;
    let twilio = twilio().await;
    let messenger = send_api().await;
    let telegram = bot_api().await;
    let secret = |name: &str| format!("{name} = {{ env = \"OMNI_TEST_SECRET\" }}");
    let config = [
        plugin(
            "webchat",
            wasm::webchat(),
            &format!("secrets = {{ {} }}", secret("identity_secret")),
        ),
        plugin(
            "email",
            wasm::email(),
            &format!(
                "allowed_hosts = [\"{0}\"]\nsecrets = {{ {1}, {2} }}\n[plugins.config]\nprovider = \"postmark\"\n\
                 from = \"support@acme.example\"\napi_base = \"{0}\"\n",
                postmark.origin(),
                secret("api_key"),
                secret("webhook_password")
            ),
        ),
        sms(&twilio, ""),
        plugin(
            "whatsapp",
            wasm::whatsapp(),
            &format!(
                "allowed_hosts = [\"{0}\"]\nsecrets = {{ {1}, {2}, {3} }}\n[plugins.config]\n\
                 phone_number_id = \"{PHONE_NUMBER_ID}\"\napi_base = \"{0}\"\n",
                meta.origin(),
                secret("verify_token"),
                secret("app_secret"),
                secret("access_token")
            ),
        ),
        plugin(
            "messenger",
            wasm::messenger(),
            &format!(
                "allowed_hosts = [\"{0}\"]\nsecrets = {{ {1}, {2}, {3} }}\n[plugins.config]\napi_base = \"{0}\"\n",
                messenger.origin(),
                secret("verify_token"),
                secret("app_secret"),
                secret("page_access_token")
            ),
        ),
        plugin(
            "telegram",
            wasm::telegram(),
            &format!(
                "allowed_hosts = [\"{0}\"]\nsecrets = {{ {1}, {2} }}\n[plugins.config]\napi_base = \"{0}\"\n",
                telegram.origin(),
                secret("webhook_secret"),
                secret("bot_token")
            ),
        ),
        plugin(
            "voice",
            wasm::voice(),
            &format!(
                "secrets = {{ {} }}\n[plugins.config]\npublic_url = \"https://omni.example.com/hooks/voice\"\n",
                secret("auth_token")
            ),
        ),
    ]
    .join("\n");
    let omni = OmniProcess::start(&config).await;
    let providers = Providers {
        postmark,
        twilio,
        meta,
        messenger,
        telegram,
    };
    (omni, providers)
}

async fn chat_signed_in(omni: &OmniProcess, email: &str, text: &str) {
    let body = json!({"visitor_id": "v-ann", "message_id": "m-1", "text": text, "email": email,
                      "user_hash": hmac_sha256_hex(SECRET.as_bytes(), email.as_bytes())});
    let (status, answer) = omni.post_json("/hooks/webchat/messages", &body).await;
    assert_eq!(status, 202, "{answer}");
}

/// A raw RFC 5322 message, as an inbound-parse webhook forwards it.
async fn email_from(omni: &OmniProcess, from: &str, message_id: &str, text: &str) {
    let mime = format!(
        "From: Ann Example <{from}>\r\nTo: Acme Support <support@acme.example>\r\nSubject: My order\r\n\
         Message-ID: <{message_id}>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    );
    let response = omni
        .client
        .post(omni.url("/hooks/email/inbound/mime"))
        .header("content-type", "message/rfc822")
        .header(
            "authorization",
            format!("Basic {}", base64(format!("omni:{SECRET}").as_bytes())),
        )
        .body(mime)
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    assert!(
        (200..300).contains(&status),
        "{status} {}",
        response.text().await.unwrap_or_default()
    );
}

async fn text_from(omni: &OmniProcess, from: &str, sid: &str, text: &str) {
    let params = [
        ("MessageSid", sid),
        ("AccountSid", ACCOUNT),
        ("From", from),
        ("To", "+15005550006"),
        ("Body", text),
        ("NumMedia", "0"),
    ];
    let (status, answer) = twilio_webhook(omni, "/sms", &params).await;
    assert_eq!(status, 200, "{answer}");
}

/// Posts a WhatsApp Cloud API notification, signed with the app secret.
async fn whatsapp_webhook(omni: &OmniProcess, value: Value) {
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
                      "changes": [{"field": "messages", "value": value}]}]})
    .to_string();
    let signature = format!("sha256={}", hmac_sha256_hex(SECRET.as_bytes(), body.as_bytes()));
    let response = omni
        .client
        .post(omni.url("/hooks/whatsapp/webhook"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    assert_eq!(status, 200, "{}", response.text().await.unwrap_or_default());
}

fn metadata() -> Value {
    json!({"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID})
}

async fn conversations(omni: &OmniProcess) -> Vec<Value> {
    let (status, page) = omni.api_get("/v1/conversations?limit=200").await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

async fn detail(omni: &OmniProcess, id: &str) -> Value {
    let (status, detail) = omni.api_get(&format!("/v1/conversations/{id}")).await;
    assert_eq!(status, 200, "{detail}");
    detail
}

/// The conversation holding a message with this text.
pub(crate) async fn conversation_with(omni: &OmniProcess, text: &str) -> Value {
    for c in conversations(omni).await {
        let detail = detail(omni, c["id"].as_str().unwrap()).await;
        if detail["messages"].as_array().unwrap().iter().any(|m| m["text"] == text) {
            return detail;
        }
    }
    panic!("no conversation holds {text:?}")
}

pub(crate) async fn reply(omni: &OmniProcess, conversation: &str, body: Value) -> String {
    let (status, message) = omni
        .api_post(&format!("/v1/conversations/{conversation}/messages"), &body)
        .await;
    assert_eq!(status, 202, "{message}");
    message["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn status_of(omni: &OmniProcess, conversation: &str, message: &str, want: &'static str) -> Value {
    let message = message.to_owned();
    omni.eventually(
        &format!("/v1/conversations/{conversation}"),
        Duration::from_secs(20),
        want,
        move |c| {
            c["messages"]
                .as_array()?
                .iter()
                .find(|m| m["id"] == message.as_str() && m["status"] == want)
                .cloned()
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn one_person_from_chat_to_email_to_sms_to_whatsapp_and_back() {
    let (omni, providers) = start().await;

    // A signed-in visitor writes in the web chat, then by email: one person, one conversation.
    chat_signed_in(&omni, "ann@example.com", "Where is order 1042?").await;
    email_from(
        &omni,
        "ann@example.com",
        "CAK-ann-1@mail.example.com",
        "Any news on order 1042?",
    )
    .await;
    let all = conversations(&omni).await;
    assert_eq!(all.len(), 1, "{all:#?}");
    let conversation = all[0]["id"].as_str().unwrap().to_owned();
    let person = detail(&omni, &conversation).await["person_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(all[0]["channel"], "email");

    // By SMS she is a stranger until an operator links the number to her.
    text_from(&omni, "+14155550100", "SM-ann-1", "It's Ann, texting from my phone").await;
    let texted = conversation_with(&omni, "It's Ann, texting from my phone").await;
    let stranger = texted["person_id"].as_str().unwrap().to_owned();
    assert_ne!(stranger, person);
    let (status, merged) = omni
        .api_post(
            &format!("/v1/persons/{person}/merge"),
            &json!({"other_person_id": stranger, "reason": "Ann said so on the phone"}),
        )
        .await;
    assert_eq!(status, 200, "{merged}");
    assert_eq!(merged["id"], person.as_str(), "the older person survives");

    // WhatsApp from the same number (Meta gives it without '+') is her at once.
    let wamid = "wamid.HBgLMTQxNTU1NTAxMDAVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=";
    whatsapp_webhook(
        &omni,
        json!({"messaging_product": "whatsapp", "metadata": metadata(),
               "contacts": [{"profile": {"name": "Ann"}, "wa_id": "14155550100"}],
               "messages": [{"from": "14155550100", "id": wamid, "timestamp": "1795780800",
                             "type": "text", "text": {"body": "Can you send it to my office?"}}]}),
    )
    .await;
    let latest = conversation_with(&omni, "Can you send it to my office?").await;
    assert_eq!(latest["person_id"], person.as_str());
    let latest_id = latest["id"].as_str().unwrap().to_owned();

    // The reply goes where she wrote last: WhatsApp, to her number, quoting her message.
    let on_whatsapp = reply(&omni, &latest_id, json!({"text": "Sure, which address?"})).await;
    let sent = status_of(&omni, &latest_id, &on_whatsapp, "sent").await;
    assert_eq!(sent["external_id"], "wamid.out-0");
    let requests = providers.meta.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(requests[0].path, format!("/v21.0/{PHONE_NUMBER_ID}/messages"));
    assert_eq!(requests[0].header("authorization"), Some("Bearer s3cret"));
    let body = requests[0].json();
    assert_eq!(body["to"], "14155550100");
    assert_eq!(body["type"], "text");
    assert_eq!(body["text"]["body"], "Sure, which address?");
    assert_eq!(body["context"]["message_id"], wamid);
    assert!(providers.twilio.requests().is_empty() && providers.postmark.requests().is_empty());

    // Meta's receipt moves it on.
    whatsapp_webhook(
        &omni,
        json!({"messaging_product": "whatsapp", "metadata": metadata(),
               "statuses": [{"id": "wamid.out-0", "status": "delivered", "timestamp": "1795780860",
                             "recipient_id": "14155550100"}]}),
    )
    .await;
    status_of(&omni, &latest_id, &on_whatsapp, "delivered").await;

    // An agent may pick the channel: by email, threaded onto her email.
    let by_email = reply(
        &omni,
        &latest_id,
        json!({"text": "Here is the invoice.", "connector": "email"}),
    )
    .await;
    status_of(&omni, &latest_id, &by_email, "sent").await;
    let requests = providers.postmark.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(requests[0].path, "/email");
    assert_eq!(requests[0].header("x-postmark-server-token"), Some(SECRET));
    let email = requests[0].json();
    assert_eq!(email["To"], "ann@example.com");
    assert_eq!(email["From"], "support@acme.example");
    assert!(
        email["TextBody"].as_str().unwrap().contains("Here is the invoice."),
        "{email}"
    );
    let headers = email["Headers"].to_string();
    assert!(
        headers.contains("<CAK-ann-1@mail.example.com>"),
        "threaded onto her email: {email}"
    );

    // One timeline with all four channels.
    let (status, timeline) = omni.api_get(&format!("/v1/persons/{person}/timeline?limit=200")).await;
    assert_eq!(status, 200, "{timeline}");
    let mut channels: Vec<String> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "message.received")
        .filter_map(|e| e["data"]["channel"].as_str().map(str::to_owned))
        .collect();
    channels.dedup();
    assert_eq!(channels, ["webchat", "email", "sms", "whatsapp"], "{timeline:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_webhooks_are_refused_on_every_channel_and_store_nothing() {
    let (omni, _providers) = start().await;
    let text = json!({"messaging_product": "whatsapp", "metadata": metadata(),
                      "messages": [{"from": "14155550100", "id": "wamid.forged", "timestamp": "1795780800",
                                    "type": "text", "text": {"body": "forged"}}]});
    let body = json!({"object": "whatsapp_business_account",
                      "entry": [{"id": "1", "changes": [{"field": "messages", "value": text}]}]})
    .to_string();
    let forged = format!("sha256={}", hmac_sha256_hex(b"not the app secret", body.as_bytes()));
    let whatsapp = omni
        .client
        .post(omni.url("/hooks/whatsapp/webhook"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", forged)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(whatsapp.status().as_u16(), 401);

    let sms = omni
        .client
        .post(omni.url("/hooks/sms/sms"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", "bm90IGEgc2lnbmF0dXJl")
        .body(format!(
            "MessageSid=SMforged&AccountSid={ACCOUNT}&From=%2B14155550100&Body=forged"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(sms.status().as_u16(), 401);

    let email = omni
        .client
        .post(omni.url("/hooks/email/inbound/mime"))
        .header("content-type", "message/rfc822")
        .header("authorization", format!("Basic {}", base64(b"omni:guess")))
        .body("From: a@example.com\r\nMessage-ID: <forged@x>\r\n\r\nforged\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(email.status().as_u16(), 401);

    // Meta's subscription handshake answers only the right verify token.
    let (status, challenge) = omni
        .get("/hooks/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=s3cret&hub.challenge=1158201444")
        .await;
    assert_eq!((status, challenge.as_str()), (200, "1158201444"));
    let (status, _) = omni
        .get("/hooks/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1158201444")
        .await;
    assert_eq!(status, 403);

    assert!(
        conversations(&omni).await.is_empty(),
        "a forged webhook stored something"
    );
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test(flavor = "multi_thread")]
async fn telegram_messenger_and_calls_reach_the_timeline_and_replies_reach_their_apis() {
    let (omni, providers) = start().await;

    // Telegram: the secret-token header, then a reply through sendMessage.
    let update = json!({"update_id": 10000, "message": {"message_id": 1365, "date": 1795780800,
        "from": {"id": 1111111, "is_bot": false, "first_name": "Ann"},
        "chat": {"id": 1111111, "type": "private", "first_name": "Ann"}, "text": "Is the shop open today?"}});
    let response = omni
        .client
        .post(omni.url("/hooks/telegram/webhook"))
        .header("x-telegram-bot-api-secret-token", SECRET)
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let chat = conversation_with(&omni, "Is the shop open today?").await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    let id = reply(&omni, &chat_id, json!({"text": "Until 6pm."})).await;
    let sent = status_of(&omni, &chat_id, &id, "sent").await;
    assert_eq!(sent["external_id"], "1111111:1400");
    let requests = providers.telegram.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(requests[0].path, format!("/bot{SECRET}/sendMessage"));
    let body = requests[0].json();
    assert_eq!(body["chat_id"], 1111111);
    assert_eq!(body["text"], "Until 6pm.");

    // Messenger: a signed Page event, then a reply through the Send API.
    let event = json!({"object": "page", "entry": [{"id": "682498302938465", "time": now_ms(),
        "messaging": [{"sender": {"id": "6254477777772919"}, "recipient": {"id": "682498302938465"},
                       "timestamp": now_ms(), "message": {"mid": "m_in-1", "text": "Do you ship to Norway?"}}]}]})
    .to_string();
    let signature = format!("sha256={}", hmac_sha256_hex(SECRET.as_bytes(), event.as_bytes()));
    let response = omni
        .client
        .post(omni.url("/hooks/messenger/webhook"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(event)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let page = conversation_with(&omni, "Do you ship to Norway?").await;
    let page_id = page["id"].as_str().unwrap().to_owned();
    let id = reply(&omni, &page_id, json!({"text": "Yes, in 3 days."})).await;
    let sent = status_of(&omni, &page_id, &id, "sent").await;
    assert_eq!(sent["external_id"], "m_out-0");
    let requests = providers.messenger.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(requests[0].path, "/v21.0/me/messages");
    assert_eq!(requests[0].header("authorization"), Some("Bearer s3cret"));
    let body = requests[0].json();
    assert_eq!(body["recipient"]["id"], "6254477777772919");
    assert_eq!(body["message"]["text"], "Yes, in 3 days.");

    // A phone call from a number that texted before lands on that person's timeline.
    text_from(&omni, "+14155550123", "SM-call-1", "I'll call you").await;
    let texted = conversation_with(&omni, "I'll call you").await;
    let person = texted["person_id"].as_str().unwrap().to_owned();
    let (status, answer) = signed_webhook(
        &omni,
        "voice",
        "/voice/status",
        &[
            ("CallSid", "CA5ef8732a3c49700934481addd5ce1659"),
            ("AccountSid", ACCOUNT),
            ("From", "+14155550123"),
            ("To", "+15005550006"),
            ("Direction", "inbound"),
            ("CallStatus", "completed"),
            ("CallDuration", "42"),
            ("Timestamp", "Fri, 27 Nov 2026 10:00:42 +0000"),
        ],
    )
    .await;
    assert!((200..300).contains(&status), "{status} {answer}");
    let call = omni
        .eventually(
            &format!("/v1/persons/{person}/timeline?limit=200"),
            Duration::from_secs(10),
            "the call on the timeline",
            |t| {
                t["items"]
                    .as_array()?
                    .iter()
                    .find(|e| e["kind"] == "call.recorded")
                    .cloned()
            },
        )
        .await;
    assert_eq!(call["data"]["status"], "completed", "{call}");
}
