//! Signature helpers for webhook verification, the same in wasm and natively.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 of `data` under `key`, as lower-case hex.
pub fn hmac_sha256_hex(key: &[u8], data: &[u8]) -> String {
    hex::encode(hmac_sha256(key, data))
}

/// Whether `signature_hex` (either case) is the HMAC-SHA256 of `data` under
/// `key`, compared in constant time.
pub fn verify_hmac_sha256_hex(key: &[u8], data: &[u8], signature_hex: &str) -> bool {
    let Ok(given) = hex::decode(signature_hex.trim()) else {
        return false;
    };
    let expected = hmac_sha256(key, data);
    given.len() == expected.len() && bool::from(given.ct_eq(&expected))
}

/// HMAC-SHA1 of `data` under `key` (Twilio's webhook signatures).
pub fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Decodes standard base64; `None` when malformed.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text.trim()).ok()
}

/// Whether `header` is a valid `X-Hub-Signature-256` (`sha256=<hex>`) of
/// `body` under `app_secret` — the scheme of Meta's webhooks (WhatsApp,
/// Messenger, Instagram) and many others.
pub fn verify_hub_signature_256(app_secret: &[u8], body: &[u8], header: &str) -> bool {
    match header.trim().strip_prefix("sha256=") {
        Some(hex_signature) => verify_hmac_sha256_hex(app_secret, body, hex_signature),
        None => false,
    }
}

/// The signature of a Twilio-style webhook: base64 of HMAC-SHA1, under the
/// auth token, of the full URL the provider called followed by every form
/// parameter's name and value, sorted by name.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut data = url.to_owned();
    for (name, value) in sorted {
        data.push_str(name);
        data.push_str(value);
    }
    base64(&hmac_sha1(auth_token.as_bytes(), data.as_bytes()))
}

/// Whether `header` (the `X-Twilio-Signature`) signs this request.
pub fn verify_twilio_signature(auth_token: &str, url: &str, params: &[(String, String)], header: &str) -> bool {
    constant_time_eq(
        twilio_signature(auth_token, url, params).as_bytes(),
        header.trim().as_bytes(),
    )
}

/// Whether two byte strings are equal, compared in constant time.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_test_case_2() {
        let mac = hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(mac, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn twilio_signature_matches_twilios_own_test_vectors() {
        // The vectors of Twilio's request validator tests.
        let pairs = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let params = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ]);
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(twilio_signature("12345", url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert!(verify_twilio_signature(
            "12345",
            url,
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!verify_twilio_signature(
            "12346",
            url,
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        let repeated = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ]);
        assert_eq!(
            twilio_signature("12345", url, &repeated),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
    }

    #[test]
    fn hub_signatures() {
        let header = format!("sha256={}", hmac_sha256_hex(b"app-secret", b"{\"object\":\"page\"}"));
        assert!(verify_hub_signature_256(
            b"app-secret",
            b"{\"object\":\"page\"}",
            &header
        ));
        assert!(!verify_hub_signature_256(b"other", b"{\"object\":\"page\"}", &header));
        assert!(!verify_hub_signature_256(b"app-secret", b"{}", "sha1=abc"));
    }

    #[test]
    fn hmac_sha1_and_base64() {
        // RFC 2202 test case 2.
        assert_eq!(
            hex::encode(hmac_sha1(b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(base64(b"hi"), "aGk=");
        assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
        assert!(base64_decode("***").is_none());
        assert!(constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd"));
    }

    #[test]
    fn verification_rejects_wrong_and_malformed_signatures() {
        let good = hmac_sha256_hex(b"k", b"user-1");
        assert!(verify_hmac_sha256_hex(b"k", b"user-1", &good));
        assert!(verify_hmac_sha256_hex(b"k", b"user-1", &good.to_uppercase()));
        assert!(!verify_hmac_sha256_hex(b"k", b"user-2", &good));
        assert!(!verify_hmac_sha256_hex(b"k", b"user-1", "zz"));
        assert!(!verify_hmac_sha256_hex(b"k", b"user-1", &good[..10]));
    }
}
