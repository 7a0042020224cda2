//! Shopify's times: ISO 8601 with the shop's offset, e.g.
//! `2024-10-01T11:42:17+02:00`.
//!
//! A time the plugin cannot read is left out rather than failing the call:
//! it only orders orders and places events on the timeline.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// An RFC 3339 time as ms since the Unix epoch.
pub fn rfc3339_ms(text: &str) -> Option<i64> {
    let at = OffsetDateTime::parse(text.trim(), &Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_applied() {
        assert_eq!(rfc3339_ms("2024-10-01T11:42:17+02:00"), Some(1_727_775_737_000));
        assert_eq!(rfc3339_ms("2024-10-01T09:42:17Z"), Some(1_727_775_737_000));
        assert_eq!(rfc3339_ms("2008-01-10T11:00:00-05:00"), Some(1_199_980_800_000));
        assert_eq!(rfc3339_ms("2024-10-01T09:42:17.5Z"), Some(1_727_775_737_500));
        assert_eq!(rfc3339_ms("2024-10-01"), None);
        assert_eq!(rfc3339_ms(""), None);
    }
}
