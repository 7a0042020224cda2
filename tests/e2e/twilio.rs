//! A local Twilio for the SMS connector: the Messages API stand-in, the
//! connector's config entry, and webhooks signed the way Twilio signs them.

use omni_plugin_sdk::crypto::twilio_signature;
use omni_tests::process::{OmniProcess, plugin};
use omni_tests::provider::FakeProvider;
use omni_tests::wasm;
use serde_json::json;

/// The URL the operator gave Twilio; signatures are computed over it.
pub const PUBLIC_URL: &str = "https://omni.example.com/hooks/sms";
/// The Twilio account of the tests.
pub const ACCOUNT: &str = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX";
/// Its auth token (the value of `OMNI_TEST_SECRET`).
pub const AUTH_TOKEN: &str = "s3cret";

/// A Twilio Messages API that accepts everything, numbering the sids.
pub async fn twilio() -> FakeProvider {
    FakeProvider::start(|_, n| {
        let body = json!({
            "account_sid": ACCOUNT, "sid": sid(n), "status": "queued", "direction": "outbound-api",
            "from": "+15005550006", "to": "+14155550100", "body": "", "num_segments": "1",
            "error_code": null, "error_message": null
        });
        (201, body.to_string())
    })
    .await
}

/// The sid of the `n`th message the stand-in accepted.
pub fn sid(n: usize) -> String {
    format!("SM{n:032x}")
}

/// The `[[plugins]]` entry of the SMS connector talking to `provider`;
/// `tables` may add `[plugins.delivery]`.
pub fn sms(provider: &FakeProvider, tables: &str) -> String {
    let origin = provider.origin();
    plugin(
        "sms",
        wasm::sms(),
        &format!(
            "allowed_hosts = [\"{origin}\"]\nsecrets = {{ auth_token = {{ env = \"OMNI_TEST_SECRET\" }} }}\n\
             {tables}\n[plugins.config]\naccount_sid = \"{ACCOUNT}\"\nfrom = \"+15005550006\"\n\
             public_url = \"{PUBLIC_URL}\"\napi_base = \"{origin}\"\n"
        ),
    )
}

/// Posts a Twilio webhook form to the SMS connector's `path`, signed as Twilio would.
pub async fn twilio_webhook(omni: &OmniProcess, path: &str, params: &[(&str, &str)]) -> (u16, String) {
    signed_webhook(omni, "sms", path, params).await
}

/// Posts a Twilio webhook form to `/hooks/{instance}{path}`, signed over the
/// instance's public URL `https://omni.example.com/hooks/{instance}`.
pub async fn signed_webhook(omni: &OmniProcess, instance: &str, path: &str, params: &[(&str, &str)]) -> (u16, String) {
    let owned: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let public_url = format!("https://omni.example.com/hooks/{instance}{path}");
    let signature = twilio_signature(AUTH_TOKEN, &public_url, &owned);
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let response = omni
        .client
        .post(omni.url(&format!("/hooks/{instance}{path}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(body)
        .send()
        .await
        .expect("POST");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}
