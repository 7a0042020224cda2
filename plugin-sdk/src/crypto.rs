//! Signature helpers for webhook verification, the same in wasm and natively.

use hmac::{Hmac, Mac};
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_test_case_2() {
        let mac = hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(mac, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
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
