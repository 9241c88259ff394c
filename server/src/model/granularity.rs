//! Time granularities: the widths of rollup buckets and of the buckets a
//! view shows. One enum for the whole crate.

/// A bucket width, aligned to the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Granularity {
    Minute,
    /// Fifteen minutes: every time zone's hours and days start on one.
    QuarterHour,
    Hour,
    Day,
    /// Seven UTC days from the epoch's Thursday: long ranges read a row per
    /// week instead of seven.
    Week,
    /// All time: one bucket.
    Total,
}

impl Granularity {
    /// Width in seconds; `None` for [`Self::Total`].
    pub const fn seconds(self) -> Option<i64> {
        match self {
            Self::Minute => Some(60),
            Self::QuarterHour => Some(900),
            Self::Hour => Some(3600),
            Self::Day => Some(86_400),
            Self::Week => Some(7 * 86_400),
            Self::Total => None,
        }
    }

    /// Width in milliseconds; `None` for [`Self::Total`].
    pub const fn millis(self) -> Option<i64> {
        match self.seconds() {
            Some(s) => Some(s * 1000),
            None => None,
        }
    }

    /// The value of a rollup row's `grain` column: the width in seconds, 0
    /// for all time.
    pub const fn code(self) -> i64 {
        match self.seconds() {
            Some(s) => s,
            None => 0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minute => "minute",
            Self::QuarterHour => "quarter_hour",
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::Total => "total",
        }
    }

    /// Start (Unix seconds) of the bucket holding `ts_ms`; 0 for all time.
    pub fn bucket_of(self, ts_ms: i64) -> i64 {
        match self.seconds() {
            Some(width) => ts_ms.div_euclid(1000).div_euclid(width) * width,
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_start_on_their_width() {
        let ts = 1_795_000_123_456;
        assert_eq!(Granularity::QuarterHour.bucket_of(ts) % 900, 0);
        assert!(Granularity::Hour.bucket_of(ts) * 1000 <= ts);
        assert_eq!(Granularity::Day.bucket_of(-1), -86_400);
        assert_eq!(Granularity::Total.bucket_of(ts), 0);
        assert_eq!(Granularity::Day.code(), 86_400);
        assert_eq!(Granularity::Total.code(), 0);
    }
}
