//! The wall clock the host gives the component (WASI wall clock; the system
//! clock natively), and times written the way provider APIs take them.

/// Milliseconds since the Unix epoch; `None` when the clock reports nothing plausible.
pub fn now_ms() -> Option<i64> {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    i64::try_from(elapsed.as_millis()).ok().filter(|&ms| ms > 0)
}

/// The latest time written: 9999-12-31T23:59:59.999Z.
const MAX_MS: i64 = 253_402_300_799_999;

/// `ms` since the Unix epoch as RFC 3339 in UTC with milliseconds,
/// `YYYY-MM-DDTHH:MM:SS.sssZ`, clamped to years 1970 to 9999 (a time outside
/// them is a clock error, and many APIs refuse it).
pub fn rfc3339(ms: i64) -> String {
    let ms = ms.clamp(0, MAX_MS);
    let (seconds, millis) = (ms / 1000, ms % 1000);
    let (days, second_of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// Year, month and day of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days >= 0).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The UTC calendar date (`YYYY-MM-DD`) of `ms` since the Unix epoch,
/// clamped like [`rfc3339`].
pub fn date(ms: i64) -> String {
    let mut text = rfc3339(ms);
    text.truncate(10);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_is_available_natively() {
        assert!(now_ms().unwrap() > 1_600_000_000_000);
    }

    #[test]
    fn times_are_utc_with_milliseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        // A leap day and the turn of a century.
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
        assert_eq!(rfc3339(-5), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(i64::MAX), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn dates_are_utc_calendar_days() {
        assert_eq!(date(951_782_400_000), "2000-02-29");
        assert_eq!(date(1_717_286_399_999), "2024-06-01");
        assert_eq!(date(1_717_286_400_000), "2024-06-02");
        assert_eq!(date(i64::MIN), "1970-01-01");
    }
}
