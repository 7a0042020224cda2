//! The Standard Webhooks symmetric signature: `v1,` followed by the base64
//! HMAC-SHA256, under the decoded `whsec_` secret, of `{id}.{timestamp}.{body}`.
//!
//! Spec: <https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>,
//! "Signature scheme" and "Webhook headers".

use omni_plugin_sdk::crypto;

/// Name of the secret holding the signing key.
pub const SIGNING_SECRET: &str = "signing_secret";

/// The prefix the spec gives serialised symmetric secrets.
const PREFIX: &str = "whsec_";

/// The spec asks for 24 to 64 random bytes (192 to 512 bits).
const MIN_KEY_BYTES: usize = 24;
const MAX_KEY_BYTES: usize = 64;

/// A decoded signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(Vec<u8>);

// The key never appears in logs or error messages, not even through `{:?}`.
impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({} bytes)", self.0.len())
    }
}

impl SigningKey {
    /// Reads a `whsec_<base64>` secret.
    ///
    /// A raw (unprefixed) secret is refused rather than used as bytes: the
    /// receiver's Standard Webhooks library decodes whatever follows `whsec_`,
    /// so a secret both sides read differently would fail every signature
    /// silently. The error never quotes the secret.
    pub fn parse(secret: &str) -> Result<Self, String> {
        let secret = secret.trim();
        let Some(encoded) = secret.strip_prefix(PREFIX) else {
            return Err(format!(
                "the `{SIGNING_SECRET}` secret must be `whsec_` followed by base64 (the Standard Webhooks format), \
                 e.g. generated with: echo \"whsec_$(openssl rand -base64 32)\""
            ));
        };
        let key = crypto::base64_decode(encoded).ok_or_else(|| {
            format!(
                "the `{SIGNING_SECRET}` secret is not valid base64 after `whsec_` (standard alphabet, with padding)"
            )
        })?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(format!(
                "the `{SIGNING_SECRET}` secret decodes to {} bytes; Standard Webhooks asks for {MIN_KEY_BYTES} to \
                 {MAX_KEY_BYTES} random bytes",
                key.len()
            ));
        }
        Ok(Self(key))
    }

    /// The `webhook-signature` header value for one attempt.
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        let mut content = Vec::with_capacity(id.len() + body.len() + 24);
        content.extend_from_slice(id.as_bytes());
        content.push(b'.');
        content.extend_from_slice(timestamp.to_string().as_bytes());
        content.push(b'.');
        content.extend_from_slice(body);
        format!("v1,{}", crypto::base64(&crypto::hmac_sha256(&self.0, &content)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector of the reference Rust library's `test_sign`
    /// (standard-webhooks/standard-webhooks, libraries/rust/src/lib.rs).
    #[test]
    fn matches_the_reference_library_vector() {
        let key = SigningKey::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(
            key.sign(
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1649367553,
                br#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn secrets_must_be_prefixed_base64_of_a_sane_length() {
        let raw = SigningKey::parse("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap_err();
        assert!(raw.contains("must be `whsec_`"), "{raw}");
        assert!(!raw.contains("C2FVsBQ"), "the secret leaked into {raw}");
        let garbage = SigningKey::parse("whsec_not base64!!").unwrap_err();
        assert!(garbage.contains("not valid base64"), "{garbage}");
        let short = SigningKey::parse("whsec_c2hvcnQ=").unwrap_err();
        assert!(short.contains("decodes to 5 bytes"), "{short}");
        assert!(SigningKey::parse("whsec_").is_err());
        assert!(SigningKey::parse("").is_err());
        // Surrounding whitespace from an env file is tolerated.
        assert!(SigningKey::parse(" whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD\n").is_ok());
        assert_eq!(
            format!(
                "{:?}",
                SigningKey::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap()
            ),
            "SigningKey(24 bytes)"
        );
    }
}
