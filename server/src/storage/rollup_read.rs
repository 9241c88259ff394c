//! Reading rollup rows: from the bucket cache for closed buckets, from SQL
//! for open ones and for the rows of a few keys (which key-first rollups
//! keep together).

use std::{collections::HashSet, sync::Arc};

use futures_util::{TryStreamExt, future::try_join_all};

use super::{
    Storage,
    bucket_cache::{Blobs, BucketRows},
    facts::{Dim, DimValues, FactDecl, RollupDecl},
    rollup_sql::{Buckets, decode, load_part_len, runs, select_sql, sparse_buckets},
};
use crate::{
    histogram::{Histogram, HistogramSum},
    model::Granularity,
};

/// Key filters up to this many keys read a key-first rollup by its primary
/// key; longer lists go through the cache.
const KEY_LOOKUP_MAX: usize = 64;

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
    /// Rows a query reads may be added up in SQL into buckets of this
    /// many seconds starting at this phase (seconds past a multiple of the
    /// width): the caller's every interval is a union of such buckets.
    /// Only for measures that SQL can merge (sum, max, min) and no
    /// histogram; a row then stands for its group, at its first bucket.
    pub regroup: Option<(i64, i64)>,
}

/// One row as read: its bucket start (Unix ms), its dimensions in the
/// order the read names them, and accessors for its measures and histogram.
pub struct RowRef<'a> {
    pub bucket_ms: i64,
    pub dims: &'a DimValues,
    pub(super) values: Values<'a>,
    pub(super) hist: Hist<'a>,
}

/// A row's histogram: as stored, or one bin's count (a raw row group).
#[derive(Clone, Copy, Debug)]
pub(super) enum Hist<'a> {
    None,
    Encoded(&'a [u8]),
    Bin(usize, u64),
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
            Hist::Bin(bin, count) => into.add_to_bin(bin, count),
        }
    }

    /// Adds the row's histogram (if read) to a running sum.
    pub fn add_hist_to(&self, into: &mut HistogramSum) {
        match self.hist {
            Hist::None => {}
            Hist::Encoded(bytes) => into.add_encoded(bytes),
            Hist::Bin(bin, count) => into.add_to_bin(bin, count),
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
        let sql = select_sql(
            read.fact,
            read.rollup,
            &measures,
            hist,
            Buckets::Range(generations.len()),
            &[],
            false,
        );
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
        let buckets = match (&listed, read.grain.seconds()) {
            (Some(_), _) => Buckets::Listed,
            (None, Some(width)) => Buckets::Range(
                usize::try_from((to - from + width - 1) / width).unwrap_or(usize::MAX),
            ),
            (None, None) => Buckets::Range(usize::MAX),
        };
        // Only a single span: a group must not mix buckets inside and
        // outside the spans asked for.
        let regroup = read
            .regroup
            .filter(|_| read.spans.len() == 1 && listed.is_none() && !read.hist);
        let sql = select_sql(
            read.fact,
            read.rollup,
            read.measures,
            read.hist,
            buckets,
            &shape,
            regroup.is_some(),
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
        if let Some((width, phase)) = regroup {
            query = query.bind(phase).bind(width);
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
