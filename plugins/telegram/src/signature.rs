//! Proof that a webhook comes from Telegram: the `secret_token` given to
//! `setWebhook`, which Telegram repeats in `X-Telegram-Bot-Api-Secret-Token`.
//!
//! Telegram does not sign update bodies; the shared token, sent over HTTPS,
//! is its only authentication of webhooks. Only Telegram and the operator
//! know it, so a request carrying it was sent by Telegram.

use omni_plugin_sdk::crypto::{constant_time_eq, hmac_sha256};
use omni_plugin_sdk::prelude::*;

use crate::WEBHOOK_SECRET;

/// The header Telegram puts the secret token in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Refuses the request with 401 unless it carries the configured secret token.
pub fn verify(host: &Host, request: &Request) -> Result<(), PluginError> {
    let secret = host.secret(WEBHOOK_SECRET).filter(|s| !s.is_empty()).ok_or_else(|| {
        PluginError::internal(format!(
            "the `{WEBHOOK_SECRET}` secret is not configured for this Telegram connector; \
             set it to the secret_token given to setWebhook"
        ))
    })?;
    let Some(given) = request.header(SECRET_HEADER) else {
        host.warn("refused a Telegram webhook without the X-Telegram-Bot-Api-Secret-Token header");
        return Err(PluginError::unauthorized(
            "missing X-Telegram-Bot-Api-Secret-Token header",
        ));
    };
    if !tokens_match(&secret, given) {
        host.warn("refused a Telegram webhook with a wrong X-Telegram-Bot-Api-Secret-Token");
        return Err(PluginError::unauthorized(
            "X-Telegram-Bot-Api-Secret-Token does not match",
        ));
    }
    Ok(())
}

/// Compares in constant time. Both sides are first reduced to a MAC of the
/// same length, so the comparison does not reveal the secret's length either.
fn tokens_match(secret: &str, given: &str) -> bool {
    const KEY: &[u8] = b"omni-telegram-secret-token";
    constant_time_eq(
        &hmac_sha256(KEY, secret.as_bytes()),
        &hmac_sha256(KEY, given.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        assert!(tokens_match("test-secret", "test-secret"));
        assert!(!tokens_match("test-secret", "test-secreT"));
        assert!(!tokens_match("test-secret", "test-secret "));
        assert!(!tokens_match("test-secret", ""));
    }

    #[test]
    fn an_empty_secret_is_a_configuration_error_not_a_match() {
        let mock = testing::MockHost::new().with_secret(WEBHOOK_SECRET, "");
        let request = Request::post("/webhook", "{}").with_header(SECRET_HEADER, "");
        let error = verify(&mock.host(), &request).unwrap_err();
        assert_eq!(error.status(), 500);
        assert!(error.message().contains("webhook_secret"), "{error}");
    }
}
