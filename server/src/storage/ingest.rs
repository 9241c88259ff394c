//! The write path: one transaction per group of batches inserts the raw rows
//! (skipping ids already stored) and adds the new rows to the hourly and
//! daily rollups, so a reader never sees one without the other.

use std::collections::{HashMap, HashSet, hash_map::Entry};

use sqlx::{Row, Sqlite, SqliteConnection, Transaction};

use super::{
    Storage, keys,
    sql::{Bind, Merge, bind_all, insert_returning_new, rollup_upsert},
};
use crate::{
    histogram::{self, Counts},
    model::{ApiRequest, Batch, ContainerSource, ExecStatus, Execution, KeyHash, PoolEvent},
};

/// Rows per multi-row INSERT: 64 × 19 columns stays far below SQLite's
/// parameter limit and amortises the per-statement cost.
const INSERT_CHUNK: usize = 64;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// What one batch of a group came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Events stored by this batch.
    pub accepted: usize,
    /// Events whose id was already stored (or repeated within the group).
    pub duplicates: usize,
}

#[derive(Debug, Default)]
pub struct GroupOutcome {
    /// One entry per batch, in the order given.
    pub batches: Vec<BatchOutcome>,
    /// Per batch, per event: the row id of each event stored now, `None`
    /// for a duplicate.
    pub stored: Vec<Vec<Option<i64>>>,
}

/// Execution increments that do not come from events (OTLP metrics mapped
/// by `crate::otlp_mapping`): they go to the rollups only.
#[derive(Clone, Debug)]
pub struct MappedExecutions {
    pub ts_ms: i64,
    pub language: String,
    pub status: ExecStatus,
    pub executions: i64,
    pub sum_time_ms: f64,
    pub sum_memory_mb: f64,
    pub sum_queue_wait_ms: f64,
    pub hist: Option<Box<Counts>>,
}

/// `api_keys.id` by key hash. The writer owns one and passes it in; entries
/// are added only after the transaction that created them commits.
pub type KeyIds = HashMap<KeyHash, i64>;

impl Storage {
    /// Stores a group of batches in one transaction. Events already stored
    /// (same id) are counted as duplicates and change nothing.
    pub async fn commit_group(
        &self,
        batches: &[&Batch],
        key_ids: &mut KeyIds,
        received_at_ms: i64,
    ) -> Result<GroupOutcome, sqlx::Error> {
        // IMMEDIATE takes the write lock now, so the transaction cannot fail
        // half-way when another connection holds it: it waits (busy timeout).
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let new_keys = resolve_keys(&mut tx, batches, key_ids, received_at_ms).await?;
        let ids = |key: &Option<KeyHash>| -> i64 {
            key.as_ref().map_or(0, |k| {
                key_ids
                    .get(k)
                    .or_else(|| new_keys.get(k))
                    .copied()
                    .unwrap_or(0)
            })
        };
        keys::assign_tenants(&mut tx, &event_tenants(batches, &ids)).await?;

        let mut outcome = GroupOutcome::default();
        let mut rollups = Rollups::default();
        for batch in batches {
            let batch_outcome = match batch {
                Batch::Executions(events) => {
                    let stored = insert_executions(&mut tx, events, &ids, received_at_ms).await?;
                    for (event, row_id) in events.iter().zip(&stored) {
                        if row_id.is_some() {
                            rollups.add_execution(event, ids(&event.key));
                        }
                    }
                    stored
                }
                Batch::Requests(events) => {
                    let stored = insert_requests(&mut tx, events, &ids, received_at_ms).await?;
                    for (event, row_id) in events.iter().zip(&stored) {
                        if row_id.is_some() {
                            rollups.add_request(event, ids(&event.key));
                        }
                    }
                    stored
                }
                Batch::Pool(events) => {
                    let stored = insert_pool_events(&mut tx, events, received_at_ms).await?;
                    for (event, row_id) in events.iter().zip(&stored) {
                        if row_id.is_some() {
                            rollups.add_pool(event);
                        }
                    }
                    stored
                }
            };
            outcome.batches.push(count(&batch_outcome));
            outcome.stored.push(batch_outcome);
        }
        rollups.write(&mut tx).await?;
        tx.commit().await?;
        self.rollups_changed(rollups.touched_buckets());

        key_ids.extend(new_keys);
        Ok(outcome)
    }
}

impl Storage {
    /// Adds mapped increments to the hourly, daily and all-time rollups in
    /// one transaction.
    pub async fn add_mapped_executions(
        &self,
        items: &[MappedExecutions],
    ) -> Result<(), sqlx::Error> {
        let mut rollups = Rollups::default();
        for item in items {
            for granularity in Granularity::ALL {
                let group = ExecutionGroup {
                    granularity,
                    bucket: granularity.bucket(item.ts_ms),
                    key_id: 0,
                    language: item.language.clone(),
                    status: item.status.as_str(),
                    container_source: ContainerSource::Unknown.as_str(),
                };
                let s = entry(&mut rollups.executions, group);
                s.executions += item.executions;
                s.sum_time_ms += item.sum_time_ms;
                s.sum_memory_mb += item.sum_memory_mb;
                s.sum_queue_wait_ms += item.sum_queue_wait_ms;
                if let Some(hist) = &item.hist {
                    for (a, b) in s.hist.iter_mut().zip(hist.iter()) {
                        *a += b;
                    }
                }
            }
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        rollups.write(&mut tx).await?;
        tx.commit().await?;
        self.rollups_changed(rollups.touched_buckets());
        Ok(())
    }
}

fn count(stored: &[Option<i64>]) -> BatchOutcome {
    let accepted = stored.iter().filter(|id| id.is_some()).count();
    BatchOutcome {
        accepted,
        duplicates: stored.len() - accepted,
    }
}

/// Distinct `(key id, tenant)` pairs named by the group's events; of two
/// tenants for one key the later event's wins.
fn event_tenants<'b>(
    batches: &[&'b Batch],
    ids: &impl Fn(&Option<KeyHash>) -> i64,
) -> Vec<(i64, &'b str)> {
    let mut latest: HashMap<i64, &'b str> = HashMap::new();
    for (key, tenant) in batches.iter().flat_map(|b| keys_and_tenants(b)) {
        if let Some(tenant) = tenant {
            latest.insert(ids(key), tenant);
        }
    }
    latest.into_iter().filter(|(id, _)| *id != 0).collect()
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

/// Finds or creates the `api_keys` row of every key in the group that the
/// cache does not know yet.
async fn resolve_keys(
    tx: &mut Transaction<'static, Sqlite>,
    batches: &[&Batch],
    known: &KeyIds,
    now_ms: i64,
) -> Result<KeyIds, sqlx::Error> {
    let mut missing: HashSet<&KeyHash> = HashSet::new();
    for batch in batches {
        missing.extend(
            keys_and_tenants(batch)
                .filter_map(|(key, _)| key.as_ref())
                .filter(|k| !known.contains_key(*k)),
        );
    }
    let mut found = KeyIds::with_capacity(missing.len());
    for key in missing {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_keys (key_hash, created_at) VALUES (?, ?)
             ON CONFLICT (key_hash) DO UPDATE SET key_hash = excluded.key_hash
             RETURNING id",
        )
        .bind(key.as_str())
        .bind(now_ms / 1000)
        .fetch_one(&mut **tx)
        .await?;
        found.insert(key.clone(), id);
    }
    Ok(found)
}

/// Inserts rows in chunks with `ON CONFLICT DO NOTHING RETURNING`, and maps
/// the returned ids back to the events: `Some(row id)` for each event stored
/// now, `None` for a duplicate. Within one statement SQLite inserts rows in
/// order, so of two events with the same id the first is the one stored.
async fn insert_chunked<'e, T>(
    conn: &mut SqliteConnection,
    table: &str,
    columns: &[&str],
    unique: &str,
    events: &'e [T],
    id_of: impl Fn(&'e T) -> &'e str,
    row: impl Fn(&'e T, &mut Vec<Bind<'e>>),
) -> Result<Vec<Option<i64>>, sqlx::Error> {
    let mut stored = Vec::with_capacity(events.len());
    let mut binds = Vec::with_capacity(INSERT_CHUNK * columns.len());
    for chunk in events.chunks(INSERT_CHUNK) {
        binds.clear();
        for event in chunk {
            row(event, &mut binds);
        }
        let sql = insert_returning_new(table, columns, unique, chunk.len());
        let rows = bind_all(sqlx::query(sql), &binds)
            .fetch_all(&mut *conn)
            .await?;
        let mut new: HashMap<String, i64> = rows
            .iter()
            .map(|r| Ok((r.try_get::<String, _>(1)?, r.try_get::<i64, _>(0)?)))
            .collect::<Result<_, sqlx::Error>>()?;
        stored.extend(chunk.iter().map(|event| new.remove(id_of(event))));
    }
    Ok(stored)
}

const EXECUTION_COLUMNS: [&str; 19] = [
    "execution_id",
    "created_at",
    "key_id",
    "language",
    "status",
    "container_source",
    "execution_time_ms",
    "memory_peak_mb",
    "cpu_time_ms",
    "files_uploaded",
    "files_generated",
    "output_size_bytes",
    "state_size_bytes",
    "queue_wait_ms",
    "repl_mode",
    "session_id",
    "user_id",
    "entity_id",
    "received_at",
];

async fn insert_executions(
    tx: &mut Transaction<'static, Sqlite>,
    events: &[Execution],
    key_id: &impl Fn(&Option<KeyHash>) -> i64,
    received_at_ms: i64,
) -> Result<Vec<Option<i64>>, sqlx::Error> {
    insert_chunked(
        tx,
        "executions",
        &EXECUTION_COLUMNS,
        "execution_id",
        events,
        |e| e.execution_id.as_str(),
        |e, b| {
            b.extend([
                Bind::Text(&e.execution_id),
                Bind::Int(e.created_at_ms),
                Bind::Int(key_id(&e.key)),
                Bind::Text(&e.language),
                Bind::Text(e.status.as_str()),
                Bind::Text(e.container_source.as_str()),
                Bind::Real(e.execution_time_ms),
                Bind::Real(e.memory_peak_mb),
                Bind::Real(e.cpu_time_ms),
                Bind::Int(e.files_uploaded.into()),
                Bind::Int(e.files_generated.into()),
                Bind::Int(saturating_i64(e.output_size_bytes)),
                Bind::Int(saturating_i64(e.state_size_bytes)),
                Bind::Real(e.queue_wait_ms),
                Bind::Int(e.repl_mode.into()),
                Bind::OptText(e.session_id.as_deref()),
                Bind::OptText(e.user_id.as_deref()),
                Bind::OptText(e.entity_id.as_deref()),
                Bind::Int(received_at_ms),
            ]);
        },
    )
    .await
}

async fn insert_requests(
    tx: &mut Transaction<'static, Sqlite>,
    events: &[ApiRequest],
    key_id: &impl Fn(&Option<KeyHash>) -> i64,
    received_at_ms: i64,
) -> Result<Vec<Option<i64>>, sqlx::Error> {
    insert_chunked(
        tx,
        "api_requests",
        &[
            "request_id",
            "ts",
            "method",
            "endpoint",
            "status_code",
            "duration_ms",
            "key_id",
            "cache_hit",
            "client_ip",
            "user_agent",
            "error",
            "received_at",
        ],
        "request_id",
        events,
        |e| e.id.as_str(),
        |e, b| {
            b.extend([
                Bind::Text(&e.id),
                Bind::Int(e.ts_ms),
                Bind::Text(&e.method),
                Bind::Text(&e.endpoint),
                Bind::Int(e.status_code.into()),
                Bind::Real(e.duration_ms),
                Bind::Int(key_id(&e.key)),
                Bind::Int(e.cache_hit.into()),
                Bind::OptText(e.client_ip.as_deref()),
                Bind::OptText(e.user_agent.as_deref()),
                Bind::OptText(e.error.as_deref()),
                Bind::Int(received_at_ms),
            ]);
        },
    )
    .await
}

async fn insert_pool_events(
    tx: &mut Transaction<'static, Sqlite>,
    events: &[PoolEvent],
    received_at_ms: i64,
) -> Result<Vec<Option<i64>>, sqlx::Error> {
    insert_chunked(
        tx,
        "pool_events",
        &[
            "event_id",
            "ts",
            "kind",
            "language",
            "acquire_time_ms",
            "received_at",
        ],
        "event_id",
        events,
        |e| e.id.as_str(),
        |e, b| {
            b.extend([
                Bind::Text(&e.id),
                Bind::Int(e.ts_ms),
                Bind::Text(e.kind.as_str()),
                Bind::Text(&e.language),
                Bind::Real(e.acquire_time_ms),
                Bind::Int(received_at_ms),
            ]);
        },
    )
    .await
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

// ---------------------------------------------------------------------------
// Rollups

fn bucket_start(ts_ms: i64, width_secs: i64) -> i64 {
    ts_ms.div_euclid(1000).div_euclid(width_secs) * width_secs
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Granularity {
    Hourly,
    Daily,
    /// All time: one bucket (0), never expired.
    Total,
}

impl Granularity {
    const ALL: [Self; 3] = [Self::Hourly, Self::Daily, Self::Total];

    /// Start of the bucket holding `ts_ms`, Unix seconds.
    fn bucket(self, ts_ms: i64) -> i64 {
        match self {
            Self::Hourly => bucket_start(ts_ms, HOUR),
            Self::Daily => bucket_start(ts_ms, DAY),
            Self::Total => 0,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Self::Hourly => "hourly",
            Self::Daily => "daily",
            Self::Total => "total",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ExecutionGroup {
    granularity: Granularity,
    bucket: i64,
    key_id: i64,
    language: String,
    status: &'static str,
    container_source: &'static str,
}

#[derive(Clone, Debug)]
struct ExecutionSums {
    executions: i64,
    sum_time_ms: f64,
    max_time_ms: f64,
    sum_cpu_ms: f64,
    sum_memory_mb: f64,
    max_memory_mb: f64,
    sum_memory_mb_s: f64,
    sum_files_uploaded: i64,
    sum_files_generated: i64,
    sum_output_bytes: i64,
    sum_state_bytes: i64,
    sum_queue_wait_ms: f64,
    max_queue_wait_ms: f64,
    repl_executions: i64,
    hist: Box<Counts>,
}

impl Default for ExecutionSums {
    fn default() -> Self {
        Self {
            executions: 0,
            sum_time_ms: 0.0,
            max_time_ms: 0.0,
            sum_cpu_ms: 0.0,
            sum_memory_mb: 0.0,
            max_memory_mb: 0.0,
            sum_memory_mb_s: 0.0,
            sum_files_uploaded: 0,
            sum_files_generated: 0,
            sum_output_bytes: 0,
            sum_state_bytes: 0,
            sum_queue_wait_ms: 0.0,
            max_queue_wait_ms: 0.0,
            repl_executions: 0,
            hist: Box::new([0; histogram::BINS]),
        }
    }
}

const EXECUTION_ROLLUP_VALUES: [(&str, Merge); 14] = [
    ("executions", Merge::Sum),
    ("sum_time_ms", Merge::Sum),
    ("max_time_ms", Merge::Max),
    ("sum_cpu_ms", Merge::Sum),
    ("sum_memory_mb", Merge::Sum),
    ("max_memory_mb", Merge::Max),
    ("sum_memory_mb_s", Merge::Sum),
    ("sum_files_uploaded", Merge::Sum),
    ("sum_files_generated", Merge::Sum),
    ("sum_output_bytes", Merge::Sum),
    ("sum_state_bytes", Merge::Sum),
    ("sum_queue_wait_ms", Merge::Sum),
    ("max_queue_wait_ms", Merge::Max),
    ("repl_executions", Merge::Sum),
];

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct RequestGroup {
    granularity: Granularity,
    bucket: i64,
    endpoint: String,
    method: String,
    status_class: i64,
    key_id: i64,
}

#[derive(Clone, Debug)]
struct RequestSums {
    requests: i64,
    cache_hits: i64,
    with_error: i64,
    sum_duration_ms: f64,
    max_duration_ms: f64,
    hist: Box<Counts>,
}

impl Default for RequestSums {
    fn default() -> Self {
        Self {
            requests: 0,
            cache_hits: 0,
            with_error: 0,
            sum_duration_ms: 0.0,
            max_duration_ms: 0.0,
            hist: Box::new([0; histogram::BINS]),
        }
    }
}

const REQUEST_ROLLUP_VALUES: [(&str, Merge); 5] = [
    ("requests", Merge::Sum),
    ("cache_hits", Merge::Sum),
    ("with_error", Merge::Sum),
    ("sum_duration_ms", Merge::Sum),
    ("max_duration_ms", Merge::Max),
];

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PoolGroup {
    granularity: Granularity,
    bucket: i64,
    language: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Default)]
struct PoolSums {
    events: i64,
    sum_acquire_ms: f64,
    max_acquire_ms: f64,
}

const POOL_ROLLUP_VALUES: [(&str, Merge); 3] = [
    ("events", Merge::Sum),
    ("sum_acquire_ms", Merge::Sum),
    ("max_acquire_ms", Merge::Max),
];

/// Rollup increments of one group commit, added up in memory first so each
/// rollup row is written once per transaction however many events hit it.
#[derive(Default)]
struct Rollups {
    executions: HashMap<ExecutionGroup, ExecutionSums>,
    requests: HashMap<RequestGroup, RequestSums>,
    pool: HashMap<PoolGroup, PoolSums>,
}

fn entry<K: Eq + std::hash::Hash, V: Default>(map: &mut HashMap<K, V>, key: K) -> &mut V {
    match map.entry(key) {
        Entry::Occupied(e) => e.into_mut(),
        Entry::Vacant(e) => e.insert(V::default()),
    }
}

impl Rollups {
    fn add_execution(&mut self, e: &Execution, key_id: i64) {
        let bin = histogram::bin_of(e.execution_time_ms);
        for granularity in Granularity::ALL {
            let group = ExecutionGroup {
                granularity,
                bucket: granularity.bucket(e.created_at_ms),
                key_id,
                language: e.language.clone(),
                status: e.status.as_str(),
                container_source: e.container_source.as_str(),
            };
            let s = entry(&mut self.executions, group);
            s.executions += 1;
            s.sum_time_ms += e.execution_time_ms;
            s.max_time_ms = s.max_time_ms.max(e.execution_time_ms);
            s.sum_cpu_ms += e.cpu_time_ms;
            s.sum_memory_mb += e.memory_peak_mb;
            s.max_memory_mb = s.max_memory_mb.max(e.memory_peak_mb);
            s.sum_memory_mb_s += e.memory_peak_mb * e.execution_time_ms / 1000.0;
            s.sum_files_uploaded += i64::from(e.files_uploaded);
            s.sum_files_generated += i64::from(e.files_generated);
            s.sum_output_bytes = s
                .sum_output_bytes
                .saturating_add(saturating_i64(e.output_size_bytes));
            s.sum_state_bytes = s
                .sum_state_bytes
                .saturating_add(saturating_i64(e.state_size_bytes));
            s.sum_queue_wait_ms += e.queue_wait_ms;
            s.max_queue_wait_ms = s.max_queue_wait_ms.max(e.queue_wait_ms);
            s.repl_executions += i64::from(e.repl_mode);
            s.hist[bin] += 1;
        }
    }

    fn add_request(&mut self, r: &ApiRequest, key_id: i64) {
        let bin = histogram::bin_of(r.duration_ms);
        for granularity in Granularity::ALL {
            let group = RequestGroup {
                granularity,
                bucket: granularity.bucket(r.ts_ms),
                endpoint: r.endpoint.clone(),
                method: r.method.clone(),
                status_class: i64::from(r.status_code / 100),
                key_id,
            };
            let s = entry(&mut self.requests, group);
            s.requests += 1;
            s.cache_hits += i64::from(r.cache_hit);
            s.with_error += i64::from(r.error.is_some());
            s.sum_duration_ms += r.duration_ms;
            s.max_duration_ms = s.max_duration_ms.max(r.duration_ms);
            s.hist[bin] += 1;
        }
    }

    fn add_pool(&mut self, p: &PoolEvent) {
        for granularity in Granularity::ALL {
            let group = PoolGroup {
                granularity,
                bucket: granularity.bucket(p.ts_ms),
                language: p.language.clone(),
                kind: p.kind.as_str(),
            };
            let s = entry(&mut self.pool, group);
            s.events += 1;
            s.sum_acquire_ms += p.acquire_time_ms;
            s.max_acquire_ms = s.max_acquire_ms.max(p.acquire_time_ms);
        }
    }

    /// The hourly and daily buckets this commit changed, as (rollup table,
    /// bucket start), for the query cache.
    fn touched_buckets(&self) -> Vec<(&'static str, i64)> {
        fn table(fact: &str, g: Granularity) -> Option<&'static str> {
            Some(match (fact, g) {
                ("execution", Granularity::Hourly) => "execution_rollup_hourly",
                ("execution", Granularity::Daily) => "execution_rollup_daily",
                ("request", Granularity::Hourly) => "request_rollup_hourly",
                ("request", Granularity::Daily) => "request_rollup_daily",
                ("pool", Granularity::Hourly) => "pool_rollup_hourly",
                ("pool", Granularity::Daily) => "pool_rollup_daily",
                _ => return None,
            })
        }
        let mut touched: Vec<(&'static str, i64)> = Vec::new();
        touched.extend(
            self.executions
                .keys()
                .filter_map(|g| Some((table("execution", g.granularity)?, g.bucket))),
        );
        touched.extend(
            self.requests
                .keys()
                .filter_map(|g| Some((table("request", g.granularity)?, g.bucket))),
        );
        touched.extend(
            self.pool
                .keys()
                .filter_map(|g| Some((table("pool", g.granularity)?, g.bucket))),
        );
        touched.sort_unstable();
        touched.dedup();
        touched
    }

    async fn write(&self, tx: &mut Transaction<'static, Sqlite>) -> Result<(), sqlx::Error> {
        upsert_groups(
            tx,
            &self.executions,
            "execution_rollup",
            &["bucket", "key_id", "language", "status", "container_source"],
            &EXECUTION_ROLLUP_VALUES,
            |g| g.granularity,
            |g, s, b| {
                b.extend([
                    Bind::Int(g.bucket),
                    Bind::Int(g.key_id),
                    Bind::Text(&g.language),
                    Bind::Text(g.status),
                    Bind::Text(g.container_source),
                    Bind::Int(s.executions),
                    Bind::Real(s.sum_time_ms),
                    Bind::Real(s.max_time_ms),
                    Bind::Real(s.sum_cpu_ms),
                    Bind::Real(s.sum_memory_mb),
                    Bind::Real(s.max_memory_mb),
                    Bind::Real(s.sum_memory_mb_s),
                    Bind::Int(s.sum_files_uploaded),
                    Bind::Int(s.sum_files_generated),
                    Bind::Int(s.sum_output_bytes),
                    Bind::Int(s.sum_state_bytes),
                    Bind::Real(s.sum_queue_wait_ms),
                    Bind::Real(s.max_queue_wait_ms),
                    Bind::Int(s.repl_executions),
                ]);
                b.extend(s.hist.iter().map(|&c| Bind::Int(saturating_i64(c))));
            },
        )
        .await?;
        upsert_groups(
            tx,
            &self.requests,
            "request_rollup",
            &["bucket", "endpoint", "method", "status_class", "key_id"],
            &REQUEST_ROLLUP_VALUES,
            |g| g.granularity,
            |g, s, b| {
                b.extend([
                    Bind::Int(g.bucket),
                    Bind::Text(&g.endpoint),
                    Bind::Text(&g.method),
                    Bind::Int(g.status_class),
                    Bind::Int(g.key_id),
                    Bind::Int(s.requests),
                    Bind::Int(s.cache_hits),
                    Bind::Int(s.with_error),
                    Bind::Real(s.sum_duration_ms),
                    Bind::Real(s.max_duration_ms),
                ]);
                b.extend(s.hist.iter().map(|&c| Bind::Int(saturating_i64(c))));
            },
        )
        .await?;
        upsert_groups(
            tx,
            &self.pool,
            "pool_rollup",
            &["bucket", "language", "kind"],
            &POOL_ROLLUP_VALUES,
            |g| g.granularity,
            |g, s, b| {
                b.extend([
                    Bind::Int(g.bucket),
                    Bind::Text(&g.language),
                    Bind::Text(g.kind),
                    Bind::Int(s.events),
                    Bind::Real(s.sum_acquire_ms),
                    Bind::Real(s.max_acquire_ms),
                ]);
            },
        )
        .await
    }
}

/// Upserts every group of one rollup family (`{family}_hourly`, `_daily`,
/// `_total`). `binds` lists a group's key columns, values and, when the
/// family has one, its histogram, in column order.
async fn upsert_groups<'a, K, V>(
    tx: &mut Transaction<'static, Sqlite>,
    groups: &'a HashMap<K, V>,
    family: &str,
    keys: &[&str],
    values: &[(&str, Merge)],
    granularity: impl Fn(&K) -> Granularity,
    binds: impl Fn(&'a K, &'a V, &mut Vec<Bind<'a>>),
) -> Result<(), sqlx::Error> {
    let has_hist = family != "pool_rollup";
    let sql =
        |g: Granularity| rollup_upsert(&format!("{family}_{}", g.suffix()), keys, values, has_hist);
    let statements = [
        (Granularity::Hourly, sql(Granularity::Hourly)),
        (Granularity::Daily, sql(Granularity::Daily)),
        (Granularity::Total, sql(Granularity::Total)),
    ];
    let mut buffer: Vec<Bind<'a>> = Vec::with_capacity(32 + histogram::BINS);
    for (key, sums) in groups {
        let g = granularity(key);
        let Some((_, statement)) = statements.iter().find(|(s, _)| *s == g) else {
            continue;
        };
        buffer.clear();
        binds(key, sums, &mut buffer);
        bind_all(
            sqlx::query(sqlx::AssertSqlSafe(std::sync::Arc::clone(&statement.0))),
            &buffer,
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
