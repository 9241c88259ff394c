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

use sqlx::{Row, SqliteConnection, sqlite::SqliteRow};

use super::{
    facts::{self, Bind, ColumnType, DimValues, FactDecl, MAX_DIMS, RollupDecl},
    sql::{bind_all, rollup_fetch, rollup_upsert},
};
use crate::{histogram::Histogram, model::Granularity};

/// Rows per upsert statement.
const UPSERT_CHUNK: usize = 32;
/// Rows read per fetch statement.
const FETCH_CHUNK: usize = 200;
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

/// A commit's increments, by row.
#[derive(Default)]
pub struct Deltas {
    rows: HashMap<RowKey, RowValues>,
}

impl Deltas {
    /// Adds one event's (or one mapped group's) measures to every rollup
    /// and grain of the fact. `dims` are in the fact's dimension order.
    pub fn add(
        &mut self,
        fact_index: usize,
        ts_ms: i64,
        dims: &DimValues,
        values: &[f64],
        hist: &Histogram,
    ) {
        self.add_at(fact_index, ts_ms, dims, values, hist, None);
    }

    /// [`Self::add`], to the rollups that have grain `only` and at that
    /// grain only, when given.
    pub fn add_at(
        &mut self,
        fact_index: usize,
        ts_ms: i64,
        dims: &DimValues,
        values: &[f64],
        hist: &Histogram,
        only: Option<Granularity>,
    ) {
        let fact = facts::ALL[fact_index];
        for (r, rollup) in fact.rollups.iter().enumerate() {
            let mut projected = [0; MAX_DIMS];
            for (slot, dim) in projected.iter_mut().zip(rollup.dims) {
                *slot = fact.dim_index(*dim).map_or(0, |i| dims[i]);
            }
            for grain in rollup
                .grains
                .iter()
                .filter(|g| only.is_none_or(|o| o == **g))
            {
                let key = RowKey {
                    fact: fact_index as u8,
                    rollup: r as u8,
                    grain: *grain,
                    bucket: grain.bucket_of(ts_ms),
                    dims: projected,
                };
                let row = self.rows.entry(key).or_insert_with(|| RowValues {
                    values: fact.identity(),
                    hist: Histogram::new(),
                });
                fact.merge(&mut row.values, values);
                row.hist.merge(hist);
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
        let fact = facts::ALL[fact_index];
        let key = RowKey {
            fact: fact_index as u8,
            rollup: rollup as u8,
            grain,
            bucket: grain.bucket_of(ts_ms),
            dims: *dims,
        };
        let row = self.rows.entry(key).or_insert_with(|| RowValues {
            values: fact.identity(),
            hist: Histogram::new(),
        });
        fact.merge(&mut row.values, values);
        row.hist.merge(hist);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The buckets these increments touch: (table, grain, bucket start).
    pub fn touched(&self) -> Vec<(&'static str, Granularity, i64)> {
        let mut touched: Vec<_> = self
            .rows
            .keys()
            .map(|k| (k.decl().1.table, k.grain, k.bucket))
            .collect();
        touched.sort_unstable();
        touched.dedup();
        touched
    }
}

/// Rows of open buckets as last written, kept by the writer.
pub struct HotRows {
    rows: HashMap<RowKey, RowValues>,
    /// Rows of buckets that started at or after this instant are all in
    /// `rows` while the bucket is open: the writer has seen every write.
    complete_from_ms: i64,
}

impl HotRows {
    pub fn new(now_ms: i64) -> Self {
        Self {
            rows: HashMap::new(),
            // The bucket open at start-up may hold rows written before.
            complete_from_ms: now_ms,
        }
    }

    /// A store that remembers nothing: every row is read before it is
    /// written (for writers other than the ingest writer).
    pub fn none() -> Self {
        Self {
            rows: HashMap::new(),
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

/// Merges `deltas` into the stored rows and writes them. Returns the rows
/// as written, for [`HotRows::committed`] once the transaction commits.
pub async fn write(
    conn: &mut SqliteConnection,
    deltas: Deltas,
    hot: &HotRows,
    now_ms: i64,
) -> Result<Vec<(RowKey, RowValues)>, sqlx::Error> {
    // Rows neither in memory nor known to be new are read first, per bucket.
    let mut missing: BTreeMap<(u8, u8, Granularity, i64), Vec<DimValues>> = BTreeMap::new();
    for key in deltas.rows.keys() {
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
        for part in dims.chunks(FETCH_CHUNK) {
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
    for (key, delta) in deltas.rows {
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
        for (chunk, blobs) in rows.chunks(UPSERT_CHUNK).zip(blobs.chunks(UPSERT_CHUNK)) {
            let mut binds: Vec<Bind<'_>> = Vec::new();
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
            bind_all(
                sqlx::query(rollup_upsert(fact, rollup, chunk.len())),
                &binds,
            )
            .execute(&mut *conn)
            .await?;
        }
        written.extend(rows);
    }
    Ok(written)
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
