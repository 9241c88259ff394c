//! Turning the query parameters of an admin view into a checked [`Filter`]:
//! a time range, key and language filters, a time zone. Every bad value is
//! a [`ParamError`] that names the parameter.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use app::types::MetricsQuery;

pub use crate::model::Granularity;
use crate::model::time::{DAY_MS, HOUR_MS, format_ms};

const MAX_LIST: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct ParamError {
    pub param: &'static str,
    pub message: String,
}

fn bad(param: &'static str, message: impl Into<String>) -> ParamError {
    ParamError {
        param,
        message: message.into(),
    }
}

/// A time range `[from_ms, to_ms)` and how it was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeRange {
    pub from_ms: i64,
    pub to_ms: i64,
    /// The period name, or `custom` for a start/end range.
    pub period: String,
}

impl TimeRange {
    /// The preceding range of equal length.
    pub fn previous(&self) -> Self {
        let length = self.to_ms - self.from_ms;
        Self {
            from_ms: self.from_ms - length,
            to_ms: self.from_ms,
            period: self.period.clone(),
        }
    }

    pub fn len_ms(&self) -> i64 {
        self.to_ms - self.from_ms
    }
}

/// The automatic bucket width of a time series: minutes up to 2 hours,
/// hours up to 8 days, days beyond.
pub fn auto_granularity(range: &TimeRange) -> Granularity {
    match range.len_ms() {
        len if len <= 2 * HOUR_MS => Granularity::Minute,
        len if len <= 8 * DAY_MS => Granularity::Hour,
        _ => Granularity::Day,
    }
}

/// A checked view query.
#[derive(Clone, Debug)]
pub struct Filter {
    pub range: TimeRange,
    /// 16-hex key prefixes; `None`: every key.
    pub keys: Option<Vec<String>>,
    /// Tenant identifiers; `None`: every tenant and keys without one.
    pub tenants: Option<Vec<String>>,
    /// `None`: every language.
    pub languages: Option<Vec<String>>,
    pub tz: Tz,
    pub compare: bool,
    pub stack_by_api_key: bool,
    pub limit: u32,
    pub granularity: Granularity,
}

impl Filter {
    /// Every key and language over `[from_ms, to_ms)`, in UTC: what Tally's
    /// own checks (health, alerts) read.
    pub fn between(from_ms: i64, to_ms: i64) -> Self {
        let range = TimeRange {
            from_ms,
            to_ms,
            period: "custom".to_owned(),
        };
        Self {
            granularity: auto_granularity(&range),
            range,
            keys: None,
            tenants: None,
            languages: None,
            tz: Tz::UTC,
            compare: false,
            stack_by_api_key: false,
            limit: 5,
        }
    }

    /// The same filter over the preceding period.
    pub fn previous(&self) -> Self {
        Self {
            range: self.range.previous(),
            compare: false,
            ..self.clone()
        }
    }
}

/// What the parser needs to know besides the query.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub now_ms: i64,
    /// Oldest instant any data is kept for (daily retention).
    pub oldest_ms: i64,
}

pub fn period_ms(period: &str) -> Option<i64> {
    Some(match period {
        "hour" => HOUR_MS,
        "day" => DAY_MS,
        "week" => 7 * DAY_MS,
        "month" => 30 * DAY_MS,
        "quarter" => 90 * DAY_MS,
        "year" => 365 * DAY_MS,
        _ => return None,
    })
}

pub fn parse(query: &MetricsQuery, bounds: Bounds) -> Result<Filter, ParamError> {
    let tz = match query.tz.as_deref().map(str::trim) {
        None | Some("") => Tz::UTC,
        Some(name) => name.parse::<Tz>().map_err(|_| {
            bad(
                "tz",
                format!("unknown time zone `{name}`: use an IANA name such as Europe/Berlin"),
            )
        })?,
    };
    let period = query
        .period
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let period_len = match period {
        None => DAY_MS,
        Some(p) => period_ms(p).ok_or_else(|| {
            bad(
                "period",
                format!("unknown period `{p}`: use hour, day, week, month, quarter or year"),
            )
        })?,
    };
    let start = parse_instant("start_date", query.start_date.as_deref(), tz, false)?;
    let end = parse_instant("end_date", query.end_date.as_deref(), tz, true)?;
    let range = match (start, end) {
        (None, None) => TimeRange {
            from_ms: bounds.now_ms - period_len,
            to_ms: bounds.now_ms,
            period: period.unwrap_or("day").to_owned(),
        },
        (Some(from_ms), end) => TimeRange {
            from_ms,
            to_ms: end.unwrap_or(bounds.now_ms),
            period: "custom".to_owned(),
        },
        (None, Some(to_ms)) => TimeRange {
            from_ms: to_ms - period_len,
            to_ms,
            period: "custom".to_owned(),
        },
    };
    if range.to_ms <= range.from_ms {
        return Err(bad("end_date", "must be after start_date"));
    }
    if range.from_ms < bounds.oldest_ms {
        return Err(bad(
            if start.is_some() {
                "start_date"
            } else {
                "period"
            },
            format!(
                "the range starts {}, before the oldest data kept ({}; METRICS_DAILY_RETENTION_DAYS)",
                format_ms(range.from_ms),
                format_ms(bounds.oldest_ms)
            ),
        ));
    }
    let granularity = match query.granularity.as_deref().map(str::trim) {
        None | Some("") => auto_granularity(&range),
        Some("minute") if range.len_ms() > DAY_MS => {
            return Err(bad(
                "granularity",
                "minute buckets need a range of at most one day",
            ));
        }
        Some("minute") => Granularity::Minute,
        Some("hour") if range.len_ms() > 92 * DAY_MS => {
            return Err(bad(
                "granularity",
                "hour buckets need a range of at most 92 days",
            ));
        }
        Some("hour") => Granularity::Hour,
        Some("day") => Granularity::Day,
        Some(other) => {
            return Err(bad(
                "granularity",
                format!("unknown granularity `{other}`: use minute, hour or day"),
            ));
        }
    };
    let compare = match query.compare.as_deref().map(str::trim) {
        None | Some("" | "none" | "false") => false,
        Some("previous" | "true") => true,
        Some(other) => {
            return Err(bad(
                "compare",
                format!("unknown value `{other}`: use previous"),
            ));
        }
    };
    let limit = query.limit.unwrap_or(5);
    if !(1..=20).contains(&limit) {
        return Err(bad("limit", "must be between 1 and 20"));
    }
    Ok(Filter {
        range,
        keys: list("api_key_hash", query.api_key_hash.as_deref(), key_prefix)?,
        tenants: list("tenant", query.tenant.as_deref(), crate::model::tenant)?,
        languages: list("language", query.language.as_deref(), language)?,
        tz,
        compare,
        stack_by_api_key: query.stack_by_api_key.unwrap_or(false),
        limit,
        granularity,
    })
}

fn list(
    param: &'static str,
    value: Option<&str>,
    item: fn(&str) -> Result<String, String>,
) -> Result<Option<Vec<String>>, ParamError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let mut items = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let parsed = item(part).map_err(|m| bad(param, format!("`{part}` {m}")))?;
        if !items.contains(&parsed) {
            items.push(parsed);
        }
    }
    if items.len() > MAX_LIST {
        return Err(bad(param, format!("at most {MAX_LIST} values")));
    }
    Ok(Some(items))
}

/// A 16-hex prefix or a 64-hex hash, as its 16-hex prefix.
pub fn key_prefix(value: &str) -> Result<String, String> {
    let value = value.to_ascii_lowercase();
    if (value.len() == 16 || value.len() == 64) && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(value[..16].to_owned())
    } else {
        Err("is not an API key hash: give its first 16 hex characters (or all 64)".to_owned())
    }
}

fn language(value: &str) -> Result<String, String> {
    let value = value.to_ascii_lowercase();
    if value.len() <= 32
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+#._-".contains(&b))
    {
        Ok(value)
    } else {
        Err("is not a language name".to_owned())
    }
}

/// A date (`YYYY-MM-DD`, midnight in `tz`; as an end, the following
/// midnight so the day is included) or an RFC 3339 time.
fn parse_instant(
    param: &'static str,
    value: Option<&str>,
    tz: Tz,
    end_of_day: bool,
) -> Result<Option<i64>, ParamError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let date = if end_of_day {
            date.succ_opt()
                .ok_or_else(|| bad(param, "date out of range"))?
        } else {
            date
        };
        return Ok(Some(local_midnight_ms(date, tz)));
    }
    DateTime::parse_from_rfc3339(value)
        .map(|t| Some(t.timestamp_millis()))
        .map_err(|_| {
            bad(
                param,
                format!("`{value}` is neither a date (YYYY-MM-DD) nor an RFC 3339 time"),
            )
        })
}

/// The instant a local day starts (the first valid local time when a DST
/// change skips midnight).
pub fn local_midnight_ms(date: NaiveDate, tz: Tz) -> i64 {
    let mut time = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    for _ in 0..4 {
        if let Some(t) = tz.from_local_datetime(&time).earliest() {
            return t.timestamp_millis();
        }
        time += chrono::Duration::minutes(30);
    }
    Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .timestamp_millis()
}

/// An instant as RFC 3339 in `tz`.
pub fn format_in(ms: i64, tz: Tz) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&tz)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_300_000_000; // 2026-11-21

    fn bounds() -> Bounds {
        Bounds {
            now_ms: NOW,
            oldest_ms: NOW - 365 * DAY_MS,
        }
    }

    fn q(pairs: &[(&str, &str)]) -> MetricsQuery {
        let encoded = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        serde_json::from_value(
            serde_json::to_value(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned())))
                    .collect::<serde_json::Map<_, _>>(),
            )
            .unwrap(),
        )
        .unwrap_or_else(|e| panic!("{encoded}: {e}"))
    }

    #[test]
    fn periods_go_back_from_now() {
        let f = parse(&q(&[("period", "week")]), bounds()).unwrap();
        assert_eq!(f.range.to_ms - f.range.from_ms, 7 * DAY_MS);
        assert_eq!(f.range.period, "week");
        assert_eq!(f.granularity, Granularity::Hour);
        let default = parse(&MetricsQuery::default(), bounds()).unwrap();
        assert_eq!(default.range.period, "day");
    }

    #[test]
    fn dates_are_local_days_and_end_is_inclusive() {
        let f = parse(
            &q(&[
                ("start_date", "2026-10-24"),
                ("end_date", "2026-10-25"),
                ("tz", "Europe/Berlin"),
            ]),
            bounds(),
        )
        .unwrap();
        // 24 h on the 24th (CEST) + 25 h on the 25th (DST ends).
        assert_eq!(f.range.len_ms(), 49 * HOUR_MS);
        assert_eq!(
            format_in(f.range.from_ms, f.tz),
            "2026-10-24T00:00:00+02:00"
        );
        assert_eq!(format_in(f.range.to_ms, f.tz), "2026-10-26T00:00:00+01:00");
    }

    #[test]
    fn bad_values_name_their_parameter() {
        let cases = [
            (vec![("period", "fortnight")], "period"),
            (vec![("tz", "Mars/Olympus")], "tz"),
            (vec![("start_date", "2026-13-01")], "start_date"),
            (
                vec![("start_date", "2026-11-10"), ("end_date", "2026-11-01")],
                "end_date",
            ),
            (vec![("start_date", "2020-01-01")], "start_date"),
            (vec![("api_key_hash", "xyz")], "api_key_hash"),
            (vec![("language", "py thon")], "language"),
            (vec![("compare", "yesterday")], "compare"),
            (vec![("granularity", "second")], "granularity"),
            (
                vec![("period", "week"), ("granularity", "minute")],
                "granularity",
            ),
        ];
        for (pairs, param) in cases {
            let error = parse(&q(&pairs), bounds()).unwrap_err();
            assert_eq!(error.param, param, "{pairs:?}: {error}");
        }
        let limit = MetricsQuery {
            limit: Some(21),
            ..Default::default()
        };
        assert_eq!(parse(&limit, bounds()).unwrap_err().param, "limit");
    }

    #[test]
    fn keys_and_languages_are_lists() {
        let hash = "AB".repeat(32);
        let f = parse(
            &q(&[
                ("api_key_hash", &format!("0123456789abcdef, {hash}")),
                ("language", "Python,go,python"),
            ]),
            bounds(),
        )
        .unwrap();
        assert_eq!(
            f.keys.unwrap(),
            vec!["0123456789abcdef".to_owned(), "abababababababab".to_owned()]
        );
        assert_eq!(
            f.languages.unwrap(),
            vec!["python".to_owned(), "go".to_owned()]
        );
    }

    #[test]
    fn previous_period_has_equal_length() {
        let f = parse(&q(&[("period", "day"), ("compare", "previous")]), bounds()).unwrap();
        assert!(f.compare);
        let p = f.previous();
        assert_eq!(p.range.to_ms, f.range.from_ms);
        assert_eq!(p.range.len_ms(), f.range.len_ms());
    }
}

/// Generated query parameters: parsing never panics, and an accepted filter
/// is a non-empty range within the bounds.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn field() -> impl Strategy<Value = Option<String>> {
        prop::option::of(prop_oneof![
            ".{0,30}",
            prop::sample::select(vec![
                "hour",
                "day",
                "week",
                "month",
                "quarter",
                "year",
                "2026-11-01",
                "2026-02-30",
                "2026-11-20T10:00:00Z",
                "Europe/Berlin",
                "America/New_York",
                "previous",
                "0123456789abcdef",
                "python,go",
                "minute",
                "hour",
                "day",
                "-1",
                "9999-12-31",
            ])
            .prop_map(str::to_owned),
        ])
    }

    proptest! {
        #[test]
        fn any_query_parses_or_names_its_parameter(
            period in field(), start in field(), end in field(), keys in field(), language in field(),
            tz in field(), compare in field(), granularity in field(), limit in prop::option::of(any::<u32>()),
        ) {
            let query = MetricsQuery {
                period, start_date: start, end_date: end, api_key_hash: keys, tenant: None, language,
                tz, compare, granularity, limit, stack_by_api_key: None,
            };
            let bounds = Bounds { now_ms: 1_795_300_000_000, oldest_ms: 1_795_300_000_000 - 365 * DAY_MS };
            match parse(&query, bounds) {
                Ok(filter) => {
                    prop_assert!(filter.range.from_ms < filter.range.to_ms);
                    prop_assert!(filter.range.from_ms >= bounds.oldest_ms);
                    prop_assert!((1..=20).contains(&filter.limit));
                }
                Err(error) => prop_assert!(!error.param.is_empty() && !error.message.is_empty()),
            }
        }
    }
}
