//! Identity normalisation (`omni_core::Normalizer`): every kind, with and
//! without a default phone region, on arbitrary text.
//!
//! Input: byte 0 picks the kind (modulo 5) and the default region; the rest
//! is UTF-8, `namespace NUL raw` or just `raw` (namespace `fuzz`).
//!
//! It must never panic, and what it accepts keeps its kind and is not empty.
//! With `OMNI_FUZZ_STRICT=1` it also checks that normalising is idempotent
//! (a normalised value normalises to itself), which the identity graph
//! relies on when it matches a stored key against a new raw identifier.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use omni_core::{IdentityKind, Normalizer, Region};

const KINDS: [IdentityKind; 5] = [
    IdentityKind::Email,
    IdentityKind::Phone,
    IdentityKind::ChannelUser,
    IdentityKind::CrmId,
    IdentityKind::ExternalId,
];

const REGIONS: [Option<&str>; 6] = [None, Some("US"), Some("GB"), Some("DE"), Some("IN"), Some("BR")];

fn strict() -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    *STRICT.get_or_init(|| std::env::var("OMNI_FUZZ_STRICT").is_ok_and(|v| v == "1"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let (namespace, raw) = text.split_once('\0').unwrap_or(("fuzz", text));
    let kind = KINDS[usize::from(selector) % KINDS.len()];
    let region = REGIONS[usize::from(selector) / KINDS.len() % REGIONS.len()]
        .map(|code| code.parse::<Region>().expect("a known region"));
    let normalizer = Normalizer { default_region: region };

    // The parsers of the names an API client or a config gives.
    let _ = IdentityKind::parse(namespace);
    let _ = namespace.parse::<Region>();

    let Ok(key) = normalizer.identity(kind, raw, namespace) else {
        return;
    };
    assert_eq!(key.kind, kind);
    assert!(!key.value.is_empty(), "{kind} {raw:?} normalised to nothing");
    let _ = key.to_string();
    let channel_value = key.channel_value();

    if strict() && !namespace.contains(':') {
        let again = match kind {
            IdentityKind::ChannelUser | IdentityKind::CrmId => normalizer.identity(kind, channel_value, namespace),
            _ => normalizer.identity(kind, &key.value, namespace),
        };
        assert_eq!(
            again.as_ref(),
            Ok(&key),
            "normalising {kind} {raw:?} is not idempotent: {:?} then {again:?}",
            key.value
        );
    }
});
