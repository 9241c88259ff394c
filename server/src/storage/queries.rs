//! Read queries: aggregates over a time range, grouped by a few dimensions,
//! read from the cheapest source that is exact: daily rollups for whole UTC
//! days, hourly rollups for whole hours, raw rows only for the sub-hour
//! edges. The query layer (`crate::query`) decides the pieces; this module
//! turns each piece into SQL and merges the results.

use std::collections::HashMap;

use sqlx::{Row, sqlite::SqliteRow};

use super::{
    Storage,
    day_cache::{CachedRow, Day},
    sql::{Merge, Sql},
};

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// Closed hours served through the cache.
const HOURS_CACHED: i64 = 8 * 24;

/// The rollup table a cached bucket comes from: the cache's key.
fn cache_table(fact: &Fact, source: Source) -> &'static str {
    match (fact.rollup_prefix, source) {
        ("execution_rollup_", Source::Hourly) => "execution_rollup_hourly",
        ("request_rollup_", Source::Hourly) => "request_rollup_hourly",
        ("pool_rollup_", Source::Hourly) => "pool_rollup_hourly",
        ("execution_rollup_", _) => "execution_rollup_daily",
        ("request_rollup_", _) => "request_rollup_daily",
        _ => "pool_rollup_daily",
    }
}
use crate::histogram::{self, Counts};

/// Where a piece of a range is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Raw,
    Hourly,
    Daily,
    /// All-time totals (one bucket, 0): use `from_ms = 0, to_ms = 1000`.
    Total,
}

/// `[from_ms, to_ms)` read from `source`. Rollup pieces are bucket-aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub source: Source,
    pub from_ms: i64,
    pub to_ms: i64,
}

/// A grouping dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    /// Bucket start, Unix seconds: the rollup's own bucket, or for raw rows
    /// the start of their hour (minute with [`Aggregate::raw_minutes`]).
    Bucket,
    Key,
    Language,
    Status,
    ContainerSource,
    Endpoint,
    Method,
    StatusClass,
    PoolKind,
}

/// One measure of a fact table.
struct Measure {
    /// Rollup column, also the name results are read by.
    column: &'static str,
    merge: Merge,
    /// The same aggregate over raw rows.
    raw: &'static str,
}

/// A kind of event: its raw table, rollup tables and measures.
pub struct Fact {
    /// The rollup's key dimensions besides the bucket, in column order.
    dims: &'static [Dim],
    raw_table: &'static str,
    /// Raw timestamp column (Unix ms).
    raw_time: &'static str,
    rollup_prefix: &'static str,
    /// The raw value the latency histogram counts.
    hist_value: Option<&'static str>,
    measures: &'static [Measure],
    has_key: bool,
    has_language: bool,
}

pub const EXECUTIONS: Fact = Fact {
    dims: &[Dim::Key, Dim::Language, Dim::Status, Dim::ContainerSource],
    raw_table: "executions",
    raw_time: "created_at",
    rollup_prefix: "execution_rollup_",
    hist_value: Some("execution_time_ms"),
    measures: &[
        Measure {
            column: "executions",
            merge: Merge::Sum,
            raw: "COUNT(*)",
        },
        Measure {
            column: "sum_time_ms",
            merge: Merge::Sum,
            raw: "SUM(execution_time_ms)",
        },
        Measure {
            column: "max_time_ms",
            merge: Merge::Max,
            raw: "MAX(execution_time_ms)",
        },
        Measure {
            column: "sum_cpu_ms",
            merge: Merge::Sum,
            raw: "SUM(cpu_time_ms)",
        },
        Measure {
            column: "sum_memory_mb",
            merge: Merge::Sum,
            raw: "SUM(memory_peak_mb)",
        },
        Measure {
            column: "max_memory_mb",
            merge: Merge::Max,
            raw: "MAX(memory_peak_mb)",
        },
        Measure {
            column: "sum_memory_mb_s",
            merge: Merge::Sum,
            raw: "SUM(memory_peak_mb * execution_time_ms / 1000.0)",
        },
        Measure {
            column: "sum_files_uploaded",
            merge: Merge::Sum,
            raw: "SUM(files_uploaded)",
        },
        Measure {
            column: "sum_files_generated",
            merge: Merge::Sum,
            raw: "SUM(files_generated)",
        },
        Measure {
            column: "sum_output_bytes",
            merge: Merge::Sum,
            raw: "SUM(output_size_bytes)",
        },
        Measure {
            column: "sum_state_bytes",
            merge: Merge::Sum,
            raw: "SUM(state_size_bytes)",
        },
        Measure {
            column: "sum_queue_wait_ms",
            merge: Merge::Sum,
            raw: "SUM(queue_wait_ms)",
        },
        Measure {
            column: "max_queue_wait_ms",
            merge: Merge::Max,
            raw: "MAX(queue_wait_ms)",
        },
        Measure {
            column: "repl_executions",
            merge: Merge::Sum,
            raw: "SUM(repl_mode)",
        },
    ],
    has_key: true,
    has_language: true,
};

pub const REQUESTS: Fact = Fact {
    dims: &[Dim::Endpoint, Dim::Method, Dim::StatusClass, Dim::Key],
    raw_table: "api_requests",
    raw_time: "ts",
    rollup_prefix: "request_rollup_",
    hist_value: Some("duration_ms"),
    measures: &[
        Measure {
            column: "requests",
            merge: Merge::Sum,
            raw: "COUNT(*)",
        },
        Measure {
            column: "cache_hits",
            merge: Merge::Sum,
            raw: "SUM(cache_hit)",
        },
        Measure {
            column: "with_error",
            merge: Merge::Sum,
            raw: "SUM(error IS NOT NULL)",
        },
        Measure {
            column: "sum_duration_ms",
            merge: Merge::Sum,
            raw: "SUM(duration_ms)",
        },
        Measure {
            column: "max_duration_ms",
            merge: Merge::Max,
            raw: "MAX(duration_ms)",
        },
    ],
    has_key: true,
    has_language: false,
};

pub const POOL: Fact = Fact {
    dims: &[Dim::Language, Dim::PoolKind],
    raw_table: "pool_events",
    raw_time: "ts",
    rollup_prefix: "pool_rollup_",
    hist_value: None,
    measures: &[
        Measure {
            column: "events",
            merge: Merge::Sum,
            raw: "COUNT(*)",
        },
        Measure {
            column: "sum_acquire_ms",
            merge: Merge::Sum,
            raw: "SUM(acquire_time_ms)",
        },
        Measure {
            column: "max_acquire_ms",
            merge: Merge::Max,
            raw: "MAX(acquire_time_ms)",
        },
    ],
    has_key: false,
    has_language: true,
};

impl Dim {
    fn column(self) -> &'static str {
        match self {
            Self::Bucket => "bucket",
            Self::Key => "key_id",
            Self::Language => "language",
            Self::Status => "status",
            Self::ContainerSource => "container_source",
            Self::Endpoint => "endpoint",
            Self::Method => "method",
            Self::StatusClass => "status_class",
            Self::PoolKind => "kind",
        }
    }

    fn raw_expr(self, fact: &Fact, bucket_secs: i64) -> String {
        match self {
            Self::Bucket => format!(
                "({} / {}) * {bucket_secs}",
                fact.raw_time,
                bucket_secs * 1000
            ),
            Self::StatusClass => "status_code / 100".to_owned(),
            other => other.column().to_owned(),
        }
    }

    fn is_text(self) -> bool {
        !matches!(self, Self::Bucket | Self::Key | Self::StatusClass)
    }
}

/// A value of a dimension.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DimValue {
    Int(i64),
    Text(String),
}

impl DimValue {
    pub fn int(&self) -> i64 {
        match self {
            Self::Int(v) => *v,
            Self::Text(_) => 0,
        }
    }

    pub fn text(&self) -> &str {
        match self {
            Self::Text(v) => v,
            Self::Int(_) => "",
        }
    }
}

/// One group of an aggregate: its dimension values, its measures (in the
/// fact's order) and, if asked for, its latency histogram.
#[derive(Clone, Debug)]
pub struct Group {
    pub dims: Vec<DimValue>,
    pub values: Vec<f64>,
    pub hist: Option<Box<Counts>>,
}

impl Group {
    /// A measure by its column name.
    pub fn get(&self, fact: &Fact, column: &str) -> f64 {
        fact.measures
            .iter()
            .position(|m| m.column == column)
            .map_or(0.0, |i| self.values[i])
    }
}

/// What to aggregate.
pub struct Aggregate<'a> {
    pub fact: &'a Fact,
    pub pieces: &'a [Piece],
    pub group_by: &'a [Dim],
    /// Restrict to these key ids (`None`: all; empty: none).
    pub key_ids: Option<&'a [i64]>,
    pub languages: Option<&'a [String]>,
    pub with_hist: bool,
    /// Group raw rows by minute instead of hour under [`Dim::Bucket`].
    pub raw_minutes: bool,
}

impl Storage {
    /// Runs the aggregate over every piece and merges the groups.
    pub async fn aggregate(&self, query: &Aggregate<'_>) -> Result<Vec<Group>, sqlx::Error> {
        if query.fact.has_key && query.key_ids.is_some_and(<[i64]>::is_empty) {
            return Ok(Vec::new());
        }
        let mut merged: HashMap<Vec<DimValue>, Group> = HashMap::new();
        let now_ms = crate::clock::now_ms();
        let today_ms = now_ms.div_euclid(DAY_MS) * DAY_MS;
        let this_hour_ms = now_ms.div_euclid(HOUR_MS) * HOUR_MS;
        let mut sql_pieces: Vec<Piece> = Vec::with_capacity(query.pieces.len());
        for piece in query.pieces {
            // Closed buckets come through the in-memory cache: every closed
            // day, and the hours of the last eight days (a week of hourly
            // buckets in any zone). Older hours are summed in one SQL query:
            // one query per hour would cost more than it saves whenever the
            // budget cannot hold them all.
            let (width, cached_from, cached_to) = match piece.source {
                Source::Daily => (DAY_MS, i64::MIN, today_ms),
                Source::Hourly => (HOUR_MS, this_hour_ms - HOURS_CACHED * HOUR_MS, this_hour_ms),
                _ => (0, 0, 0),
            };
            let from = piece.from_ms.max(cached_from);
            let to = piece.to_ms.min(cached_to);
            let fits = width > 0
                && from < to
                && self.days.would_fit(
                    cache_table(query.fact, piece.source),
                    usize::try_from((to - from) / width).unwrap_or(usize::MAX),
                );
            if !fits {
                sql_pieces.push(*piece);
                continue;
            }
            if piece.from_ms < from {
                sql_pieces.push(Piece {
                    to_ms: from,
                    ..*piece
                });
            }
            let mut bucket = from;
            while bucket < to {
                let rows = self
                    .closed_bucket(query.fact, piece.source, bucket / 1000)
                    .await?;
                add_cached(query, &rows, bucket / 1000, &mut merged);
                bucket += width;
            }
            if to < piece.to_ms {
                sql_pieces.push(Piece {
                    from_ms: to,
                    ..*piece
                });
            }
        }
        for piece in &sql_pieces {
            if piece.from_ms >= piece.to_ms {
                continue;
            }
            let (sql, from, to) = piece_sql(query, piece);
            let mut q = sqlx::query(sql).bind(from).bind(to);
            if query.fact.has_key
                && let Some(ids) = query.key_ids
            {
                for id in ids {
                    q = q.bind(*id);
                }
            }
            if query.fact.has_language
                && let Some(languages) = query.languages
            {
                for language in languages {
                    q = q.bind(language.as_str());
                }
            }
            for row in q.fetch_all(&self.pool).await? {
                let group = read_group(query, &row, piece.source)?;
                match merged.get_mut(&group.dims) {
                    Some(existing) => merge_into(query.fact, existing, &group),
                    None => {
                        merged.insert(group.dims.clone(), group);
                    }
                }
            }
        }
        // Sorted by dimension values, so every output is deterministic.
        let mut groups: Vec<Group> = merged.into_values().collect();
        groups.sort_by(|a, b| a.dims.cmp(&b.dims));
        Ok(groups)
    }

    /// The rollup rows of one closed bucket, from the cache or SQL.
    async fn closed_bucket(
        &self,
        fact: &Fact,
        source: Source,
        bucket: i64,
    ) -> Result<Day, sqlx::Error> {
        let table = cache_table(fact, source);
        if let Some(rows) = self.days.get(table, bucket) {
            return Ok(rows);
        }
        let generation = self.days.generation(table, bucket);
        let whole = Aggregate {
            fact,
            pieces: &[],
            group_by: fact.dims,
            key_ids: None,
            languages: None,
            with_hist: true,
            raw_minutes: false,
        };
        let piece = Piece {
            source,
            from_ms: bucket * 1000,
            to_ms: (bucket + 1) * 1000,
        };
        let (sql, from, to) = piece_sql(&whole, &piece);
        let rows: Vec<CachedRow> = sqlx::query(sql)
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                let group = read_group(&whole, row, source)?;
                let hist = group
                    .hist
                    .map(|h| {
                        h.iter()
                            .enumerate()
                            .filter(|(_, n)| **n > 0)
                            .map(|(bin, n)| (bin as u8, *n))
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(CachedRow {
                    dims: group.dims,
                    values: group.values,
                    hist,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        let rows: Day = std::sync::Arc::new(rows);
        self.days.insert(table, bucket, generation, rows.clone());
        Ok(rows)
    }

    /// Tells the cache that a commit changed these rollup buckets
    /// (rollup table, bucket start).
    pub(super) fn rollups_changed(&self, changed: impl IntoIterator<Item = (&'static str, i64)>) {
        for (table, bucket) in changed {
            self.days.invalidate(table, bucket);
        }
    }

    pub(super) fn daily_rollups_removed_before(&self, day: i64) {
        self.days.invalidate_before(day);
    }
}

/// Adds a cached day's rows that pass the filters to the groups.
fn add_cached(
    query: &Aggregate<'_>,
    rows: &[CachedRow],
    day: i64,
    merged: &mut HashMap<Vec<DimValue>, Group>,
) {
    let fact = query.fact;
    let position = |dim: Dim| fact.dims.iter().position(|d| *d == dim);
    let key_at = position(Dim::Key);
    let language_at = position(Dim::Language);
    let with_hist = query.with_hist && fact.hist_value.is_some();
    let projection: Vec<(Dim, Option<usize>)> =
        query.group_by.iter().map(|d| (*d, position(*d))).collect();
    let mut key: Vec<DimValue> = vec![DimValue::Int(0); projection.len()];
    for row in rows {
        if let (Some(ids), Some(i)) = (query.key_ids, key_at)
            && !ids.contains(&row.dims[i].int())
        {
            continue;
        }
        if let (Some(languages), Some(i)) = (query.languages, language_at)
            && !languages.iter().any(|l| l == row.dims[i].text())
        {
            continue;
        }
        // The group's key, built in a reused buffer: no allocation per row
        // unless the group is new.
        for (slot, (dim, at)) in key.iter_mut().zip(&projection) {
            match at {
                Some(i) => slot.clone_from(&row.dims[*i]),
                None if *dim == Dim::Bucket => *slot = DimValue::Int(day),
                None => *slot = DimValue::Int(0),
            }
        }
        if !merged.contains_key(key.as_slice()) {
            let values = fact
                .measures
                .iter()
                .map(|m| match m.merge {
                    Merge::Sum => 0.0,
                    Merge::Max => f64::MIN,
                })
                .collect();
            let hist = with_hist.then(|| Box::new([0; histogram::BINS]));
            merged.insert(
                key.clone(),
                Group {
                    dims: key.clone(),
                    values,
                    hist,
                },
            );
        }
        let Some(group) = merged.get_mut(key.as_slice()) else {
            continue;
        };
        for (i, measure) in fact.measures.iter().enumerate() {
            group.values[i] = match measure.merge {
                Merge::Sum => group.values[i] + row.values[i],
                Merge::Max => group.values[i].max(row.values[i]),
            };
        }
        if let Some(hist) = group.hist.as_mut() {
            for (bin, n) in &row.hist {
                hist[*bin as usize] += n;
            }
        }
    }
}

fn merge_into(fact: &Fact, into: &mut Group, from: &Group) {
    for (i, measure) in fact.measures.iter().enumerate() {
        into.values[i] = match measure.merge {
            Merge::Sum => into.values[i] + from.values[i],
            Merge::Max => into.values[i].max(from.values[i]),
        };
    }
    if let (Some(a), Some(b)) = (into.hist.as_mut(), from.hist.as_ref()) {
        for (x, y) in a.iter_mut().zip(b.iter()) {
            *x += y;
        }
    }
}

fn read_group(
    query: &Aggregate<'_>,
    row: &SqliteRow,
    source: Source,
) -> Result<Group, sqlx::Error> {
    let mut column = 0;
    let mut dims = Vec::with_capacity(query.group_by.len());
    for dim in query.group_by {
        dims.push(if dim.is_text() {
            DimValue::Text(
                row.try_get::<Option<String>, _>(column)?
                    .unwrap_or_default(),
            )
        } else {
            DimValue::Int(row.try_get::<Option<i64>, _>(column)?.unwrap_or_default())
        });
        column += 1;
    }
    let mut values = Vec::with_capacity(query.fact.measures.len());
    for _ in query.fact.measures {
        values.push(number(row, column)?);
        column += 1;
    }
    let with_hist = query.with_hist && query.fact.hist_value.is_some();
    let hist = if with_hist && source == Source::Raw {
        // Raw rows come as (bin, count) per group.
        let mut counts = Box::new([0u64; histogram::BINS]);
        let bin = row
            .try_get::<Option<i64>, _>(column)?
            .unwrap_or(0)
            .clamp(0, histogram::BINS as i64 - 1);
        let count = row
            .try_get::<Option<i64>, _>(column + 1)?
            .unwrap_or(0)
            .max(0);
        counts[bin as usize] = count.unsigned_abs();
        Some(counts)
    } else if with_hist {
        let mut counts = Box::new([0u64; histogram::BINS]);
        for slot in counts.iter_mut() {
            *slot = row
                .try_get::<Option<i64>, _>(column)?
                .unwrap_or(0)
                .max(0)
                .unsigned_abs();
            column += 1;
        }
        Some(counts)
    } else {
        None
    };
    Ok(Group { dims, values, hist })
}

/// A numeric column, stored as INTEGER or REAL; NULL (no rows) is 0.
fn number(row: &SqliteRow, column: usize) -> Result<f64, sqlx::Error> {
    match row.try_get::<Option<f64>, _>(column) {
        Ok(value) => Ok(value.unwrap_or(0.0)),
        Err(_) => Ok(row
            .try_get::<Option<i64>, _>(column)?
            .map_or(0.0, |v| v as f64)),
    }
}

/// The SQL of one piece, and its bound time range (ms for raw rows,
/// seconds for rollups). Built only from the fixed names above.
fn piece_sql(query: &Aggregate<'_>, piece: &Piece) -> (Sql, i64, i64) {
    let fact = query.fact;
    let with_hist = query.with_hist && fact.hist_value.is_some();
    let bucket_secs = if query.raw_minutes { 60 } else { 3600 };
    let mut select: Vec<String> = Vec::new();
    // Parameters are numbered explicitly: sqlx counts bare `?` separately
    // from `?NNN`, so mixing them would bind the wrong values.
    let mut next_param = 3;
    let mut placeholders = |n: usize| {
        let list: Vec<String> = (next_param..next_param + n)
            .map(|i| format!("?{i}"))
            .collect();
        next_param += n;
        list.join(",")
    };
    let mut filters: Vec<String> = Vec::new();
    if fact.has_key
        && let Some(ids) = query.key_ids
    {
        filters.push(format!("key_id IN ({})", placeholders(ids.len())));
    }
    if fact.has_language
        && let Some(languages) = query.languages
    {
        filters.push(format!("language IN ({})", placeholders(languages.len())));
    }
    let filter_sql: String = filters.iter().map(|f| format!(" AND {f}")).collect();
    let group_sql = if query.group_by.is_empty() {
        String::new()
    } else {
        format!(
            " GROUP BY {}",
            (1..=query.group_by.len())
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };

    let (sql, from, to) = match piece.source {
        Source::Raw => {
            select.extend(query.group_by.iter().map(|d| d.raw_expr(fact, bucket_secs)));
            select.extend(fact.measures.iter().map(|m| m.raw.to_owned()));
            let inner = if with_hist {
                // One row per (group, histogram bin): summing a column per bin
                // for every row would cost a hundred aggregates per row.
                select.push("b".to_owned());
                select.push("COUNT(*)".to_owned());
                format!(
                    "(SELECT *, (SELECT bin FROM histogram_bins WHERE lower_ms <= {v} ORDER BY lower_ms DESC LIMIT 1) AS b
                      FROM {t} WHERE {time} >= ?1 AND {time} < ?2{filter_sql})",
                    v = fact.hist_value.unwrap_or("0"),
                    t = fact.raw_table,
                    time = fact.raw_time,
                )
            } else {
                format!(
                    "(SELECT * FROM {t} WHERE {time} >= ?1 AND {time} < ?2{filter_sql})",
                    t = fact.raw_table,
                    time = fact.raw_time,
                )
            };
            let group_sql = if with_hist {
                let bin_column = query.group_by.len() + fact.measures.len() + 1;
                let mut columns: Vec<String> =
                    (1..=query.group_by.len()).map(|i| i.to_string()).collect();
                columns.push(bin_column.to_string());
                format!(" GROUP BY {}", columns.join(", "))
            } else {
                group_sql
            };
            (
                format!("SELECT {} FROM {inner}{group_sql}", select.join(", ")),
                piece.from_ms,
                piece.to_ms,
            )
        }
        Source::Hourly | Source::Daily | Source::Total => {
            let suffix = match piece.source {
                Source::Hourly => "hourly",
                Source::Daily => "daily",
                _ => "total",
            };
            let table = format!("{}{suffix}", fact.rollup_prefix);
            select.extend(query.group_by.iter().map(|d| d.column().to_owned()));
            select.extend(fact.measures.iter().map(|m| match m.merge {
                Merge::Sum => format!("SUM({})", m.column),
                Merge::Max => format!("MAX({})", m.column),
            }));
            if with_hist {
                select.extend(histogram::column_names().map(|h| format!("SUM({h})")));
            }
            (
                format!(
                    "SELECT {} FROM {table} WHERE bucket >= ?1 AND bucket < ?2{filter_sql}{group_sql}",
                    select.join(", ")
                ),
                piece.from_ms.div_euclid(1000),
                piece.to_ms.div_euclid(1000),
            )
        }
    };
    (sqlx::AssertSqlSafe(sql.into()), from, to)
}
