//! Reading rollup rows: from the bucket cache for closed buckets, from SQL
//! for open ones and for the rows of a few keys (which key-first rollups
//! keep together).

use std::{collections::HashSet, sync::Arc};

use futures_util::{TryStreamExt, future::try_join_all};
use sqlx::{Row, sqlite::SqliteRow};

use super::{
    Storage,
    bucket_cache::{Blobs, BucketRows},
    facts::{ColumnType, Dim, DimValues, FactDecl, MAX_DIMS, RollupDecl},
    sql::{Sql, interned},
};
use crate::{histogram::Histogram, model::Granularity};

/// Key filters up to this many keys read a key-first rollup by its primary
/// key; longer lists go through the cache.
const KEY_LOOKUP_MAX: usize = 64;

/// Spans covering less than one bucket in this many of their range are read
/// by a list of buckets rather than the whole range.
const SPARSE_SPANS: i64 = 4;

/// Rows whose value of `dim` is one of `values`.
#[derive(Clone, Debug)]
pub struct DimFilter {
    pub dim: Dim,
    pub values: HashSet<i64>,
}

/// What to read from a rollup.
#[derive(Clone, Copy, Debug)]
pub struct RollupRead<'a> {
    pub fact: &'static FactDecl,
    pub rollup: &'static RollupDecl,
    pub grain: Granularity,
    /// Buckets starting in these `[from, to)` spans, Unix seconds: sorted,
    /// apart, aligned to the grain.
    pub spans: &'a [(i64, i64)],
    pub filters: &'a [DimFilter],
    /// Measures to read (indices); the others read as their identity.
    pub measures: &'a [usize],
    pub hist: bool,
    pub now_ms: i64,
}

/// One row as read: its bucket start (Unix ms), its dimensions in the
/// order the read names them, and accessors for its measures and histogram.
pub struct RowRef<'a> {
    pub bucket_ms: i64,
    pub dims: &'a DimValues,
    pub(super) values: Values<'a>,
    pub(super) hist: Hist<'a>,
}

/// A row's histogram: as stored, or decoded.
#[derive(Clone, Copy, Debug)]
pub(super) enum Hist<'a> {
    None,
    Encoded(&'a [u8]),
    Decoded(&'a Histogram),
}

pub(super) enum Values<'a> {
    Columns(&'a [Option<Vec<f64>>], usize),
    Row(&'a [f64]),
}

impl RowRef<'_> {
    /// A measure; `None` when it was not read.
    pub fn value(&self, measure: usize) -> Option<f64> {
        match self.values {
            Values::Columns(columns, i) => columns.get(measure)?.as_ref().map(|c| c[i]),
            Values::Row(values) => values.get(measure).copied().filter(|v| !v.is_nan()),
        }
    }

    /// Adds the row's histogram (if read) to `into`.
    pub fn merge_hist_into(&self, into: &mut Histogram) {
        match self.hist {
            Hist::None => {}
            Hist::Encoded(bytes) => {
                // Blobs were checked when they were read.
                into.merge_encoded(bytes);
            }
            Hist::Decoded(h) => into.merge(h),
        }
    }
}

pub(super) fn passes(filters: &[DimFilter], layout: &[Dim], dims: &DimValues) -> bool {
    filters.iter().all(|f| {
        layout
            .iter()
            .position(|d| *d == f.dim)
            .is_none_or(|i| f.values.contains(&dims[i]))
    })
}

impl Storage {
    /// Calls `visit` for every row of `read` that passes its filters.
    pub async fn read_rollup(
        &self,
        read: &RollupRead<'_>,
        mut visit: impl FnMut(RowRef<'_>),
    ) -> Result<(), sqlx::Error> {
        let (Some(first), Some(last)) = (read.spans.first(), read.spans.last()) else {
            return Ok(());
        };
        let few_keys = read.rollup.key_first
            && read
                .filters
                .iter()
                .any(|f| f.dim == Dim::Key && f.values.len() <= KEY_LOOKUP_MAX);
        let Some(width) = read.grain.seconds().filter(|_| !few_keys) else {
            // The rows of a few keys (through the key index), or all time:
            // one query over the whole span.
            return self.read_sql(read, first.0, last.1, &mut visit).await;
        };
        // Closed buckets from the cache, the open ones (and what does not
        // fit the cache) from SQL.
        let open_from = read.now_ms.div_euclid(1000).div_euclid(width) * width;
        let closed: Vec<i64> = read
            .spans
            .iter()
            .flat_map(|&(from, to)| (from..to.min(open_from)).step_by(width as usize))
            .collect();
        let table = read.rollup.table;
        if !self.cache.would_fit(table, read.grain, closed.len()) {
            tracing::debug!(table, grain = ?read.grain, buckets = closed.len(), "Rollup read from SQL: the range would not fit the cache.");
            return self.read_sql(read, first.0, last.1, &mut visit).await;
        }
        let mut cached: Vec<(i64, Arc<BucketRows>)> = Vec::with_capacity(closed.len());
        let mut missing: Vec<i64> = Vec::new();
        for &bucket in &closed {
            match self.cache.get(&(table, read.grain, bucket)) {
                Some(rows) if rows.has(read.measures, read.hist) => cached.push((bucket, rows)),
                _ => missing.push(bucket),
            }
        }
        tracing::debug!(table, grain = ?read.grain, cached = cached.len(), missing = missing.len(), "Rollup read.");
        // A cold range is loaded in a few parts at once, each on its own
        // connection: decoding rows (sqlx's worker thread and this task) is
        // the cost, and SQLite readers do not block each other.
        let parts = runs(&missing, width, load_part_len(missing.len()));
        for loaded in
            try_join_all(parts.iter().map(|&(from, to)| self.load(read, from, to))).await?
        {
            cached.extend(loaded);
        }
        for (bucket, rows) in &cached {
            for (i, dims) in rows.dims.iter().enumerate() {
                if passes(read.filters, read.rollup.dims, dims) {
                    visit(RowRef {
                        bucket_ms: *bucket * 1000,
                        dims,
                        values: Values::Columns(&rows.columns, i),
                        hist: rows
                            .hist
                            .as_ref()
                            .map_or(Hist::None, |h| Hist::Encoded(h.get(i))),
                    });
                }
            }
        }
        if last.1 > open_from {
            self.read_sql(read, open_from.max(first.0), last.1, &mut visit)
                .await?;
        }
        Ok(())
    }

    /// Loads buckets `[from, to)` of `read` into the cache, with the
    /// measures asked for and those already held.
    async fn load(
        &self,
        read: &RollupRead<'_>,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, Arc<BucketRows>)>, sqlx::Error> {
        let table = read.rollup.table;
        let width = read.grain.seconds().unwrap_or(1);
        let mut measures: Vec<usize> = read.measures.to_vec();
        let mut hist = read.hist;
        let mut generations = Vec::new();
        let mut bucket = from;
        while bucket < to {
            let key = (table, read.grain, bucket);
            if let Some(held) = self.cache.get(&key) {
                measures.extend(
                    held.columns
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| c.is_some())
                        .map(|(i, _)| i),
                );
                hist |= held.hist.is_some();
            }
            generations.push((bucket, self.cache.generation(&key)));
            bucket += width;
        }
        measures.sort_unstable();
        measures.dedup();
        let n = read.fact.measures.len();
        let mut loaded: Vec<BucketRows> = (0..generations.len())
            .map(|_| BucketRows {
                dims: Vec::new(),
                columns: (0..n)
                    .map(|m| measures.contains(&m).then(Vec::new))
                    .collect(),
                hist: hist.then(Blobs::default),
            })
            .collect();
        let sql = select_sql(read.fact, read.rollup, &measures, hist, false, &[]);
        // Streamed: a cold range of many buckets never sits in memory twice.
        let mut rows = sqlx::query(sql)
            .bind(read.grain.code())
            .bind(from)
            .bind(to)
            .fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let (bucket, dims, values, h) = decode(read.fact, read.rollup, &measures, hist, &row)?;
            let Some(slot) = loaded.get_mut(((bucket - from) / width) as usize) else {
                continue;
            };
            slot.dims.push(dims);
            for (m, value) in measures.iter().zip(values) {
                if let Some(Some(column)) = slot.columns.get_mut(*m) {
                    column.push(value);
                }
            }
            if let (Some(all), Some(h)) = (slot.hist.as_mut(), h) {
                all.push(h);
            }
        }
        drop(rows);
        Ok(generations
            .into_iter()
            .zip(loaded)
            .map(|((bucket, generation), mut rows)| {
                rows.shrink_to_fit();
                let rows = Arc::new(rows);
                self.cache
                    .insert((table, read.grain, bucket), generation, Arc::clone(&rows));
                (bucket, rows)
            })
            .collect())
    }

    /// Reads buckets `[from, to)` of `read` straight from SQL.
    async fn read_sql(
        &self,
        read: &RollupRead<'_>,
        from: i64,
        to: i64,
        visit: &mut impl FnMut(RowRef<'_>),
    ) -> Result<(), sqlx::Error> {
        if from >= to {
            return Ok(());
        }
        let lists: Vec<(Dim, Vec<i64>)> = read
            .filters
            .iter()
            .filter(|f| read.rollup.dims.contains(&f.dim))
            .map(|f| (f.dim, f.values.iter().copied().collect()))
            .collect();
        if lists.iter().any(|(_, v)| v.is_empty()) {
            return Ok(());
        }
        let shape: Vec<(Dim, usize)> = lists.iter().map(|(d, v)| (*d, v.len())).collect();
        let listed = read
            .grain
            .seconds()
            .and_then(|width| sparse_buckets(read.spans, from, to, width));
        let sql = select_sql(
            read.fact,
            read.rollup,
            read.measures,
            read.hist,
            listed.is_some(),
            &shape,
        );
        let mut query = sqlx::query(sql).bind(read.grain.code());
        query = match listed {
            Some(starts) => query.bind(starts),
            None => query.bind(from).bind(to),
        };
        for (_, values) in &lists {
            for v in values {
                query = query.bind(*v);
            }
        }
        let n = read.fact.measures.len();
        let mut values = vec![f64::NAN; n];
        let mut rows = query.fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let (bucket, dims, read_values, hist) =
                decode(read.fact, read.rollup, read.measures, read.hist, &row)?;
            let span = read.spans.partition_point(|(from, _)| *from <= bucket);
            if span == 0 || bucket >= read.spans[span - 1].1 {
                continue; // between the spans asked for
            }
            for (m, v) in read.measures.iter().zip(read_values) {
                values[*m] = v;
            }
            visit(RowRef {
                bucket_ms: bucket * 1000,
                dims: &dims,
                values: Values::Row(&values),
                hist: hist.map_or(Hist::None, Hist::Encoded),
            });
        }
        Ok(())
    }
}

/// The bucket starts of `spans` within `[from, to)` as a JSON array, when
/// they are a small part of that range (a zone's quarter hours at the edges
/// of its days): such spans are read bucket by bucket, not as one range.
fn sparse_buckets(spans: &[(i64, i64)], from: i64, to: i64, width: i64) -> Option<String> {
    let inside: Vec<(i64, i64)> = spans
        .iter()
        .filter(|(a, b)| *b > from && *a < to)
        .map(|&(a, b)| (a.max(from), b.min(to)))
        .collect();
    let wanted: i64 = inside.iter().map(|(a, b)| (b - a) / width).sum();
    if inside.len() < 2 || wanted * SPARSE_SPANS >= (to - from) / width {
        return None;
    }
    let starts: Vec<String> = inside
        .iter()
        .flat_map(|&(a, b)| (a..b).step_by(width as usize))
        .map(|b| b.to_string())
        .collect();
    Some(format!("[{}]", starts.join(",")))
}

/// Buckets loaded at most in one part: a cold range of many buckets is split
/// in as many parts as the machine has cores (at most [`LOAD_PARTS`]); a few
/// missing buckets are one part.
fn load_part_len(missing: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let parts = cores.clamp(1, LOAD_PARTS);
    missing.div_ceil(parts).max(MIN_LOAD_PART)
}

/// Parts of a cold range loaded at once at most (the read pool has 8 connections).
const LOAD_PARTS: usize = 4;

/// Fewer buckets than this are not worth a part of their own.
const MIN_LOAD_PART: usize = 16;

/// Contiguous runs `[from, to)` of bucket starts `width` apart, each of at
/// most `max_len` buckets.
fn runs(buckets: &[i64], width: i64, max_len: usize) -> Vec<(i64, i64)> {
    let longest = width.saturating_mul(i64::try_from(max_len.max(1)).unwrap_or(i64::MAX));
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for &b in buckets {
        match runs.last_mut() {
            Some(run) if run.1 == b && run.1 - run.0 < longest => run.1 = b + width,
            _ => runs.push((b, b + width)),
        }
    }
    runs
}

/// `SELECT bucket, dims.., measures.., [hist] FROM table WHERE grain = ?1
/// AND (bucket >= ?2 AND bucket < ?3 | bucket IN (a JSON array ?2))
/// [AND dim IN (..)]..`
fn select_sql(
    fact: &FactDecl,
    rollup: &RollupDecl,
    measures: &[usize],
    hist: bool,
    listed: bool,
    lists: &[(Dim, usize)],
) -> Sql {
    let key = format!(
        "rollup-select:{}:{measures:?}:{hist}:{listed}:{lists:?}",
        rollup.table
    );
    interned(key, || {
        let mut columns = vec!["bucket".to_owned()];
        columns.extend(rollup.dims.iter().map(|d| d.column().to_owned()));
        columns.extend(measures.iter().map(|m| fact.measures[*m].column.to_owned()));
        if hist && fact.has_hist {
            columns.push("hist".to_owned());
        }
        let buckets = if listed {
            "bucket IN (SELECT value FROM json_each(?))"
        } else {
            "bucket >= ? AND bucket < ?"
        };
        let filters: String = lists
            .iter()
            .map(|(dim, n)| format!(" AND {} IN ({})", dim.column(), vec!["?"; *n].join(",")))
            .collect();
        // Whole buckets of a key-first rollup: through its bucket index; a
        // key filter reads the primary key itself (which SQLite, given a
        // list of buckets, would otherwise trade for the bucket index).
        let index = match rollup.bucket_index_name() {
            Some(_) if lists.iter().any(|(d, _)| *d == Dim::Key) => " NOT INDEXED".to_owned(),
            Some(name) => format!(" INDEXED BY {name}"),
            None => String::new(),
        };
        format!(
            "SELECT {} FROM {}{index} WHERE grain = ? AND {buckets}{filters}",
            columns.join(", "),
            rollup.table
        )
    })
}

type Decoded<'r> = (i64, DimValues, Vec<f64>, Option<&'r [u8]>);

fn decode<'r>(
    fact: &FactDecl,
    rollup: &RollupDecl,
    measures: &[usize],
    hist: bool,
    row: &'r SqliteRow,
) -> Result<Decoded<'r>, sqlx::Error> {
    let bucket: i64 = row.try_get(0)?;
    let mut dims = [0; MAX_DIMS];
    for (i, slot) in dims.iter_mut().enumerate().take(rollup.dims.len()) {
        *slot = row.try_get(1 + i)?;
    }
    let at = 1 + rollup.dims.len();
    let mut values = Vec::with_capacity(measures.len());
    for (i, m) in measures.iter().enumerate() {
        values.push(match fact.measures[*m].kind {
            ColumnType::Int => row.try_get::<i64, _>(at + i)? as f64,
            _ => row.try_get::<f64, _>(at + i)?,
        });
    }
    let hist = if hist && fact.has_hist {
        let blob: &[u8] = row.try_get(at + measures.len())?;
        if !Histogram::is_encoding(blob) {
            return Err(sqlx::Error::Decode(
                format!("{}: a histogram blob is corrupt", rollup.table).into(),
            ));
        }
        Some(blob)
    } else {
        None
    };
    Ok((bucket, dims, values, hist))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_buckets_are_loaded_in_runs() {
        assert_eq!(runs(&[0, 10, 20, 40, 50], 10, 100), vec![(0, 30), (40, 60)]);
        assert!(runs(&[], 10, 100).is_empty());
        // A long run is cut into parts of at most `max_len` buckets.
        assert_eq!(
            runs(&[0, 10, 20, 30, 40, 60], 10, 2),
            vec![(0, 20), (20, 40), (40, 50), (60, 70)]
        );
    }

    #[test]
    fn a_cold_range_is_split_only_when_long() {
        assert_eq!(load_part_len(3), MIN_LOAD_PART);
        let long = 10_000;
        let len = load_part_len(long);
        assert!(len >= long / LOAD_PARTS && len <= long, "{len}");
    }

    #[test]
    fn sparse_spans_are_listed_bucket_by_bucket() {
        // Two quarter hours at each edge of a day of 96: listed.
        let edges = [(0, 1800), (86_400, 88_200)];
        assert_eq!(
            sparse_buckets(&edges, 0, 90_000, 900).as_deref(),
            Some("[0,900,86400,87300]")
        );
        // One span, or spans covering most of the range: read as a range.
        assert_eq!(sparse_buckets(&[(0, 1800)], 0, 90_000, 900), None);
        assert_eq!(
            sparse_buckets(&[(0, 900), (1800, 3600)], 0, 3600, 900),
            None
        );
        // Only the part inside the range counts.
        assert_eq!(
            sparse_buckets(&[(0, 1800), (9000, 9900)], 900, 90_000, 900).as_deref(),
            Some("[900,9000]")
        );
    }
}
