//! The WebAssembly plugins built for the tests by `build.rs`.

use std::path::Path;

/// The web chat connector.
pub fn webchat() -> &'static Path {
    Path::new(env!("OMNI_TEST_WEBCHAT_WASM"))
}

/// The deliberately misbehaving plugin.
pub fn hostile() -> &'static Path {
    Path::new(env!("OMNI_TEST_HOSTILE_WASM"))
}

/// The plugin template from `plugin-sdk/template`.
pub fn template() -> &'static Path {
    Path::new(env!("OMNI_TEST_TEMPLATE_WASM"))
}

/// The scripted email-kind test plugin.
pub fn scripted() -> &'static Path {
    Path::new(env!("OMNI_TEST_SCRIPTED_WASM"))
}

/// The test plugin built against the first contract, omni:plugin@0.1.0.
pub fn legacy() -> &'static Path {
    Path::new(env!("OMNI_TEST_LEGACY_WASM"))
}

/// The LINE connector, written in Python (componentize-py).
pub fn line() -> &'static Path {
    Path::new(env!("OMNI_TEST_LINE_WASM"))
}

/// The email connector.
pub fn email() -> &'static Path {
    Path::new(env!("OMNI_TEST_EMAIL_WASM"))
}

/// The sms connector.
pub fn sms() -> &'static Path {
    Path::new(env!("OMNI_TEST_SMS_WASM"))
}

/// The voice connector.
pub fn voice() -> &'static Path {
    Path::new(env!("OMNI_TEST_VOICE_WASM"))
}

/// The whatsapp connector.
pub fn whatsapp() -> &'static Path {
    Path::new(env!("OMNI_TEST_WHATSAPP_WASM"))
}

/// The messenger connector.
pub fn messenger() -> &'static Path {
    Path::new(env!("OMNI_TEST_MESSENGER_WASM"))
}

/// The telegram connector.
pub fn telegram() -> &'static Path {
    Path::new(env!("OMNI_TEST_TELEGRAM_WASM"))
}

/// The HubSpot integration.
pub fn hubspot() -> &'static Path {
    Path::new(env!("OMNI_TEST_HUBSPOT_WASM"))
}

/// The Salesforce integration.
pub fn salesforce() -> &'static Path {
    Path::new(env!("OMNI_TEST_SALESFORCE_WASM"))
}

/// The Shopify integration.
pub fn shopify() -> &'static Path {
    Path::new(env!("OMNI_TEST_SHOPIFY_WASM"))
}

/// The outgoing-webhook integration.
pub fn webhook_out() -> &'static Path {
    Path::new(env!("OMNI_TEST_WEBHOOK_OUT_WASM"))
}
