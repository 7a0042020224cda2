//! Twilio's event times: RFC 2822 on voice callbacks, ISO 8601 on video ones.
//!
//! A time the plugin cannot read is left out rather than refusing the
//! callback: it only positions the record on the timeline.

use time::OffsetDateTime;
use time::format_description::well_known::{Rfc2822, Rfc3339};

/// `Tue, 04 Aug 2015 21:16:18 +0000` as ms since the Unix epoch.
pub fn rfc2822_ms(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text.trim(), &Rfc2822).ok().map(millis)
}

/// `2021-06-29T18:41:35.813Z` as ms since the Unix epoch.
pub fn rfc3339_ms(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).ok().map(millis)
}

fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_parse() {
        assert_eq!(rfc2822_ms("Tue, 04 Aug 2015 21:16:18 +0000"), Some(1_438_722_978_000));
        assert_eq!(rfc2822_ms("Tue, 04 Aug 2015 23:16:18 +0200"), Some(1_438_722_978_000));
        assert_eq!(rfc3339_ms("2015-08-04T21:16:18.250Z"), Some(1_438_722_978_250));
        assert_eq!(rfc2822_ms("yesterday"), None);
        assert_eq!(rfc3339_ms("2015-08-04 21:16"), None);
    }
}
