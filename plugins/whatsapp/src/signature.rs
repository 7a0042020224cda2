//! The `X-Hub-Signature-256` check: Meta signs each webhook body with the app secret.

use omni_plugin_sdk::crypto::verify_hub_signature_256;
use omni_plugin_sdk::prelude::*;

use crate::APP_SECRET;

/// Refuses a request whose body is not signed with the `app_secret` secret.
pub fn check(host: &Host, request: &Request) -> Result<(), PluginError> {
    let secret = host.secret(APP_SECRET).ok_or_else(|| {
        PluginError::internal(
            "the secret `app_secret` (the Meta app secret) is not configured for this WhatsApp instance",
        )
    })?;
    let Some(header) = request.header("x-hub-signature-256") else {
        host.warn("refused an unsigned webhook: no X-Hub-Signature-256 header");
        return Err(PluginError::unauthorized("missing X-Hub-Signature-256 header"));
    };
    if !verify_hub_signature_256(secret.as_bytes(), &request.body, header) {
        host.warn("refused a webhook whose X-Hub-Signature-256 does not match the body");
        return Err(PluginError::unauthorized("X-Hub-Signature-256 does not match the body"));
    }
    Ok(())
}
