//! Lengths of time in Unix milliseconds, and the one way Tally writes an
//! instant.

use chrono::{DateTime, SecondsFormat, Utc};

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;
pub const WEEK_MS: i64 = 7 * DAY_MS;

/// An instant as RFC 3339 in UTC to the second (`2026-11-21T21:00:00Z`);
/// one beyond chrono's range as its number of milliseconds.
pub fn format_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_written_in_utc_to_the_second() {
        assert_eq!(format_ms(1_795_003_600_999), "2026-11-18T12:06:40Z");
        assert_eq!(format_ms(i64::MAX), i64::MAX.to_string());
    }
}
