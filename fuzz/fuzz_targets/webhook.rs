//! The webhook path of every in-tree Rust connector, compiled natively:
//! `handle_webhook` with a `MockHost` configured like the plugin's
//! `fixtures/conformance/config.toml`, on a request made from the input.
//!
//! One target for all connectors: one build and one corpus, and libFuzzer
//! shares what it learns about the request format between them.
//!
//! Input: byte 0 picks the connector (modulo the list below); byte 1 holds
//! flags: bit 0 signs the request the way the provider would (Twilio,
//! Meta, Shopify, Telegram, HTTP Basic), so that mutated bodies get past the
//! signature check and reach the parsers; bit 1 picks the connector's other
//! config (see `variant`). The rest is the request as text:
//!
//! ```text
//! POST /path?query
//! header-name: value
//!
//! body bytes
//! ```
//!
//! `fuzz/seeds.py` writes the plugins' fixtures in this format.
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use omni_plugin_sdk::testing::MockHost;
use omni_plugin_sdk::{Channel, Header, Integration, PluginError, Request, WebhookOutcome, crypto};
use serde_json::{Value, json};

/// The connectors, in the order byte 0 picks them; the names are the
/// plugin directories, whose conformance config each one gets.
const CONNECTORS: [&str; 11] = [
    "webchat",
    "email",
    "sms",
    "voice",
    "whatsapp",
    "messenger",
    "telegram",
    "hubspot",
    "salesforce",
    "shopify",
    "webhook-out",
];

const CONFIGS: [&str; 11] = [
    include_str!("../../plugins/webchat/fixtures/conformance/config.toml"),
    include_str!("../../plugins/email/fixtures/conformance/config.toml"),
    include_str!("../../plugins/sms/fixtures/conformance/config.toml"),
    include_str!("../../plugins/voice/fixtures/conformance/config.toml"),
    include_str!("../../plugins/whatsapp/fixtures/conformance/config.toml"),
    include_str!("../../plugins/messenger/fixtures/conformance/config.toml"),
    include_str!("../../plugins/telegram/fixtures/conformance/config.toml"),
    include_str!("../../plugins/hubspot/fixtures/conformance/config.toml"),
    include_str!("../../plugins/salesforce/fixtures/conformance/config.toml"),
    include_str!("../../plugins/shopify/fixtures/conformance/config.toml"),
    include_str!("../../plugins/webhook-out/fixtures/conformance/config.toml"),
];

fn handle(connector: usize, mock: &MockHost, request: Request) -> Result<WebhookOutcome, PluginError> {
    let host = mock.host();
    match connector {
        0 => <omni_webchat::Webchat as Channel>::handle_webhook(&host, request),
        1 => <omni_email::Email as Channel>::handle_webhook(&host, request),
        2 => <omni_sms::Sms as Channel>::handle_webhook(&host, request),
        3 => <omni_voice::Voice as Channel>::handle_webhook(&host, request),
        4 => <omni_whatsapp::WhatsApp as Channel>::handle_webhook(&host, request),
        5 => <omni_messenger::Messenger as Channel>::handle_webhook(&host, request),
        6 => <omni_telegram::Telegram as Channel>::handle_webhook(&host, request),
        7 => <omni_hubspot::HubSpot as Integration>::handle_webhook(&host, request),
        8 => <omni_salesforce::Salesforce as Integration>::handle_webhook(&host, request),
        9 => <omni_shopify::Shopify as Integration>::handle_webhook(&host, request),
        _ => <omni_webhook_out::WebhookOut as Integration>::handle_webhook(&host, request),
    }
}

/// An instance's config values and secrets.
#[derive(Clone, Default)]
struct Instance {
    config: BTreeMap<String, Value>,
    secrets: BTreeMap<String, String>,
}

impl Instance {
    fn secret(&self, name: &str) -> &str {
        self.secrets.get(name).map_or("", String::as_str)
    }

    fn config_str(&self, key: &str) -> &str {
        self.config.get(key).and_then(Value::as_str).unwrap_or("")
    }

    fn mock(&self, connector: usize) -> MockHost {
        let mut mock = MockHost::new().with_instance_id(CONNECTORS[connector]);
        for (key, value) in &self.config {
            mock = mock.with_config(key, value.clone());
        }
        for (name, value) in &self.secrets {
            mock = mock.with_secret(name, value);
        }
        mock
    }
}

/// The conformance configs, parsed once, and their variants.
fn instances() -> &'static [[Instance; 2]; 11] {
    static INSTANCES: OnceLock<[[Instance; 2]; 11]> = OnceLock::new();
    INSTANCES.get_or_init(|| {
        std::array::from_fn(|connector| {
            let table: toml::Table = toml::from_str(CONFIGS[connector]).expect("a conformance config.toml is TOML");
            let mut instance = Instance::default();
            if let Some(toml::Value::Table(config)) = table.get("config") {
                for (key, value) in config {
                    let value = serde_json::to_value(value).expect("TOML values are JSON values");
                    instance.config.insert(key.clone(), value);
                }
            }
            if let Some(toml::Value::Table(secrets)) = table.get("secrets") {
                for (name, value) in secrets {
                    if let Some(value) = value.as_str() {
                        instance.secrets.insert(name.clone(), value.to_owned());
                    }
                }
            }
            let other = variant(CONNECTORS[connector], instance.clone());
            [instance, other]
        })
    })
}

/// The connector's other config, for the parts of its webhook path that
/// the conformance config leaves unused.
fn variant(name: &str, mut instance: Instance) -> Instance {
    let mut set = |key: &str, value: Value| {
        instance.config.insert(key.to_owned(), value);
    };
    match name {
        "webchat" => {
            set("require_signed_users", json!(true));
            set("allowed_origins", json!(["https://shop.example"]));
            set("max_text_length", json!(50));
        }
        "email" => {
            // Mailgun's HMAC instead of HTTP Basic; the key that signs the
            // Mailgun fixtures, and no freshness check so that they verify.
            set("provider", json!("mailgun"));
            set("inbound_auth", json!("mailgun"));
            set("signature_max_age_seconds", json!(0));
            instance
                .secrets
                .insert("webhook_signing_key".to_owned(), "test-signing-key".to_owned());
        }
        "sms" | "voice" => {
            // A configured port: the signed URL is checked with and without it.
            let url = instance.config_str("public_url").replacen(".com/", ".com:8443/", 1);
            instance.config.insert("public_url".to_owned(), json!(url));
        }
        _ => {}
    }
    instance
}

/// Splits the input into connector, flags and request; `None` when too short.
fn parse(data: &[u8]) -> Option<(usize, u8, Request)> {
    let (&selector, rest) = data.split_first()?;
    let (&flags, rest) = rest.split_first()?;
    let (head, body) = match rest.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (rest, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line));
    let request_line = lines.next().unwrap_or("");
    let (method, target) = request_line.split_once(' ').unwrap_or((request_line, "/"));
    let mut request = Request::new(method, target);
    for line in lines {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        request = request.with_header(name.trim(), value.trim());
    }
    request.body = body.to_vec();
    Some((selector as usize % CONNECTORS.len(), flags, request))
}

/// Adds the header that proves the provider sent the request, first, so
/// that it wins over one the input carries.
fn sign(name: &str, instance: &Instance, request: &mut Request) {
    let header = match name {
        "email" if instance.config_str("inbound_auth") != "mailgun" => {
            let password = instance.secret("webhook_password");
            let credentials = crypto::base64(format!("omni:{password}").as_bytes());
            Some(("authorization", format!("Basic {credentials}")))
        }
        "sms" | "voice" => request.form().ok().map(|params| {
            let mut url = format!(
                "{}{}",
                instance.config_str("public_url").trim_end_matches('/'),
                request.path
            );
            if !request.query.is_empty() {
                url.push('?');
                url.push_str(&request.query);
            }
            let signature = crypto::twilio_signature(instance.secret("auth_token"), &url, &params);
            ("x-twilio-signature", signature)
        }),
        "whatsapp" | "messenger" => {
            let mac = crypto::hmac_sha256_hex(instance.secret("app_secret").as_bytes(), &request.body);
            Some(("x-hub-signature-256", format!("sha256={mac}")))
        }
        "telegram" => Some((
            "x-telegram-bot-api-secret-token",
            instance.secret("webhook_secret").to_owned(),
        )),
        "shopify" => {
            let key = instance.secret("webhook_secret").trim().as_bytes();
            Some((
                "x-shopify-hmac-sha256",
                crypto::base64(&crypto::hmac_sha256(key, &request.body)),
            ))
        }
        _ => None,
    };
    if let Some((name, value)) = header {
        request.headers.insert(
            0,
            Header {
                name: name.to_owned(),
                value,
            },
        );
    }
}

/// Whether to print what each input came to (`OMNI_FUZZ_DEBUG=1`), to see
/// which seeds get past the signature checks.
fn debug() -> bool {
    static DEBUG: OnceLock<bool> = OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var("OMNI_FUZZ_DEBUG").is_ok_and(|v| v == "1"))
}

fuzz_target!(|data: &[u8]| {
    let Some((connector, flags, mut request)) = parse(data) else {
        return;
    };
    let instance = &instances()[connector][usize::from(flags & 2 != 0)];
    if flags & 1 != 0 {
        sign(CONNECTORS[connector], instance, &mut request);
    }
    let mock = instance.mock(connector);
    let (method, path) = (request.method.clone(), request.path.clone());
    let result = handle(connector, &mock, request);
    if debug() {
        let name = CONNECTORS[connector];
        match &result {
            Ok(outcome) => eprintln!(
                "{name} {method} {path}: {} with {} events",
                outcome.response.status,
                outcome.events.len()
            ),
            Err(error) => eprintln!("{name} {method} {path}: {error}"),
        }
    }
    match result {
        Ok(outcome) => {
            let status = outcome.response.status;
            assert!(
                (100..=599).contains(&status),
                "{}: status {status}",
                CONNECTORS[connector]
            );
            serde_json::to_vec(&outcome).expect("an outcome serialises");
        }
        Err(error) => {
            let _ = error.status();
        }
    }
});
