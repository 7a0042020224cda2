//! Meta's subscription handshake: `GET /webhook?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`
//! is answered with the challenge when the token matches the `verify_token` secret.

use omni_plugin_sdk::crypto::constant_time_eq;
use omni_plugin_sdk::prelude::*;

use crate::VERIFY_TOKEN;

/// Longest challenge echoed back; Meta sends a short number.
const MAX_CHALLENGE_LEN: usize = 256;

/// Handles the verification `GET`: 200 with the challenge, or 403.
pub fn verify(host: &Host, request: &Request) -> Result<WebhookOutcome, PluginError> {
    let expected = host.secret(VERIFY_TOKEN).ok_or_else(|| {
        PluginError::internal("the secret `verify_token` is not configured for this Messenger instance")
    })?;
    let mode_ok = request.query_param("hub.mode").as_deref() == Some("subscribe");
    let token_ok = request
        .query_param("hub.verify_token")
        .is_some_and(|token| constant_time_eq(token.as_bytes(), expected.as_bytes()));
    if !(mode_ok && token_ok) {
        host.warn("refused a webhook verification: hub.mode is not subscribe or hub.verify_token does not match");
        return Err(PluginError::Forbidden(
            "hub.mode must be subscribe and hub.verify_token must match the verify_token secret".to_owned(),
        ));
    }
    let challenge = request
        .query_param("hub.challenge")
        .filter(|c| !c.is_empty() && c.len() <= MAX_CHALLENGE_LEN)
        .ok_or_else(|| PluginError::bad_request(format!("hub.challenge must be 1 to {MAX_CHALLENGE_LEN} bytes")))?;
    host.info("Meta verified the webhook subscription");
    let response = Response::text(200, challenge).with_header("x-content-type-options", "nosniff");
    Ok(WebhookOutcome::new(response))
}
