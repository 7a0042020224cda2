//! Webhook authentication: HTTP Basic credentials (Postmark and SendGrid let
//! operators put them in the webhook URL) or Mailgun's signature, an
//! HMAC-SHA256 under the webhook signing key of `timestamp` + `token`.

use omni_plugin_sdk::crypto::{base64_decode, constant_time_eq, hmac_sha256_hex, verify_hmac_sha256_hex};
use omni_plugin_sdk::prelude::*;

use crate::config::{self, InboundAuth};

/// Checks the `Authorization: Basic` header against `webhook_username` and
/// the `webhook_password` secret.
pub fn check_basic(host: &Host, request: &Request) -> Result<(), PluginError> {
    let password = config::required_secret(host, config::WEBHOOK_PASSWORD)?;
    let username: String = host.config_or("webhook_username", config::DEFAULT_WEBHOOK_USERNAME.to_owned())?;
    let Some(header) = request.header("authorization") else {
        host.warn("refused an email webhook without HTTP Basic credentials");
        return Err(PluginError::unauthorized("HTTP Basic credentials are required"));
    };
    let Some((given_user, given_password)) = basic_credentials(header) else {
        host.warn("refused an email webhook with a malformed Authorization header");
        return Err(PluginError::unauthorized("the Authorization header is not HTTP Basic"));
    };
    // Both comparisons run, so the timing does not tell which one failed.
    let user_ok = constant_time_eq(given_user.as_bytes(), username.as_bytes());
    let password_ok = constant_time_eq(given_password.as_bytes(), password.as_bytes());
    if user_ok && password_ok {
        Ok(())
    } else {
        host.warn("refused an email webhook with wrong HTTP Basic credentials");
        Err(PluginError::unauthorized("wrong HTTP Basic credentials"))
    }
}

/// The user name and password of an `Authorization: Basic …` value.
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Mailgun's three signature fields, as the webhook carried them.
#[derive(Debug, Clone, Copy, Default)]
pub struct MailgunSignature<'a> {
    /// Seconds since the epoch, as text.
    pub timestamp: Option<&'a str>,
    /// A random string.
    pub token: Option<&'a str>,
    /// Hex HMAC-SHA256 of timestamp + token.
    pub signature: Option<&'a str>,
}

/// Checks a Mailgun signature with the `webhook_signing_key` secret and the
/// age of its timestamp (`signature_max_age_seconds`).
pub fn check_mailgun(host: &Host, signature: MailgunSignature<'_>) -> Result<(), PluginError> {
    let key = config::required_secret(host, config::WEBHOOK_SIGNING_KEY)?;
    let (Some(timestamp), Some(token), Some(hex)) = (signature.timestamp, signature.token, signature.signature) else {
        host.warn("refused an unsigned email webhook (no Mailgun timestamp, token and signature)");
        return Err(PluginError::unauthorized(
            "the Mailgun signature (timestamp, token, signature) is missing",
        ));
    };
    if !mailgun_signature_valid(key.as_bytes(), timestamp, token, hex) {
        host.warn("refused an email webhook with a wrong Mailgun signature");
        return Err(PluginError::unauthorized("the Mailgun signature does not match"));
    }
    let max_age: u64 = host.config_or("signature_max_age_seconds", config::DEFAULT_MAX_AGE_SECONDS)?;
    let now_secs = crate::now_ms() / 1000;
    if max_age > 0 && now_secs == 0 {
        // Without a clock a replay cannot be told from a fresh request.
        host.warn("no clock available; the Mailgun timestamp age was not checked");
    } else if max_age > 0 && !timestamp_fresh(timestamp, now_secs, max_age) {
        host.warn("refused an email webhook with a stale Mailgun timestamp (possible replay)");
        return Err(PluginError::unauthorized(format!(
            "the Mailgun timestamp is more than {max_age} seconds away from now"
        )));
    }
    Ok(())
}

/// Whether `signature` is the hex HMAC-SHA256 of `timestamp + token` under `key`.
pub fn mailgun_signature_valid(key: &[u8], timestamp: &str, token: &str, signature: &str) -> bool {
    let data = format!("{timestamp}{token}");
    verify_hmac_sha256_hex(key, data.as_bytes(), signature)
}

/// The signature Mailgun would compute; for tests and tools.
pub fn mailgun_signature(key: &[u8], timestamp: &str, token: &str) -> String {
    hmac_sha256_hex(key, format!("{timestamp}{token}").as_bytes())
}

/// Whether a Unix `timestamp` (seconds, as text) is within `max_age` seconds of `now`.
pub fn timestamp_fresh(timestamp: &str, now_secs: i64, max_age: u64) -> bool {
    match timestamp.trim().parse::<i64>() {
        Ok(ts) => now_secs.abs_diff(ts) <= max_age,
        Err(_) => false,
    }
}

/// In `basic` mode, answers a refusal with a proper `401` challenge
/// (`WWW-Authenticate: Basic`, as RFC 9110 requires, so that HTTP clients
/// that only send credentials when challenged retry with them); nothing is
/// emitted either way. Other results pass through.
pub fn challenge_on_basic_refusal(
    host: &Host,
    result: Result<WebhookOutcome, PluginError>,
) -> Result<WebhookOutcome, PluginError> {
    match result {
        Err(PluginError::Unauthorized(message)) if matches!(config::inbound_auth(host), Ok(InboundAuth::Basic)) => {
            let body = serde_json::json!({ "error": "unauthorized", "message": message });
            Ok(WebhookOutcome::new(Response::json(401, &body).with_header(
                "www-authenticate",
                "Basic realm=\"omni\", charset=\"UTF-8\"",
            )))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omni_plugin_sdk::crypto::base64;
    use serde_json::json;

    #[test]
    fn basic_credentials_are_decoded() {
        let header = format!("Basic {}", base64(b"omni:pa:ss"));
        assert_eq!(basic_credentials(&header), Some(("omni".into(), "pa:ss".into())));
        assert_eq!(
            basic_credentials(&format!("basic {}", base64(b"a:b"))),
            Some(("a".into(), "b".into()))
        );
        assert_eq!(basic_credentials("Bearer abc"), None);
        assert_eq!(basic_credentials("Basic ***"), None);
        assert_eq!(basic_credentials(&format!("Basic {}", base64(b"no-colon"))), None);
    }

    #[test]
    fn basic_auth_checks_user_and_password() {
        let mock = testing::MockHost::new().with_secret(config::WEBHOOK_PASSWORD, "test-secret");
        let request = |user: &str, password: &str| {
            Request::post("/inbound", "x").with_header(
                "authorization",
                &format!("Basic {}", base64(format!("{user}:{password}").as_bytes())),
            )
        };
        assert!(check_basic(&mock.host(), &request("omni", "test-secret")).is_ok());
        assert_eq!(
            check_basic(&mock.host(), &request("omni", "guess"))
                .unwrap_err()
                .status(),
            401
        );
        assert_eq!(
            check_basic(&mock.host(), &request("other", "test-secret"))
                .unwrap_err()
                .status(),
            401
        );
        assert_eq!(
            check_basic(&mock.host(), &Request::post("/inbound", "x"))
                .unwrap_err()
                .status(),
            401
        );
        let named = testing::MockHost::new()
            .with_secret(config::WEBHOOK_PASSWORD, "test-secret")
            .with_config("webhook_username", json!("postmark"));
        assert!(check_basic(&named.host(), &request("postmark", "test-secret")).is_ok());
        assert!(check_basic(&named.host(), &request("omni", "test-secret")).is_err());
    }

    #[test]
    fn basic_auth_without_the_secret_is_an_operator_error() {
        let mock = testing::MockHost::new();
        let err = check_basic(&mock.host(), &Request::post("/inbound", "x")).unwrap_err();
        assert_eq!(err.status(), 500);
        assert!(err.message().contains("webhook_password"));
    }

    #[test]
    fn mailgun_signatures() {
        // Expected value computed independently with Python's hmac module.
        let signature = mailgun_signature(
            b"key-test",
            "1529006854",
            "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
        );
        assert_eq!(
            signature,
            "2df0e54f503d31abdc1519117a730ae38748e41e86f9ae25431dbd26059468af"
        );
        assert!(mailgun_signature_valid(
            b"key-test",
            "1529006854",
            "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
            &signature
        ));
        assert!(!mailgun_signature_valid(
            b"key-other",
            "1529006854",
            "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
            &signature
        ));
        assert!(!mailgun_signature_valid(
            b"key-test",
            "1529006855",
            "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
            &signature
        ));
    }

    #[test]
    fn timestamps_must_be_recent() {
        assert!(timestamp_fresh("1000", 1000 + 900, 900));
        assert!(!timestamp_fresh("1000", 1000 + 901, 900));
        assert!(timestamp_fresh("1900", 1000, 900));
        assert!(!timestamp_fresh("1901", 1000, 900));
        assert!(!timestamp_fresh("soon", 1000, 900));
    }

    #[test]
    fn stale_mailgun_timestamps_are_refused_unless_the_check_is_off() {
        let signature = mailgun_signature(b"test-secret", "1529006854", "tok");
        let fields = MailgunSignature {
            timestamp: Some("1529006854"),
            token: Some("tok"),
            signature: Some(&signature),
        };
        let mock = testing::MockHost::new().with_secret(config::WEBHOOK_SIGNING_KEY, "test-secret");
        let err = check_mailgun(&mock.host(), fields).unwrap_err();
        assert!(err.message().contains("timestamp"), "{err}");
        let off = testing::MockHost::new()
            .with_secret(config::WEBHOOK_SIGNING_KEY, "test-secret")
            .with_config("signature_max_age_seconds", json!(0));
        assert!(check_mailgun(&off.host(), fields).is_ok());
        let err = check_mailgun(&off.host(), MailgunSignature::default()).unwrap_err();
        assert_eq!(err.status(), 401);
    }

    #[test]
    fn refusals_in_basic_mode_become_challenges() {
        let mock = testing::MockHost::new();
        let outcome = challenge_on_basic_refusal(&mock.host(), Err(PluginError::unauthorized("no"))).unwrap();
        assert_eq!(outcome.response.status, 401);
        assert!(outcome.events.is_empty());
        assert_eq!(
            outcome.response.header("www-authenticate"),
            Some("Basic realm=\"omni\", charset=\"UTF-8\"")
        );
        let mailgun = testing::MockHost::new().with_config("inbound_auth", json!("mailgun"));
        let err = challenge_on_basic_refusal(&mailgun.host(), Err(PluginError::unauthorized("no"))).unwrap_err();
        assert_eq!(err.status(), 401);
        let other = challenge_on_basic_refusal(&mock.host(), Err(PluginError::bad_request("x"))).unwrap_err();
        assert_eq!(other.status(), 400);
    }
}
