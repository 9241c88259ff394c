//! The ids of dictionary values (API keys, languages, endpoints) as the
//! writer resolves them: known from earlier commits, or created in the
//! commit's transaction.

use rustc_hash::{FxHashMap, FxHashSet};
use sqlx::{Sqlite, Transaction};

use super::facts::Ids;
use crate::model::{Batch, KeyHash};

#[derive(Default)]
pub(super) struct Dictionaries {
    pub(super) keys: FxHashMap<KeyHash, i64>,
    pub(super) languages: FxHashMap<String, i64>,
    pub(super) endpoints: FxHashMap<String, i64>,
}

impl Dictionaries {
    pub(super) fn extend(&mut self, other: Self) {
        self.keys.extend(other.keys);
        self.languages.extend(other.languages);
        self.endpoints.extend(other.endpoints);
    }
}

/// Known ids and the ones this transaction created.
pub(super) struct Resolved<'a> {
    pub(super) known: &'a Dictionaries,
    pub(super) new: &'a Dictionaries,
}

/// The id of `value`: known, or new in this commit; 0 if neither (no such
/// value was resolved).
fn id_in<K, Q>(known: &FxHashMap<K, i64>, new: &FxHashMap<K, i64>, value: &Q) -> i64
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
{
    known
        .get(value)
        .or_else(|| new.get(value))
        .copied()
        .unwrap_or(0)
}

impl Ids for Resolved<'_> {
    fn key(&self, key: Option<&KeyHash>) -> i64 {
        key.map_or(0, |k| id_in(&self.known.keys, &self.new.keys, k))
    }

    fn language(&self, name: &str) -> i64 {
        id_in(&self.known.languages, &self.new.languages, name)
    }

    fn endpoint(&self, path: &str) -> i64 {
        id_in(&self.known.endpoints, &self.new.endpoints, path)
    }
}

/// The key and tenant of every event of a batch (pool events have neither).
fn keys_and_tenants<'b>(
    batch: &'b Batch,
) -> Box<dyn Iterator<Item = (&'b Option<KeyHash>, &'b Option<String>)> + 'b> {
    match batch {
        Batch::Executions(events) => Box::new(events.iter().map(|e| (&e.key, &e.tenant))),
        Batch::Requests(events) => Box::new(events.iter().map(|e| (&e.key, &e.tenant))),
        Batch::Pool(_) => Box::new(std::iter::empty()),
    }
}

/// Distinct `(key id, tenant)` pairs named by the group's events; of two
/// tenants for one key the later event's wins.
pub(super) fn event_tenants<'b>(batches: &[&'b Batch], ids: &Resolved<'_>) -> Vec<(i64, &'b str)> {
    let mut latest: FxHashMap<i64, &'b str> = FxHashMap::default();
    for (key, tenant) in batches.iter().flat_map(|b| keys_and_tenants(b)) {
        if let Some(tenant) = tenant {
            latest.insert(ids.key(key.as_ref()), tenant);
        }
    }
    latest.into_iter().filter(|(id, _)| *id != 0).collect()
}

/// The keys, languages and endpoints of a group that the writer has no id
/// for yet: found without SQLite, while it opens the transaction.
#[derive(Default)]
pub(super) struct Unknown<'b> {
    keys: FxHashSet<&'b KeyHash>,
    languages: FxHashSet<&'b str>,
    endpoints: FxHashSet<&'b str>,
}

pub(super) fn unknown<'b>(batches: &[&'b Batch], known: &Dictionaries) -> Unknown<'b> {
    let mut unknown = Unknown::default();
    let new = |known: &FxHashMap<String, i64>, name: &&str| !known.contains_key(*name);
    for batch in batches {
        unknown.keys.extend(
            keys_and_tenants(batch)
                .filter_map(|(key, _)| key.as_ref())
                .filter(|k| !known.keys.contains_key(*k)),
        );
        match batch {
            Batch::Executions(events) => unknown.languages.extend(
                events
                    .iter()
                    .map(|e| e.language.as_str())
                    .filter(|l| new(&known.languages, l)),
            ),
            Batch::Requests(events) => unknown.endpoints.extend(
                events
                    .iter()
                    .map(|e| e.endpoint.as_str())
                    .filter(|p| new(&known.endpoints, p)),
            ),
            Batch::Pool(events) => unknown.languages.extend(
                events
                    .iter()
                    .map(|e| e.language.as_str())
                    .filter(|l| new(&known.languages, l)),
            ),
        }
    }
    unknown
}

/// Finds or creates the ids of every value in `unknown`.
pub(super) async fn resolve(
    tx: &mut Transaction<'_, Sqlite>,
    unknown: Unknown<'_>,
    known: &Dictionaries,
    now_ms: i64,
) -> Result<Dictionaries, sqlx::Error> {
    let mut new = Dictionaries::default();
    for key in unknown.keys {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_keys (key_hash, created_at) VALUES (?, ?)
             ON CONFLICT (key_hash) DO UPDATE SET key_hash = excluded.key_hash
             RETURNING id",
        )
        .bind(key.as_str())
        .bind(now_ms / 1000)
        .fetch_one(&mut **tx)
        .await?;
        new.keys.insert(*key, id);
    }
    dictionary(
        tx,
        "languages",
        "name",
        unknown.languages,
        &known.languages,
        &mut new.languages,
    )
    .await?;
    dictionary(
        tx,
        "endpoints",
        "path",
        unknown.endpoints,
        &known.endpoints,
        &mut new.endpoints,
    )
    .await?;
    Ok(new)
}

/// Ids of `values` in a dictionary table, created where missing.
pub(super) async fn dictionary(
    tx: &mut Transaction<'_, Sqlite>,
    table: &'static str,
    column: &'static str,
    values: FxHashSet<&str>,
    known: &FxHashMap<String, i64>,
    new: &mut FxHashMap<String, i64>,
) -> Result<(), sqlx::Error> {
    // Table and column names are the two fixed dictionaries above.
    let sql = format!(
        "INSERT INTO {table} ({column}) VALUES (?)
         ON CONFLICT ({column}) DO UPDATE SET {column} = excluded.{column} RETURNING id"
    );
    for value in values.into_iter().filter(|v| !known.contains_key(*v)) {
        let id: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .bind(value)
            .fetch_one(&mut **tx)
            .await?;
        new.insert(value.to_owned(), id);
    }
    Ok(())
}
