//! The SQL text that follows from the fact declarations: raw inserts,
//! rollup upserts and rollup reads. Each text is built once per shape and
//! kept for the life of the process, so SQLite's statement cache sees the
//! same strings.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use sqlx::{
    Arguments, AssertSqlSafe, Sqlite, SqliteConnection, query::Query, sqlite::SqliteArguments,
};

use super::facts::{Bind, FactDecl, RollupDecl};

/// The statement `sql` with `values` bound, in order. The arguments are
/// built whole and handed over once: binding through [`Query::bind`] moves
/// the query on every value, which on a writer's statement of 20 000
/// values cost about a tenth of the writer's own work.
pub fn bind_all<'q>(
    sql: Sql,
    values: &[Bind<'q>],
) -> Result<Query<'q, Sqlite, SqliteArguments>, sqlx::Error> {
    let mut arguments = SqliteArguments::default();
    arguments.reserve(values.len(), 0);
    for value in values {
        match *value {
            Bind::Int(v) => arguments.add(v),
            Bind::Real(v) => arguments.add(v),
            Bind::Text(v) => arguments.add(v),
            Bind::OptText(v) => arguments.add(v),
            Bind::Blob(v) => arguments.add(v),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(sqlx::query_with(sql, arguments))
}

/// Runs each statement of `statements` in turn and returns the rows they
/// changed. The next statement is built (its arguments encoded, which is
/// most of the writer's own work on a multi-row statement) while SQLite,
/// on its connection's thread, runs the one before: the two threads work
/// at once instead of taking turns.
pub async fn execute_pipelined<'q>(
    conn: &mut SqliteConnection,
    mut statements: impl Iterator<Item = Result<Query<'q, Sqlite, SqliteArguments>, sqlx::Error>>,
) -> Result<u64, sqlx::Error> {
    let mut changed = 0;
    let mut next = statements.next();
    while let Some(statement) = next {
        let statement = statement?;
        // `join` polls the execution first, which hands it to the
        // connection's thread, then builds the next statement here.
        let (done, following) =
            futures_util::future::join(statement.execute(&mut *conn), async { statements.next() })
                .await;
        changed += done?.rows_affected();
        next = following;
    }
    Ok(changed)
}

/// Generated SQL text, shared: cloning it is cheap.
pub type Sql = AssertSqlSafe<Arc<str>>;

/// Interns generated SQL: the first call for a given cache key builds the
/// text, later calls share it. The texts are built only from the table and
/// column names of the declarations, never from input, hence
/// `AssertSqlSafe`.
pub fn interned(cache_key: String, build: impl FnOnce() -> String) -> Sql {
    static CACHE: Mutex<Option<HashMap<String, Arc<str>>>> = Mutex::new(None);
    let mut guard = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    let text = map.entry(cache_key).or_insert_with(|| Arc::from(build()));
    AssertSqlSafe(Arc::clone(text))
}

/// Like [`interned`], for a family of texts whose variety follows the data
/// (a commit's mix of statement shapes): at most `limit` texts of the
/// family are ever built; past that, `None` for a key not built yet.
pub fn interned_at_most(
    family: &'static str,
    limit: usize,
    cache_key: String,
    build: impl FnOnce() -> String,
) -> Option<Sql> {
    interned_at_most_cache(|families| {
        let texts = families.entry(family).or_default();
        if let Some(text) = texts.get(&cache_key) {
            return Some(AssertSqlSafe(Arc::clone(text)));
        }
        if texts.len() >= limit {
            return None;
        }
        let text: Arc<str> = Arc::from(build());
        texts.insert(cache_key, Arc::clone(&text));
        Some(AssertSqlSafe(text))
    })
}

type Families = HashMap<&'static str, HashMap<String, Arc<str>>>;

fn interned_at_most_cache<T>(visit: impl FnOnce(&mut Families) -> T) -> T {
    static CACHE: Mutex<Option<Families>> = Mutex::new(None);
    let mut guard = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    visit(guard.get_or_insert_with(HashMap::new))
}

/// Texts of `family` built so far by [`interned_at_most`].
#[cfg(test)]
pub fn interned_count(family: &'static str) -> usize {
    interned_at_most_cache(|families| families.get(family).map_or(0, HashMap::len))
}

/// `items` in chunks of `max` (a power of two), the rest in smaller powers
/// of two: multi-row statements then come in a few shapes only, each
/// prepared once and kept in the connection's statement cache.
pub fn chunks<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    debug_assert!(max.is_power_of_two());
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = if rest.len() >= max {
            max
        } else {
            1 << (usize::BITS - 1 - rest.len().leading_zeros())
        };
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

/// SQLite's limit of parameters in one statement.
const MAX_PARAMETERS: usize = 32_766;

/// The most rows, in a power of two, that a multi-row statement of
/// `per_row` parameters a row can hold within SQLite's limit.
pub fn rows_per_statement(per_row: usize) -> usize {
    1 << (usize::BITS - 1 - (MAX_PARAMETERS / per_row.max(1)).leading_zeros())
}

/// `items` in chunks of at most `max` (a power of two), each with the
/// number of rows its statement has: the smallest size of the series 1, 2,
/// 3, 4, 6, 8, 12, 16, 24 … (powers of two and one and a half times them)
/// that holds it. A statement whose every row may be written twice with
/// the same effect (an upsert of whole rows, an insert that skips
/// conflicts) fills its spare rows with its chunk's last one: a group's
/// rows then take one statement per `max` rows, of a few shapes that stay
/// prepared, at the cost of at most half as many rows again.
pub fn padded_chunks<T>(items: &[T], max: usize) -> impl Iterator<Item = (&[T], usize)> {
    debug_assert!(max.is_power_of_two());
    items.chunks(max).map(move |chunk| {
        let len = chunk.len();
        let power = len.next_power_of_two();
        let shape = if len <= 2 || len > power / 4 * 3 {
            power
        } else {
            power / 4 * 3
        };
        (chunk, shape)
    })
}

/// Fills a padded statement's spare rows: `binds` holds the values of
/// `rows` rows; repeats of the last one are appended until it holds `shape`.
pub fn pad_with_last_row<T: Clone>(binds: &mut Vec<T>, rows: usize, shape: usize) {
    let width = binds.len() / rows.max(1);
    let last = binds.len() - width;
    for _ in rows..shape {
        binds.extend_from_within(last..last + width);
    }
}

fn placeholders(columns: usize, rows: usize) -> String {
    let tuple = format!("({})", vec!["?"; columns].join(","));
    vec![tuple; rows].join(",")
}

/// `INSERT INTO table (id, stamped_hash, columns.., received_at) VALUES
/// ..` for `rows` rows, `ON CONFLICT DO NOTHING` when `skip_conflicts`.
pub fn raw_insert(table: &str, columns: &[&str], rows: usize, skip_conflicts: bool) -> Sql {
    interned(
        format!("raw-insert:{table}:{columns:?}:{rows}:{skip_conflicts}"),
        || {
            format!(
                "INSERT INTO {table} (id, stamped_hash, {}, received_at) VALUES {}{}",
                columns.join(", "),
                placeholders(columns.len() + 3, rows),
                if skip_conflicts {
                    " ON CONFLICT DO NOTHING"
                } else {
                    ""
                }
            )
        },
    )
}

/// The columns of a rollup row in write order: `grain`, `bucket`, the
/// dimensions, the measures, and `hist` when the fact has one.
pub fn rollup_columns(fact: &FactDecl, rollup: &RollupDecl) -> Vec<&'static str> {
    let mut columns = vec!["grain", "bucket"];
    columns.extend(rollup.dims.iter().map(|d| d.column()));
    columns.extend(fact.measures.iter().map(|m| m.column));
    if fact.has_hist {
        columns.push("hist");
    }
    columns
}

/// Writes whole rows (the writer has merged them already): insert, or
/// replace every value of the row with the same key.
pub fn rollup_upsert(fact: &FactDecl, rollup: &RollupDecl, rows: usize) -> Sql {
    interned(format!("rollup-upsert:{}:{rows}", rollup.table), || {
        let columns = rollup_columns(fact, rollup);
        let keys = rollup.key_columns();
        let updates: Vec<String> = columns
            .iter()
            .filter(|c| !keys.contains(c))
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        format!(
            "INSERT INTO {} ({}) VALUES {} ON CONFLICT ({}) DO UPDATE SET {}",
            rollup.table,
            columns.join(", "),
            placeholders(columns.len(), rows),
            keys.join(", "),
            updates.join(", ")
        )
    })
}

/// Reads stored rows of one bucket by their dimensions: `grain`, `bucket`,
/// then `keys` tuples of the rollup's dimensions. Selects the rollup's
/// columns from `bucket` on.
pub fn rollup_fetch(fact: &FactDecl, rollup: &RollupDecl, keys: usize) -> Sql {
    interned(format!("rollup-fetch:{}:{keys}", rollup.table), || {
        let columns = rollup_columns(fact, rollup);
        let dims: Vec<&str> = rollup.dims.iter().map(|d| d.column()).collect();
        let filter = if dims.is_empty() {
            String::new()
        } else {
            format!(
                " AND ({}) IN (VALUES {})",
                dims.join(", "),
                placeholders(dims.len(), keys)
            )
        };
        format!(
            "SELECT {} FROM {} WHERE grain = ? AND bucket = ?{filter}",
            columns[1..].join(", "),
            rollup.table,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_of_texts_stops_growing_at_its_limit() {
        let text = |key: &str| interned_at_most("test-family", 2, key.to_owned(), || key.into());
        assert_eq!(text("a").map(|sql| sql.0), Some("a".into()));
        assert_eq!(text("b").map(|sql| sql.0), Some("b".into()));
        assert!(text("c").is_none(), "a third text is past the limit");
        assert_eq!(
            text("a").map(|sql| sql.0),
            Some("a".into()),
            "built ones stay"
        );
    }

    #[test]
    fn chunks_come_in_powers_of_two() {
        let items: Vec<u32> = (0..300).collect();
        let sizes: Vec<usize> = chunks(&items, 128).map(<[u32]>::len).collect();
        assert_eq!(sizes, [128, 128, 32, 8, 4]);
        assert_eq!(chunks(&items[..1], 128).count(), 1);
        assert_eq!(chunks::<u32>(&[], 128).count(), 0);
    }

    #[test]
    fn padding_repeats_the_last_row() {
        let mut binds = vec![1, 2, 3, 4];
        pad_with_last_row(&mut binds, 2, 4);
        assert_eq!(binds, [1, 2, 3, 4, 3, 4, 3, 4]);
        let mut exact = vec![1, 2];
        pad_with_last_row(&mut exact, 1, 1);
        assert_eq!(exact, [1, 2]);
    }

    #[test]
    fn statements_stay_within_the_parameter_limit() {
        assert_eq!(rows_per_statement(20), 1024);
        assert_eq!(rows_per_statement(31), 1024);
        assert_eq!(rows_per_statement(32), 512);
        assert_eq!(rows_per_statement(32_766), 1);
    }

    #[test]
    fn padded_chunks_fill_few_shapes() {
        let items: Vec<u32> = (0..300).collect();
        let shapes = |n: usize, max: usize| -> Vec<(usize, usize)> {
            padded_chunks(&items[..n], max)
                .map(|(chunk, shape)| (chunk.len(), shape))
                .collect()
        };
        assert_eq!(shapes(300, 128), [(128, 128), (128, 128), (44, 48)]);
        assert_eq!(shapes(83, 128), [(83, 96)]);
        assert_eq!(shapes(97, 128), [(97, 128)]);
        assert_eq!(shapes(5, 128), [(5, 6)]);
        assert_eq!(shapes(7, 128), [(7, 8)]);
        assert_eq!(shapes(3, 128), [(3, 3)]);
        assert_eq!(shapes(1, 128), [(1, 1)]);
        assert_eq!(shapes(0, 128), []);
        for n in 1..=300 {
            for (chunk, shape) in padded_chunks(&items[..n], 128) {
                assert!(shape >= chunk.len() && shape <= 128, "{n}: {shape}");
                assert!(
                    shape * 2 <= chunk.len() * 3,
                    "{n}: {} in {shape}",
                    chunk.len()
                );
            }
        }
    }
}
