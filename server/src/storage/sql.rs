//! Builders for the SQL text that depends on a table's column list: multi-row
//! inserts and rollup upserts. Each text is built once and kept for the life
//! of the process, so SQLite's statement cache sees the same strings.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use sqlx::{AssertSqlSafe, Sqlite, query::Query, sqlite::SqliteArguments};

/// How a rollup column combines with the stored value on conflict.
#[derive(Clone, Copy, Debug)]
pub enum Merge {
    Sum,
    Max,
}

/// A value bound to a statement parameter.
#[derive(Clone, Copy, Debug)]
pub enum Bind<'a> {
    Int(i64),
    Real(f64),
    Text(&'a str),
    OptText(Option<&'a str>),
}

pub fn bind_all<'q>(
    mut query: Query<'q, Sqlite, SqliteArguments>,
    values: &[Bind<'q>],
) -> Query<'q, Sqlite, SqliteArguments> {
    for value in values {
        query = match *value {
            Bind::Int(v) => query.bind(v),
            Bind::Real(v) => query.bind(v),
            Bind::Text(v) => query.bind(v),
            Bind::OptText(v) => query.bind(v),
        };
    }
    query
}

/// Generated SQL text, shared: cloning it is cheap.
pub type Sql = AssertSqlSafe<Arc<str>>;

/// Interns generated SQL: the first call for a given cache key builds the
/// text, later calls share it. The texts are built only from the fixed table
/// and column names in this module, never from input, hence `AssertSqlSafe`.
fn interned(cache_key: String, build: impl FnOnce() -> String) -> Sql {
    static CACHE: Mutex<Option<HashMap<String, Arc<str>>>> = Mutex::new(None);
    let mut guard = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    let text = map.entry(cache_key).or_insert_with(|| Arc::from(build()));
    AssertSqlSafe(Arc::clone(text))
}

/// `INSERT INTO table (cols) VALUES (?,..),(?,..) ON CONFLICT(unique) DO NOTHING RETURNING id, unique`
pub fn insert_returning_new(table: &str, columns: &[&str], unique: &str, rows: usize) -> Sql {
    interned(format!("insert:{table}:{rows}"), || {
        let tuple = format!("({})", vec!["?"; columns.len()].join(","));
        format!(
            "INSERT INTO {table} ({}) VALUES {} ON CONFLICT({unique}) DO NOTHING RETURNING id, {unique}",
            columns.join(", "),
            vec![tuple; rows].join(",")
        )
    })
}

/// An upsert that adds (or takes the maximum of) every value column and, when
/// `hist` is set, adds the histogram columns `h000`...
pub fn rollup_upsert(table: &str, keys: &[&str], values: &[(&str, Merge)], hist: bool) -> Sql {
    interned(format!("upsert:{table}"), || {
        let hist_columns: Vec<String> = if hist {
            crate::histogram::column_names().collect()
        } else {
            Vec::new()
        };
        let mut columns: Vec<&str> = keys.to_vec();
        columns.extend(values.iter().map(|(name, _)| *name));
        columns.extend(hist_columns.iter().map(String::as_str));
        let updates: Vec<String> = values
            .iter()
            .map(|(name, merge)| match merge {
                Merge::Sum => format!("{name} = {name} + excluded.{name}"),
                Merge::Max => format!("{name} = max({name}, excluded.{name})"),
            })
            .chain(
                hist_columns
                    .iter()
                    .map(|h| format!("{h} = {h} + excluded.{h}")),
            )
            .collect();
        format!(
            "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT({}) DO UPDATE SET {}",
            columns.join(", "),
            vec!["?"; columns.len()].join(","),
            keys.join(", "),
            updates.join(", ")
        )
    })
}
