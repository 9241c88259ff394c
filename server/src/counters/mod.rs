//! Hot counters: executions this minute, this hour and today, per API key,
//! language and status, for the "now" figures that SQLite should not be asked
//! for on every dashboard refresh.
//!
//! Every Redis command of Tally lives in [`redis_store`]; [`memory_store`]
//! is the in-process implementation of the same [`CounterStore`] interface
//! used when `REDIS_URL` is unset. [`service::Counters`] feeds a store from
//! the writer off the ingest path, and rebuilds it from SQLite at start-up
//! and whenever updates were lost (Redis down, slow or the queue full).

pub mod memory_store;
pub mod redis_store;
pub mod service;

pub use app::types::{LiveCounters, WindowCounts};

use std::collections::HashMap;

use crate::model::ExecStatus;

pub use service::Counters;

/// How far back each window kind is kept (and rebuilt).
pub const MINUTES_KEPT: i64 = 60;
pub const HOURS_KEPT: i64 = 48;
pub const DAYS_KEPT: i64 = 2;

/// A counter window: a UTC minute, hour or day, numbered from the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Window {
    Minute(i64),
    Hour(i64),
    Day(i64),
}

impl Window {
    pub fn containing_minute(minute: i64) -> [Self; 3] {
        [
            Self::Minute(minute),
            Self::Hour(minute.div_euclid(60)),
            Self::Day(minute.div_euclid(1440)),
        ]
    }

    /// Name of the window's key below the configured prefix.
    pub fn key_suffix(self) -> String {
        match self {
            Self::Minute(n) => format!("m:{n}"),
            Self::Hour(n) => format!("h:{n}"),
            Self::Day(n) => format!("d:{n}"),
        }
    }

    /// How long a window's counters are kept after it opens, in seconds.
    pub fn ttl_secs(self) -> i64 {
        match self {
            Self::Minute(_) => (MINUTES_KEPT + 5) * 60,
            Self::Hour(_) => (HOURS_KEPT + 2) * 3600,
            Self::Day(_) => (DAYS_KEPT + 1) * 86_400,
        }
    }

    /// Whether the window is recent enough to be kept at `now_minute`.
    pub fn is_kept(self, now_minute: i64) -> bool {
        match self {
            Self::Minute(n) => n > now_minute - MINUTES_KEPT,
            Self::Hour(n) => n > now_minute.div_euclid(60) - HOURS_KEPT,
            Self::Day(n) => n > now_minute.div_euclid(1440) - DAYS_KEPT,
        }
    }

    /// Every window kept at `now_minute` (plus a little of the future, for
    /// events stamped slightly ahead): what a rebuild replaces.
    pub fn all_kept(now_minute: i64) -> Vec<Self> {
        let hour = now_minute.div_euclid(60);
        let day = now_minute.div_euclid(1440);
        let minutes = (now_minute - MINUTES_KEPT + 1..=now_minute + 5).map(Self::Minute);
        let hours = (hour - HOURS_KEPT + 1..=hour + 1).map(Self::Hour);
        let days = (day - DAYS_KEPT + 1..=day + 1).map(Self::Day);
        minutes.chain(hours).chain(days).collect()
    }
}

/// Executions stored by one commit, added up by minute, key, language and
/// status. `commit` is the commit's `writer_state.commit_seq`: a rebuild
/// that saw that commit already counts this update.
#[derive(Clone, Debug, PartialEq)]
pub struct CounterUpdate {
    pub commit: i64,
    pub deltas: Vec<CounterDelta>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CounterDelta {
    pub minute: i64,
    /// 16-hex key prefix, `None` for executions without a key.
    pub key: Option<String>,
    pub language: String,
    pub status: ExecStatus,
    pub executions: i64,
    pub time_ms: f64,
}

/// Counts of one window, by dimension. The same rows come from a delta
/// (three windows each) or from SQLite during a rebuild.
#[derive(Clone, Debug, PartialEq)]
pub struct CounterRow {
    pub window: Window,
    pub key: Option<String>,
    pub language: String,
    pub status: String,
    pub executions: i64,
    pub time_ms: f64,
}

impl CounterRow {
    /// `(field, increment)` pairs of the window's hash.
    pub fn fields(&self) -> [(String, i64); 6] {
        let errors = if self.status == ExecStatus::Completed.as_str() {
            0
        } else {
            self.executions
        };
        [
            (EXECUTIONS.to_owned(), self.executions),
            (ERRORS.to_owned(), errors),
            (TIME_MS.to_owned(), self.time_ms.round() as i64),
            (language_field(&self.language), self.executions),
            (key_field(self.key.as_deref()), self.executions),
            (status_field(&self.status), self.executions),
        ]
    }
}

/// The fields of a window's hash: totals, then one per value of each
/// dimension (see [`decode_fields`]).
pub const EXECUTIONS: &str = "executions";
pub const ERRORS: &str = "errors";
pub const TIME_MS: &str = "time_ms";

pub fn language_field(language: &str) -> String {
    format!("lang:{language}")
}

/// `None`: executions without a key.
pub fn key_field(key: Option<&str>) -> String {
    format!("key:{}", key.unwrap_or("none"))
}

pub fn status_field(status: &str) -> String {
    format!("status:{status}")
}

/// Field values by window: what a rebuild sets the windows' hashes to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fields(HashMap<(Window, String), i64>);

impl Fields {
    pub fn add(&mut self, window: Window, field: String, value: i64) {
        *self.0.entry((window, field)).or_default() += value;
    }

    pub fn add_row(&mut self, row: &CounterRow) {
        for (field, value) in row.fields() {
            self.add(row.window, field, value);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (Window, &str, i64)> {
        self.0.iter().map(|((w, f), v)| (*w, f.as_str(), *v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Expands an update into rows for the windows still kept at `now_minute`.
pub fn rows_of(update: &CounterUpdate, now_minute: i64) -> Vec<CounterRow> {
    let mut rows = Vec::with_capacity(update.deltas.len() * 3);
    for delta in &update.deltas {
        for window in Window::containing_minute(delta.minute) {
            if window.is_kept(now_minute) {
                rows.push(CounterRow {
                    window,
                    key: delta.key.clone(),
                    language: delta.language.clone(),
                    status: delta.status.as_str().to_owned(),
                    executions: delta.executions,
                    time_ms: delta.time_ms,
                });
            }
        }
    }
    rows
}

/// Decodes a window's hash fields (see [`CounterRow::fields`]).
pub fn decode_fields(fields: impl IntoIterator<Item = (String, i64)>) -> WindowCounts {
    let mut counts = WindowCounts::default();
    for (field, value) in fields {
        match field.split_once(':') {
            Some(("lang", l)) => drop(counts.by_language.insert(l.to_owned(), value)),
            Some(("key", k)) => drop(counts.by_key.insert(k.to_owned(), value)),
            Some(("status", s)) => drop(counts.by_status.insert(s.to_owned(), value)),
            _ => match field.as_str() {
                EXECUTIONS => counts.executions = value,
                ERRORS => counts.errors = value,
                TIME_MS => counts.time_ms = value,
                _ => {}
            },
        }
    }
    counts
}

#[derive(Debug, thiserror::Error)]
pub enum CounterError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer within {0:?}")]
    Timeout(std::time::Duration),
}

/// A place to keep hot counters.
#[async_trait::async_trait]
pub trait CounterStore: Send + Sync + 'static {
    /// `"redis"` or `"in-process"`.
    fn backend(&self) -> &'static str;

    /// Adds the rows to their windows.
    async fn apply(&self, rows: &[CounterRow]) -> Result<(), CounterError>;

    /// Clears `windows` and sets them to `fields`, atomically.
    async fn replace(&self, windows: &[Window], fields: &Fields) -> Result<(), CounterError>;

    async fn read(&self, window: Window) -> Result<WindowCounts, CounterError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_nest_and_expire_in_order() {
        let now = 29_000_000; // a minute in 2025
        assert_eq!(
            Window::containing_minute(now),
            [
                Window::Minute(now),
                Window::Hour(now / 60),
                Window::Day(now / 1440)
            ]
        );
        assert!(Window::Minute(now - 59).is_kept(now));
        assert!(!Window::Minute(now - 60).is_kept(now));
        let kept = Window::all_kept(now);
        assert!(kept.iter().all(|w| w.is_kept(now)));
        assert_eq!(
            kept.iter().filter(|w| matches!(w, Window::Day(_))).count(),
            3
        );
    }

    #[test]
    fn fields_round_trip_through_window_counts() {
        let row = CounterRow {
            window: Window::Minute(1),
            key: Some("0123456789abcdef".to_owned()),
            language: "python".to_owned(),
            status: "failed".to_owned(),
            executions: 3,
            time_ms: 10.4,
        };
        let counts = decode_fields(row.fields());
        assert_eq!(counts.executions, 3);
        assert_eq!(counts.errors, 3);
        assert_eq!(counts.time_ms, 10);
        assert_eq!(counts.by_language["python"], 3);
        assert_eq!(counts.by_key["0123456789abcdef"], 3);
        assert_eq!(counts.by_status["failed"], 3);
    }
}
