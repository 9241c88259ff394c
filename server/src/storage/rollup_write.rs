//! Writing rollup rows. A commit's increments are added up in memory first
//! ([`Deltas`]), so each row is written once per commit however many
//! events hit it. Rows are written whole: a histogram blob cannot be added
//! in SQL, so the writer merges the stored row with its increment and
//! writes the result.
//!
//! The writer keeps the rows of the buckets still open in memory
//! ([`HotRows`]) and reads a row from SQLite only when it has not seen it:
//! a late event for a closed bucket, or the first touch after a start.

use std::collections::{BTreeMap, HashMap};

use rustc_hash::FxHashMap;

use sqlx::{Row, SqliteConnection, sqlite::SqliteRow};

use super::{
    facts::{self, Bind, ColumnType, DimValues, FactDecl, MAX_DIMS, RollupDecl},
    sql::{
        bind_all, chunks, execute_pipelined, pad_with_last_row, padded_chunks, rollup_columns,
        rollup_fetch, rollup_upsert, rows_per_statement,
    },
};
use crate::{histogram::Histogram, model::Granularity};

/// Rows read per fetch statement.
const FETCH_CHUNK: usize = 128;
/// Buckets that ended longer ago than this leave the writer's memory.
const CLOSED_GRACE_MS: i64 = 120_000;

/// Which rollup row: fact and rollup (indices in the declarations), grain,
/// bucket start (Unix seconds), and the rollup's dimension values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowKey {
    pub fact: u8,
    pub rollup: u8,
    pub grain: Granularity,
    pub bucket: i64,
    pub dims: DimValues,
}

impl RowKey {
    pub fn decl(&self) -> (&'static FactDecl, &'static RollupDecl) {
        let fact = facts::ALL[usize::from(self.fact)];
        (fact, &fact.rollups[usize::from(self.rollup)])
    }

    /// The end of the row's bucket, Unix ms (`i64::MAX` for all time).
    fn end_ms(&self) -> i64 {
        self.grain
            .millis()
            .map_or(i64::MAX, |width| self.bucket * 1000 + width)
    }
}

/// A rollup row's measures and histogram.
#[derive(Clone, Debug, PartialEq)]
pub struct RowValues {
    pub values: Box<[f64]>,
    pub hist: Histogram,
}

/// A commit's increments. Events are added up first per cell (fact, every
/// dimension, quarter hour: every rollup grain is a whole number of quarter
/// hours), so an event costs one map entry however many rollups and grains
/// it feeds; the cells are spread over the rollups when written.
#[derive(Default)]
pub struct Deltas {
    cells: FxHashMap<(u8, DimValues, i64), RowValues>,
    rows: FxHashMap<RowKey, RowValues>,
}

impl Deltas {
    /// Adds one event's measures; `hist_bin` is the histogram bin of its
    /// value, if the fact has a histogram. `dims` are in the fact's order.
    pub fn add_event(
        &mut self,
        fact_index: usize,
        ts_ms: i64,
        dims: &DimValues,
        values: &[f64],
        hist_bin: Option<usize>,
    ) {
        let fact = facts::ALL[fact_index];
        let quarter = Granularity::QuarterHour.bucket_of(ts_ms);
        let cell = self
            .cells
            .entry((fact_index as u8, *dims, quarter))
            .or_insert_with(|| RowValues {
                values: fact.identity(),
                hist: Histogram::new(),
            });
        fact.merge(&mut cell.values, values);
        if let Some(bin) = hist_bin {
            cell.hist.add_to_bin(bin, 1);
        }
    }

    /// Adds a group's measures and histogram (mapped OTLP increments).
    pub fn add(
        &mut self,
        fact_index: usize,
        ts_ms: i64,
        dims: &DimValues,
        values: &[f64],
        hist: &Histogram,
    ) {
        self.add_event(fact_index, ts_ms, dims, values, None);
        let quarter = Granularity::QuarterHour.bucket_of(ts_ms);
        if let Some(cell) = self.cells.get_mut(&(fact_index as u8, *dims, quarter)) {
            cell.hist.merge(hist);
        }
    }

    /// Adds to every rollup of the fact that has grain `only`, at that grain
    /// alone. `dims` are in the fact's order.
    pub fn add_at(
        &mut self,
        fact_index: usize,
        ts_ms: i64,
        dims: &DimValues,
        values: &[f64],
        hist: &Histogram,
        only: Granularity,
    ) {
        let fact = facts::ALL[fact_index];
        for (r, rollup) in fact.rollups.iter().enumerate() {
            if rollup.has_grain(only) {
                let projected = project(fact, rollup, dims);
                self.add_rollup(fact_index, r, ts_ms, &projected, values, hist, only);
            }
        }
    }

    /// Adds to one rollup at one grain; `dims` are in the rollup's order.
    #[allow(clippy::too_many_arguments)]
    pub fn add_rollup(
        &mut self,
        fact_index: usize,
        rollup: usize,
        ts_ms: i64,
        dims: &DimValues,
        values: &[f64],
        hist: &Histogram,
        grain: Granularity,
    ) {
        let key = RowKey {
            fact: fact_index as u8,
            rollup: rollup as u8,
            grain,
            bucket: grain.bucket_of(ts_ms),
            dims: *dims,
        };
        merge_row(&mut self.rows, key, values, hist);
    }

    /// Spreads the cells over every rollup and grain of their fact.
    fn into_rows(self) -> FxHashMap<RowKey, RowValues> {
        let mut rows = self.rows;
        for ((fact_index, dims, quarter), cell) in self.cells {
            let fact = facts::ALL[usize::from(fact_index)];
            for (r, rollup) in fact.rollups.iter().enumerate() {
                let projected = project(fact, rollup, &dims);
                for grain in rollup.grains {
                    let key = RowKey {
                        fact: fact_index,
                        rollup: r as u8,
                        grain: *grain,
                        bucket: grain.bucket_of(quarter * 1000),
                        dims: projected,
                    };
                    merge_row(&mut rows, key, &cell.values, &cell.hist);
                }
            }
        }
        rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.cells.is_empty()
    }
}

/// A fact's dimension values (in its order) projected onto a rollup's.
fn project(fact: &FactDecl, rollup: &RollupDecl, dims: &DimValues) -> DimValues {
    let mut projected = [0; MAX_DIMS];
    for (slot, dim) in projected.iter_mut().zip(rollup.dims) {
        *slot = fact.dim_index(*dim).map_or(0, |i| dims[i]);
    }
    projected
}

fn merge_row(
    rows: &mut FxHashMap<RowKey, RowValues>,
    key: RowKey,
    values: &[f64],
    hist: &Histogram,
) {
    let fact = facts::ALL[usize::from(key.fact)];
    let row = rows.entry(key).or_insert_with(|| RowValues {
        values: fact.identity(),
        hist: Histogram::new(),
    });
    fact.merge(&mut row.values, values);
    row.hist.merge(hist);
}

/// Rows of open buckets as last written, kept by the writer.
pub struct HotRows {
    rows: FxHashMap<RowKey, RowValues>,
    /// Rows of buckets that started at or after this instant are all in
    /// `rows` while the bucket is open: the writer has seen every write.
    complete_from_ms: i64,
}

impl HotRows {
    pub fn new(now_ms: i64) -> Self {
        Self {
            rows: FxHashMap::default(),
            // The bucket open at start-up may hold rows written before.
            complete_from_ms: now_ms,
        }
    }

    /// A store that remembers nothing: every row is read before it is
    /// written (for writers other than the ingest writer).
    pub fn none() -> Self {
        Self {
            rows: FxHashMap::default(),
            complete_from_ms: i64::MAX,
        }
    }

    fn knows_absent(&self, key: &RowKey, now_ms: i64) -> bool {
        key.grain != Granularity::Total
            && key.bucket * 1000 >= self.complete_from_ms
            && key.end_ms() > now_ms - CLOSED_GRACE_MS
    }

    /// Keeps the rows a commit wrote, and lets closed buckets go.
    pub fn committed(&mut self, written: Vec<(RowKey, RowValues)>, now_ms: i64) {
        if self.complete_from_ms == i64::MAX {
            return;
        }
        self.rows.extend(written);
        self.rows
            .retain(|key, _| key.end_ms() > now_ms - CLOSED_GRACE_MS);
    }
}

/// What a write did: the rows as written (for [`HotRows::committed`] once
/// the transaction commits) and the buckets it touched (table, grain,
/// bucket start), for the query cache.
pub struct Written {
    pub rows: Vec<(RowKey, RowValues)>,
    pub touched: Vec<(&'static str, Granularity, i64)>,
}

/// Merges `deltas` into the stored rows and writes them.
pub async fn write(
    conn: &mut SqliteConnection,
    deltas: Deltas,
    hot: &HotRows,
    now_ms: i64,
) -> Result<Written, sqlx::Error> {
    let rows = deltas.into_rows();
    let mut touched: Vec<(&'static str, Granularity, i64)> = rows
        .keys()
        .map(|k| (k.decl().1.table, k.grain, k.bucket))
        .collect::<rustc_hash::FxHashSet<_>>()
        .into_iter()
        .collect();
    touched.sort_unstable();
    // Rows neither in memory nor known to be new are read first, per bucket.
    let mut missing: BTreeMap<(u8, u8, Granularity, i64), Vec<DimValues>> = BTreeMap::new();
    for key in rows.keys() {
        if !hot.rows.contains_key(key) && !hot.knows_absent(key, now_ms) {
            missing
                .entry((key.fact, key.rollup, key.grain, key.bucket))
                .or_default()
                .push(key.dims);
        }
    }
    let mut stored: HashMap<RowKey, RowValues> = HashMap::new();
    for ((fact, rollup, grain, bucket), dims) in missing {
        let mut key = RowKey {
            fact,
            rollup,
            grain,
            bucket,
            dims: [0; MAX_DIMS],
        };
        let (fact_decl, rollup_decl) = key.decl();
        for part in chunks(&dims, FETCH_CHUNK) {
            let mut query = sqlx::query(rollup_fetch(fact_decl, rollup_decl, part.len()))
                .bind(grain.code())
                .bind(bucket);
            for d in part {
                for value in &d[..rollup_decl.dims.len()] {
                    query = query.bind(*value);
                }
            }
            for row in query.fetch_all(&mut *conn).await? {
                let (dims, values) = decode_row(fact_decl, rollup_decl, &row, 1)?;
                key.dims = dims;
                stored.insert(key, values);
            }
        }
    }

    let mut by_rollup: BTreeMap<(u8, u8), Vec<(RowKey, RowValues)>> = BTreeMap::new();
    for (key, delta) in rows {
        let (fact, _) = key.decl();
        let mut row = hot
            .rows
            .get(&key)
            .cloned()
            .or_else(|| stored.remove(&key))
            .unwrap_or_else(|| RowValues {
                values: fact.identity(),
                hist: Histogram::new(),
            });
        fact.merge(&mut row.values, &delta.values);
        row.hist.merge(&delta.hist);
        by_rollup
            .entry((key.fact, key.rollup))
            .or_default()
            .push((key, row));
    }

    let mut written = Vec::new();
    for rows in by_rollup.into_values() {
        let (fact, rollup) = rows[0].0.decl();
        let blobs: Vec<Vec<u8>> = rows.iter().map(|(_, r)| r.hist.encode()).collect();
        let per_statement = rows_per_statement(rollup_columns(fact, rollup).len());
        let mut binds: Vec<Bind<'_>> = Vec::new();
        // An upsert writes whole rows, so the padding's repeats of a
        // chunk's last row write it again with the same values.
        let statements = padded_chunks(&rows, per_statement)
            .zip(blobs.chunks(per_statement))
            .map(|((chunk, shape), blobs)| {
                binds.clear();
                for ((key, row), blob) in chunk.iter().zip(blobs) {
                    binds.push(Bind::Int(key.grain.code()));
                    binds.push(Bind::Int(key.bucket));
                    binds.extend(key.dims[..rollup.dims.len()].iter().map(|d| Bind::Int(*d)));
                    for (value, measure) in row.values.iter().zip(fact.measures) {
                        // An empty maximum (rows with no such values) is stored as 0.
                        let value = if value.is_finite() { *value } else { 0.0 };
                        binds.push(match measure.kind {
                            ColumnType::Int => Bind::Int(value.round() as i64),
                            _ => Bind::Real(value),
                        });
                    }
                    if fact.has_hist {
                        binds.push(Bind::Blob(blob));
                    }
                }
                pad_with_last_row(&mut binds, chunk.len(), shape);
                bind_all(rollup_upsert(fact, rollup, shape), &binds)
            });
        execute_pipelined(conn, statements).await?;
        written.extend(rows);
    }
    Ok(Written {
        rows: written,
        touched,
    })
}

/// A rollup row read from SQLite whose columns start, at `first`, with the
/// dimensions, then the measures and (if the fact has one) the histogram.
pub fn decode_row(
    fact: &FactDecl,
    rollup: &RollupDecl,
    row: &SqliteRow,
    first: usize,
) -> Result<(DimValues, RowValues), sqlx::Error> {
    let mut dims = [0; MAX_DIMS];
    for (i, slot) in dims.iter_mut().enumerate().take(rollup.dims.len()) {
        *slot = row.try_get(first + i)?;
    }
    let at = first + rollup.dims.len();
    let mut values = Vec::with_capacity(fact.measures.len());
    for (i, measure) in fact.measures.iter().enumerate() {
        values.push(match measure.kind {
            ColumnType::Int => row.try_get::<i64, _>(at + i)? as f64,
            _ => row.try_get::<f64, _>(at + i)?,
        });
    }
    let hist = if fact.has_hist {
        let blob: Vec<u8> = row.try_get(at + fact.measures.len())?;
        Histogram::decode(&blob).ok_or_else(|| {
            sqlx::Error::Decode(format!("{}: a histogram blob is corrupt", rollup.table).into())
        })?
    } else {
        Histogram::new()
    };
    Ok((
        dims,
        RowValues {
            values: values.into_boxed_slice(),
            hist,
        },
    ))
}
