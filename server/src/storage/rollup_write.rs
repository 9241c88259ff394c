//! Writing rollup rows. A commit's increments are added up in memory first
//! ([`Deltas`]), so each row is written once per commit however many
//! events hit it. Rows are written whole: a histogram blob cannot be added
//! in SQL, so the writer merges the stored row with its increment and
//! writes the result.
//!
//! The writer keeps the rows of the buckets still open in memory
//! ([`HotRows`]) and reads a row from SQLite only when it has not seen it:
//! a late event for a closed bucket, or the first touch after a start.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use rustc_hash::FxHashMap;

use sqlx::{AssertSqlSafe, Row, SqliteConnection, sqlite::SqliteRow};

pub use super::rollup_deltas::{Deltas, RowKey, RowValues};
use super::{
    facts::{Bind, ColumnType, DimValues, FactDecl, MAX_DIMS, RollupDecl},
    sql::{
        Sql, bind_all, chunks, execute_pipelined, interned_at_most, pad_with_last_row,
        padded_chunks, rollup_columns, rollup_fetch, rollup_upsert, rows_per_statement,
    },
};
use crate::{histogram::Histogram, model::Granularity};

/// Rows read per fetch statement.
const FETCH_CHUNK: usize = 128;
/// Buckets that ended longer ago than this leave the writer's memory.
const CLOSED_GRACE_MS: i64 = 120_000;

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

/// Rows of one rollup table, merged with what is stored, ready to write.
type TableRows = Vec<(RowKey, RowValues)>;

/// At most this many rows go in the one command of [`write_then`]: a
/// commit's rows of open buckets, not a backfill's.
const ONE_COMMAND_ROWS: usize = 1024;
/// Mixes of statement shapes (rows per table) that [`write_then`] sends as
/// one command: a mix is one more text to keep and one more entry in the
/// connection's statement cache. Traffic of many keys brings ever new
/// mixes; past this many, commits send their statements one by one.
const COMBINED_SHAPES: usize = 64;

/// Merges `deltas` into the stored rows and writes them.
pub async fn write(
    conn: &mut SqliteConnection,
    deltas: Deltas,
    hot: &HotRows,
    now_ms: i64,
) -> Result<Written, sqlx::Error> {
    let (tables, touched) = merged(conn, deltas, hot, now_ms).await?;
    for rows in &tables {
        let blobs = blobs(rows);
        execute_pipelined(
            conn,
            upserts(rows, &blobs).map(|(sql, _, binds)| bind_all(sql, &binds)),
        )
        .await?;
    }
    Ok(written(tables, touched))
}

/// [`write`], then `last` (a statement without parameters that returns one
/// integer), in a single command to SQLite's thread when the rows are few
/// and their mix of shapes is one of the first [`COMBINED_SHAPES`]: every
/// command is a round trip to that thread, which a commit of a few hundred
/// rows in four tables would otherwise make five times.
pub async fn write_then(
    conn: &mut SqliteConnection,
    deltas: Deltas,
    hot: &HotRows,
    now_ms: i64,
    last: &'static str,
) -> Result<(Written, i64), sqlx::Error> {
    // Its arguments would be taken from the upserts' (sqlx binds a
    // command's values to its statements in turn).
    debug_assert!(!last.contains('?'), "`last` takes no parameters");
    let (tables, touched) = merged(conn, deltas, hot, now_ms).await?;
    let blobs: Vec<Vec<Vec<u8>>> = tables.iter().map(|rows| blobs(rows)).collect();
    let mut statements = Vec::new();
    let mut shapes = Vec::new();
    for (rows, blobs) in tables.iter().zip(&blobs) {
        for (sql, shape, binds) in upserts(rows, blobs) {
            shapes.push((rows[0].0.decl().1.table, shape));
            statements.push((sql, binds));
        }
    }
    let rows: usize = tables.iter().map(Vec::len).sum();
    let few = rows <= ONE_COMMAND_ROWS && statements.len() == tables.len();
    let combined = if few {
        interned_at_most(
            "rollup-upserts-then",
            COMBINED_SHAPES,
            format!("{shapes:?}:{last}"),
            || {
                let mut text = String::new();
                for (sql, _) in &statements {
                    text.push_str(&sql.0);
                    text.push_str(";\n");
                }
                text.push_str(last);
                text
            },
        )
    } else {
        None
    };
    let value = match combined {
        Some(sql) => {
            let binds: Vec<Bind<'_>> = statements.into_iter().flat_map(|(_, b)| b).collect();
            // The upserts return no rows: the one row is `last`'s.
            bind_all(sql, &binds)?
                .fetch_all(&mut *conn)
                .await?
                .first()
                .ok_or_else(|| sqlx::Error::Protocol(format!("`{last}` returned no row")))?
                .try_get(0)?
        }
        None => {
            let statements = statements
                .iter()
                .map(|(sql, b)| bind_all(AssertSqlSafe(Arc::clone(&sql.0)), b));
            execute_pipelined(conn, statements).await?;
            sqlx::query_scalar(last).fetch_one(&mut *conn).await?
        }
    };
    Ok((written(tables, touched), value))
}

fn written(tables: Vec<TableRows>, touched: Vec<(&'static str, Granularity, i64)>) -> Written {
    Written {
        rows: tables.into_iter().flatten().collect(),
        touched,
    }
}

/// The rows `deltas` change, each merged with its stored value (from the
/// writer's memory, or read here), by table; and the buckets touched.
async fn merged(
    conn: &mut SqliteConnection,
    deltas: Deltas,
    hot: &HotRows,
    now_ms: i64,
) -> Result<(Vec<TableRows>, Vec<(&'static str, Granularity, i64)>), sqlx::Error> {
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

    let mut by_rollup: BTreeMap<(u8, u8), TableRows> = BTreeMap::new();
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
    Ok((by_rollup.into_values().collect(), touched))
}

/// The histogram blob of each row (empty for facts without one).
fn blobs(rows: &[(RowKey, RowValues)]) -> Vec<Vec<u8>> {
    rows.iter()
        .map(|(key, row)| {
            if key.decl().0.has_hist {
                row.hist.encode()
            } else {
                Vec::new()
            }
        })
        .collect()
}

/// The upserts of one table's rows: statement text, rows in it and values,
/// a statement per chunk. An upsert writes whole rows, so the padding's repeats of a
/// chunk's last row write it again with the same values.
fn upserts<'a>(
    rows: &'a [(RowKey, RowValues)],
    blobs: &'a [Vec<u8>],
) -> impl Iterator<Item = (Sql, usize, Vec<Bind<'a>>)> + 'a {
    let (fact, rollup) = rows[0].0.decl();
    let per_statement = rows_per_statement(rollup_columns(fact, rollup).len());
    padded_chunks(rows, per_statement)
        .zip(blobs.chunks(per_statement))
        .map(move |((chunk, shape), blobs)| {
            let mut binds: Vec<Bind<'a>> = Vec::new();
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
            (rollup_upsert(fact, rollup, shape), shape, binds)
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

#[cfg(test)]
mod tests {
    use super::COMBINED_SHAPES;
    use crate::{
        model::{Batch, Granularity, KeyHash},
        storage::{
            commit::WriterState,
            sql::interned_count,
            test_support::{execution, memory_storage},
        },
    };

    /// Commits whose rows come in ever new mixes of shapes (keys ×
    /// languages): past the cap their upserts go out one by one, and the
    /// rollups and the commit numbers stay exact.
    #[tokio::test]
    async fn commits_past_the_cap_on_mixes_stay_exact() {
        const LANGUAGES: [&str; 6] = ["go", "python", "rust", "java", "c", "ruby"];
        let storage = memory_storage().await;
        let mut state = WriterState::new(0);
        let ts = 1_795_000_000_000;
        let (mut stored, mut last_seq) = (0, None);
        for keys in 1..=30 {
            for languages in 1..=LANGUAGES.len() {
                let events = (0..keys * languages)
                    .map(|i| {
                        let mut e = execution(format!("{keys}-{languages}-{i}"), ts, false);
                        e.key = Some(KeyHash::of_raw_key(&format!("sk-mix-{}", i % keys)));
                        e.language = LANGUAGES[i / keys].to_owned();
                        e
                    })
                    .collect();
                let batch = Batch::Executions(events);
                let (outcome, ()) = storage
                    .commit_group(&[&batch], &mut state, ts, |_| ())
                    .await
                    .unwrap();
                stored += outcome.batches[0].accepted;
                if let Some(seq) = last_seq {
                    assert_eq!(outcome.commit_seq, seq + 1, "one number a commit");
                }
                last_seq = Some(outcome.commit_seq);
            }
        }
        assert_eq!(
            interned_count("rollup-upserts-then"),
            COMBINED_SHAPES,
            "the commits met more mixes than the cap"
        );
        for (table, rows) in [
            ("exec_rollup", 1),
            ("exec_rollup_by_language", LANGUAGES.len()),
            ("exec_rollup_by_key", 30),
            ("exec_rollup_by_key_language", 30 * LANGUAGES.len()),
        ] {
            let (sum, count): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT SUM(executions), COUNT(*) FROM {table} WHERE grain = ?"
            )))
            .bind(Granularity::Day.code())
            .fetch_one(&storage.pool)
            .await
            .unwrap();
            assert_eq!((sum, count), (stored as i64, rows as i64), "{table}");
        }
        let seq: i64 = sqlx::query_scalar("SELECT commit_seq FROM writer_state WHERE id = 1")
            .fetch_one(&storage.pool)
            .await
            .unwrap();
        assert_eq!(Some(seq), last_seq);
    }
}
