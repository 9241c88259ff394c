//! Start-up steps that SQL migrations cannot do alone: the histogram's bin
//! edges (computed the way Rust computes them) and the conversion of a
//! database of the schema before storage v2, whose tables migration 0009
//! renamed `legacy_*`.
//!
//! The conversion runs in one transaction, so a crash leaves the legacy
//! tables in place and it runs again at the next start. Raw rows are copied
//! with their new ids and hashes; hourly, daily and all-time rollups are
//! regrouped into the new rollups, their histograms spread from the old
//! quarter-octave bins evenly over the eight new bins each spans; the new
//! quarter-hour grain is rebuilt from the raw rows, and what the hourly
//! rollups held beyond them (executions mapped from OTLP metrics, rows
//! retention had already removed) is placed at the start of its hour.

use std::collections::HashMap;

use sqlx::{Row, Sqlite, SqlitePool, Transaction, sqlite::SqliteRow};

use super::{
    Storage,
    commit::fact_index,
    facts::{
        DimValues, Executions, Fact, Ids, PoolEvents, Recorded, Requests, Values,
        executions as exec, pool, requests as req,
    },
    raw_write,
    rollup_write::{self, Deltas, HotRows},
};
use crate::{
    histogram::{self, Histogram},
    model::{
        Coded, ContainerSource, ExecStatus, Execution, Granularity, KeyHash, PoolKind, method_code,
    },
};

/// Bins of the histogram before storage v2, and new bins per old bin.
const LEGACY_BINS: usize = 106;
const SPLIT: usize = histogram::PER_OCTAVE / 4;
const PAGE: i64 = 5000;
const DAY_S: i64 = 86_400;

/// Writes the bin edges to `histogram_bins` unless they are there already.
pub(super) async fn histogram_bins(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    let (count, top): (i64, Option<f64>) =
        sqlx::query_as("SELECT COUNT(*), MAX(lower_ms) FROM histogram_bins")
            .fetch_one(pool)
            .await?;
    let last = histogram::lower_edge(histogram::BINS - 1);
    if count == histogram::BINS as i64 && top.is_some_and(|t| t.to_bits() == last.to_bits()) {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM histogram_bins")
        .execute(&mut *tx)
        .await?;
    for bin in 0..histogram::BINS {
        sqlx::query("INSERT INTO histogram_bins (bin, lower_ms) VALUES (?, ?)")
            .bind(bin as i64)
            .bind(histogram::lower_edge(bin))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

async fn has_table(tx: &mut Transaction<'static, Sqlite>, name: &str) -> Result<bool, sqlx::Error> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?")
            .bind(name)
            .fetch_one(&mut **tx)
            .await?;
    Ok(n > 0)
}

/// Converts and drops the legacy tables, if there are any.
pub(super) async fn legacy_tables(storage: &Storage) -> Result<(), sqlx::Error> {
    let mut tx = storage.pool.begin_with("BEGIN IMMEDIATE").await?;
    if !has_table(&mut tx, "legacy_executions").await? {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let mut ids = UpgradeIds::load(&mut tx).await?;
    let executions = copy_executions(&mut tx, &mut ids).await?;
    let requests = copy_raw::<Requests>(&mut tx, &mut ids).await?;
    let pool = copy_raw::<PoolEvents>(&mut tx, &mut ids).await?;
    for (legacy, grain) in [
        ("legacy_execution_rollup_daily", Granularity::Day),
        ("legacy_execution_rollup_total", Granularity::Total),
        ("legacy_request_rollup_hourly", Granularity::Hour),
        ("legacy_request_rollup_daily", Granularity::Day),
        ("legacy_request_rollup_total", Granularity::Total),
        ("legacy_pool_rollup_hourly", Granularity::Hour),
        ("legacy_pool_rollup_daily", Granularity::Day),
        ("legacy_pool_rollup_total", Granularity::Total),
    ] {
        convert_rollup(&mut tx, &mut ids, legacy, grain).await?;
    }
    for (legacy, grain) in [
        ("legacy_metric_rollup_hourly", Granularity::Hour),
        ("legacy_metric_rollup_daily", Granularity::Day),
    ] {
        // Same measures, same merge: a copy.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO metric_rollup (grain, bucket, series_id, points, sum, min, max, last, last_ts)
             SELECT {}, bucket, series_id, points, sum, min, max, last, last_ts FROM {legacy}",
            grain.code()
        )))
        .execute(&mut *tx)
        .await?;
    }
    ids.save(&mut tx).await?;
    for table in [
        "legacy_executions",
        "legacy_api_requests",
        "legacy_pool_events",
        "legacy_execution_rollup_hourly",
        "legacy_execution_rollup_daily",
        "legacy_execution_rollup_total",
        "legacy_request_rollup_hourly",
        "legacy_request_rollup_daily",
        "legacy_request_rollup_total",
        "legacy_pool_rollup_hourly",
        "legacy_pool_rollup_daily",
        "legacy_pool_rollup_total",
        "legacy_metric_rollup_hourly",
        "legacy_metric_rollup_daily",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    if executions + requests + pool > 0 {
        tracing::info!(
            executions,
            requests,
            pool,
            seconds = started.elapsed().as_secs_f64(),
            "Database upgraded to storage v2."
        );
    }
    Ok(())
}

/// Key ids by hash, and dictionary ids (created as needed, saved at the end).
struct UpgradeIds {
    key_hashes: HashMap<i64, KeyHash>,
    keys: HashMap<KeyHash, i64>,
    languages: HashMap<String, i64>,
    endpoints: HashMap<String, i64>,
}

impl UpgradeIds {
    async fn load(tx: &mut Transaction<'static, Sqlite>) -> Result<Self, sqlx::Error> {
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, key_hash FROM api_keys")
            .fetch_all(&mut **tx)
            .await?;
        let mut ids = Self {
            key_hashes: HashMap::new(),
            keys: HashMap::new(),
            languages: HashMap::new(),
            endpoints: HashMap::new(),
        };
        for (id, hash) in rows {
            if let Ok(hash) = KeyHash::parse(&hash) {
                ids.key_hashes.insert(id, hash.clone());
                ids.keys.insert(hash, id);
            }
        }
        Ok(ids)
    }

    fn id_of(map: &mut HashMap<String, i64>, value: &str) -> i64 {
        let next = map.len() as i64 + 1;
        *map.entry(value.to_owned()).or_insert(next)
    }

    async fn save(&self, tx: &mut Transaction<'static, Sqlite>) -> Result<(), sqlx::Error> {
        for (table, column, map) in [
            ("languages", "name", &self.languages),
            ("endpoints", "path", &self.endpoints),
        ] {
            for (value, id) in map {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO {table} (id, {column}) VALUES (?, ?)"
                )))
                .bind(id)
                .bind(value)
                .execute(&mut **tx)
                .await?;
            }
        }
        Ok(())
    }
}

/// Reads ids that [`UpgradeIds::id_of`] has already given out.
struct Frozen<'a>(&'a UpgradeIds);

impl Ids for Frozen<'_> {
    fn key(&self, key: Option<&KeyHash>) -> i64 {
        key.and_then(|k| self.0.keys.get(k)).copied().unwrap_or(0)
    }
    fn language(&self, name: &str) -> i64 {
        self.0.languages.get(name).copied().unwrap_or(0)
    }
    fn endpoint(&self, path: &str) -> i64 {
        self.0.endpoints.get(path).copied().unwrap_or(0)
    }
}

/// A legacy histogram (106 columns from `first`), in the new bins.
fn legacy_hist(
    row: &SqliteRow,
    first: usize,
) -> Result<(Histogram, [u64; LEGACY_BINS]), sqlx::Error> {
    let mut old = [0u64; LEGACY_BINS];
    for (i, slot) in old.iter_mut().enumerate() {
        *slot = row.try_get::<i64, _>(first + i)?.max(0).unsigned_abs();
    }
    Ok((rebin(&old), old))
}

/// Old bin 0 is new bin 0, old bin 105 the new last bin; old bin `i`
/// between spans new bins `8(i−1)+1 ..= 8i`. Its count goes to the two new
/// bins at its geometric middle, where the old release read its
/// percentiles: data from before the upgrade keeps that release's accuracy
/// (within 9.1 %, plus the new bins' 2.2 %).
fn rebin(old: &[u64; LEGACY_BINS]) -> Histogram {
    let mut h = Histogram::new();
    h.add_to_bin(0, old[0]);
    h.add_to_bin(histogram::BINS - 1, old[LEGACY_BINS - 1]);
    for (i, &count) in old.iter().enumerate().take(LEGACY_BINS - 1).skip(1) {
        let middle = SPLIT * (i - 1) + 1 + SPLIT / 2;
        h.add_to_bin(middle - 1, count / 2);
        h.add_to_bin(middle, count - count / 2);
    }
    h
}

/// The legacy bin of a new bin.
fn legacy_bin(bin: usize) -> usize {
    match bin {
        0 => 0,
        b if b >= histogram::BINS - 1 => LEGACY_BINS - 1,
        b => (b - 1) / SPLIT + 1,
    }
}

/// Executions: raw rows, the quarter-hour grain from them, the hourly
/// rollups with what they held beyond the raw rows, by day.
async fn copy_executions(
    tx: &mut Transaction<'static, Sqlite>,
    ids: &mut UpgradeIds,
) -> Result<u64, sqlx::Error> {
    let (first, last): (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT MIN(t), MAX(t) FROM (SELECT MIN(created_at) / 1000 AS t FROM legacy_executions
           UNION ALL SELECT MAX(created_at) / 1000 FROM legacy_executions
           UNION ALL SELECT MIN(bucket) FROM legacy_execution_rollup_hourly
           UNION ALL SELECT MAX(bucket) FROM legacy_execution_rollup_hourly)",
    )
    .fetch_one(&mut **tx)
    .await?;
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(0);
    };
    let fact = fact_index(Executions::DECL);
    let mut copied = 0u64;
    let mut day = first.div_euclid(DAY_S) * DAY_S;
    while day <= last {
        let mut deltas = Deltas::default();
        // What the raw rows add to each hour, in the legacy bins, per
        // projection that has a quarter-hour grain.
        let mut raw_hours: HourTotals = HashMap::new();
        let rows = sqlx::query(
            "SELECT e.*, k.key_hash FROM legacy_executions e LEFT JOIN api_keys k ON k.id = e.key_id
             WHERE e.created_at >= ? AND e.created_at < ? ORDER BY e.created_at",
        )
        .bind(day * 1000)
        .bind((day + DAY_S) * 1000)
        .fetch_all(&mut **tx)
        .await?;
        let mut events: Vec<(Execution, i64)> = Vec::with_capacity(rows.len());
        for row in &rows {
            let language: String = row.try_get("language")?;
            UpgradeIds::id_of(&mut ids.languages, &language);
            let key: Option<String> = row.try_get("key_hash")?;
            events.push((
                Execution {
                    execution_id: row.try_get("execution_id")?,
                    key: key.and_then(|k| KeyHash::parse(&k).ok()),
                    tenant: None,
                    language,
                    status: ExecStatus::from_name(&row.try_get::<String, _>("status")?)
                        .unwrap_or(ExecStatus::Error),
                    execution_time_ms: row.try_get("execution_time_ms")?,
                    memory_peak_mb: row.try_get("memory_peak_mb")?,
                    cpu_time_ms: row.try_get("cpu_time_ms")?,
                    container_source: ContainerSource::from_name(
                        &row.try_get::<String, _>("container_source")?,
                    )
                    .unwrap_or(ContainerSource::Unknown),
                    files_uploaded: row
                        .try_get::<i64, _>("files_uploaded")?
                        .clamp(0, u32::MAX.into()) as u32,
                    files_generated: row
                        .try_get::<i64, _>("files_generated")?
                        .clamp(0, u32::MAX.into()) as u32,
                    output_size_bytes: row
                        .try_get::<i64, _>("output_size_bytes")?
                        .max(0)
                        .unsigned_abs(),
                    state_size_bytes: row
                        .try_get::<i64, _>("state_size_bytes")?
                        .max(0)
                        .unsigned_abs(),
                    queue_wait_ms: row.try_get("queue_wait_ms")?,
                    repl_mode: row.try_get::<i64, _>("repl_mode")? != 0,
                    session_id: row.try_get("session_id")?,
                    user_id: row.try_get("user_id")?,
                    entity_id: row.try_get("entity_id")?,
                    created_at_ms: row.try_get("created_at")?,
                    stamped: false,
                },
                row.try_get("received_at")?,
            ));
        }
        copied += events.len() as u64;
        insert_runs::<Executions>(tx, &events, &Frozen(ids)).await?;
        let frozen = Frozen(ids);
        for (event, _) in &events {
            let mut values = Values::<Executions>::new();
            Executions::contribute(event, &mut values);
            let mut hist = Histogram::new();
            hist.record(event.execution_time_ms);
            let dims = Executions::dims(event, &frozen);
            deltas.add_at(
                fact,
                event.created_at_ms,
                &dims,
                values.as_slice(),
                &hist,
                Granularity::QuarterHour,
            );
            let hour = Granularity::Hour.bucket_of(event.created_at_ms);
            for (r, projected) in quarter_hour_projections(&dims) {
                let entry = raw_hours
                    .entry((r, hour, projected))
                    .or_insert_with(|| (Values::new(), [0; LEGACY_BINS]));
                entry.0.merge(values.as_slice());
                entry.1[legacy_bin(histogram::bin_of(event.execution_time_ms))] += 1;
            }
        }
        // The hourly rollups of the day: the hour grain as they are, and
        // what they hold beyond the raw rows at the start of their hour.
        let rows = sqlx::query(
            "SELECT * FROM legacy_execution_rollup_hourly WHERE bucket >= ? AND bucket < ?",
        )
        .bind(day)
        .bind(day + DAY_S)
        .fetch_all(&mut **tx)
        .await?;
        let mut legacy_hours: HourTotals = HashMap::new();
        for row in &rows {
            let (bucket, dims, values, hist, old) = legacy_execution(row, ids)?;
            deltas.add_at(
                fact,
                bucket * 1000,
                &dims,
                values.as_slice(),
                &hist,
                Granularity::Hour,
            );
            for (r, projected) in quarter_hour_projections(&dims) {
                let entry = legacy_hours
                    .entry((r, bucket, projected))
                    .or_insert_with(|| (Values::new(), [0; LEGACY_BINS]));
                entry.0.merge(values.as_slice());
                for (a, b) in entry.1.iter_mut().zip(old) {
                    *a += b;
                }
            }
        }
        for ((r, hour, dims), (legacy, old)) in legacy_hours {
            let (raw, raw_old) = raw_hours
                .remove(&(r, hour, dims))
                .unwrap_or_else(|| (Values::new(), [0; LEGACY_BINS]));
            if legacy.get(exec::EXECUTIONS) <= raw.get(exec::EXECUTIONS) {
                continue;
            }
            let mut residual = legacy.clone();
            for (i, m) in Executions::DECL.measures.iter().enumerate() {
                if m.merge == super::facts::Merge::Sum {
                    let v = legacy.as_slice()[i] - raw.as_slice()[i];
                    residual.set(super::facts::Measure::at(i), v.max(0.0));
                }
            }
            let mut rest = [0u64; LEGACY_BINS];
            for (i, slot) in rest.iter_mut().enumerate() {
                *slot = old[i].saturating_sub(raw_old[i]);
            }
            deltas.add_rollup(
                fact,
                r,
                hour * 1000,
                &dims,
                residual.as_slice(),
                &rebin(&rest),
                Granularity::QuarterHour,
            );
        }
        rollup_write::write(tx, deltas, &HotRows::none(), i64::MAX).await?;
        day += DAY_S;
    }
    Ok(copied)
}

/// The execution rollups with a quarter-hour grain, with `dims` (the fact's
/// order) projected onto each.
fn quarter_hour_projections(dims: &DimValues) -> Vec<(usize, DimValues)> {
    let fact = Executions::DECL;
    fact.rollups
        .iter()
        .enumerate()
        .filter(|(_, r)| r.has_grain(Granularity::QuarterHour))
        .map(|(i, r)| {
            let mut projected = [0; 3];
            for (slot, dim) in projected.iter_mut().zip(r.dims) {
                *slot = fact.dim_index(*dim).map_or(0, |d| dims[d]);
            }
            (i, projected)
        })
        .collect()
}

/// Per (rollup, hour, dims): measures and legacy-binned histogram.
type HourTotals = HashMap<(usize, i64, DimValues), (Values<Executions>, [u64; LEGACY_BINS])>;

type LegacyRow<F> = (i64, DimValues, Values<F>, Histogram, [u64; LEGACY_BINS]);

/// A legacy execution rollup row in the new measures.
fn legacy_execution(
    row: &SqliteRow,
    ids: &mut UpgradeIds,
) -> Result<LegacyRow<Executions>, sqlx::Error> {
    let n = |c: &str| -> Result<f64, sqlx::Error> {
        Ok(match row.try_get::<f64, _>(c) {
            Ok(v) => v,
            Err(_) => row.try_get::<i64, _>(c)? as f64,
        })
    };
    let language: String = row.try_get("language")?;
    let status =
        ExecStatus::from_name(&row.try_get::<String, _>("status")?).unwrap_or(ExecStatus::Error);
    let source = ContainerSource::from_name(&row.try_get::<String, _>("container_source")?)
        .unwrap_or(ContainerSource::Unknown);
    let executions = n("executions")?;
    let mut v = Values::<Executions>::new();
    v.set(exec::EXECUTIONS, executions);
    v.set(exec::BY_STATUS[status.code() as usize], executions);
    match source {
        ContainerSource::PoolHit => {
            v.set(exec::POOL_HITS, executions);
            v.set(exec::TIME_POOL_HIT_MS, n("sum_time_ms")?);
        }
        ContainerSource::PoolMiss => {
            v.set(exec::POOL_MISSES, executions);
            v.set(exec::TIME_POOL_MISS_MS, n("sum_time_ms")?);
        }
        ContainerSource::Unknown => {}
    }
    for (measure, column) in [
        (exec::SUM_TIME_MS, "sum_time_ms"),
        (exec::MAX_TIME_MS, "max_time_ms"),
        (exec::SUM_CPU_MS, "sum_cpu_ms"),
        (exec::SUM_MEMORY_MB, "sum_memory_mb"),
        (exec::MAX_MEMORY_MB, "max_memory_mb"),
        (exec::SUM_MEMORY_MB_S, "sum_memory_mb_s"),
        (exec::FILES_UPLOADED, "sum_files_uploaded"),
        (exec::FILES_GENERATED, "sum_files_generated"),
        (exec::OUTPUT_BYTES, "sum_output_bytes"),
        (exec::STATE_BYTES, "sum_state_bytes"),
        (exec::SUM_QUEUE_WAIT_MS, "sum_queue_wait_ms"),
        (exec::MAX_QUEUE_WAIT_MS, "max_queue_wait_ms"),
        (exec::REPL_EXECUTIONS, "repl_executions"),
    ] {
        v.set(measure, n(column)?);
    }
    let first = row.columns().len() - LEGACY_BINS;
    let (hist, old) = legacy_hist(row, first)?;
    let dims = [
        row.try_get("key_id")?,
        UpgradeIds::id_of(&mut ids.languages, &language),
        0,
    ];
    Ok((row.try_get("bucket")?, dims, v, hist, old))
}

/// Converts one legacy rollup table (daily or total executions, or any of
/// requests and pool) to `grain` of the new rollups, a day at a time.
async fn convert_rollup(
    tx: &mut Transaction<'static, Sqlite>,
    ids: &mut UpgradeIds,
    legacy: &str,
    grain: Granularity,
) -> Result<(), sqlx::Error> {
    let mut after = i64::MIN;
    loop {
        let next: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT MIN(bucket) FROM {legacy} WHERE bucket > ?"
        )))
        .bind(after)
        .fetch_one(&mut **tx)
        .await?;
        let Some(start) = next else {
            return Ok(());
        };
        let end = start.div_euclid(DAY_S) * DAY_S + DAY_S;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM {legacy} WHERE bucket >= ? AND bucket < ?"
        )))
        .bind(start)
        .bind(end)
        .fetch_all(&mut **tx)
        .await?;
        let mut deltas = Deltas::default();
        for row in &rows {
            let (fact, bucket, dims, values, hist) = if legacy.starts_with("legacy_execution") {
                let (b, d, v, h, _) = legacy_execution(row, ids)?;
                (fact_index(Executions::DECL), b, d, v.into_raw(), h)
            } else if legacy.starts_with("legacy_request") {
                let (b, d, v, h) = legacy_request(row, ids)?;
                (fact_index(Requests::DECL), b, d, v.into_raw(), h)
            } else {
                let (b, d, v) = legacy_pool(row, ids)?;
                (
                    fact_index(PoolEvents::DECL),
                    b,
                    d,
                    v.into_raw(),
                    Histogram::new(),
                )
            };
            deltas.add_at(fact, bucket * 1000, &dims, &values, &hist, grain);
        }
        rollup_write::write(tx, deltas, &HotRows::none(), i64::MAX).await?;
        after = end - 1;
    }
}

fn legacy_request(
    row: &SqliteRow,
    ids: &mut UpgradeIds,
) -> Result<(i64, DimValues, Values<Requests>, Histogram), sqlx::Error> {
    let requests = row.try_get::<i64, _>("requests")? as f64;
    let class: i64 = row.try_get("status_class")?;
    let mut v = Values::<Requests>::new();
    v.set(req::REQUESTS, requests);
    if let Some((_, m)) = req::BY_CLASS.iter().find(|(c, _)| i64::from(*c) == class) {
        v.set(*m, requests);
    }
    v.set(req::CACHE_HITS, row.try_get::<i64, _>("cache_hits")? as f64);
    v.set(req::WITH_ERROR, row.try_get::<i64, _>("with_error")? as f64);
    v.set(req::SUM_DURATION_MS, row.try_get("sum_duration_ms")?);
    v.set(req::MAX_DURATION_MS, row.try_get("max_duration_ms")?);
    let endpoint: String = row.try_get("endpoint")?;
    let dims = [
        row.try_get("key_id")?,
        UpgradeIds::id_of(&mut ids.endpoints, &endpoint),
        method_code(&row.try_get::<String, _>("method")?),
    ];
    let first = row.columns().len() - LEGACY_BINS;
    Ok((row.try_get("bucket")?, dims, v, legacy_hist(row, first)?.0))
}

fn legacy_pool(
    row: &SqliteRow,
    ids: &mut UpgradeIds,
) -> Result<(i64, DimValues, Values<PoolEvents>), sqlx::Error> {
    let events = row.try_get::<i64, _>("events")? as f64;
    let sum: f64 = row.try_get("sum_acquire_ms")?;
    let kind =
        PoolKind::from_name(&row.try_get::<String, _>("kind")?).unwrap_or(PoolKind::Exhausted);
    let mut v = Values::<PoolEvents>::new();
    v.set(pool::EVENTS, events);
    v.set(pool::SUM_ACQUIRE_MS, sum);
    v.set(pool::MAX_ACQUIRE_MS, row.try_get("max_acquire_ms")?);
    let (count, time) = pool::BY_KIND[kind.code() as usize];
    v.set(count, events);
    v.set(time, sum);
    let language: String = row.try_get("language")?;
    let dims = [UpgradeIds::id_of(&mut ids.languages, &language), 0, 0];
    Ok((row.try_get("bucket")?, dims, v))
}

/// Raw requests or pool events, page by page.
async fn copy_raw<R: Recorded>(
    tx: &mut Transaction<'static, Sqlite>,
    ids: &mut UpgradeIds,
) -> Result<u64, sqlx::Error>
where
    R::Event: LegacyEvent + Clone,
{
    let mut after = 0i64;
    let mut copied = 0u64;
    loop {
        let rows = sqlx::query(R::Event::page_sql())
            .bind(after)
            .bind(PAGE)
            .fetch_all(&mut **tx)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(copied);
        };
        after = last.try_get("id")?;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            events.push((R::Event::from_row(row, ids)?, row.try_get("received_at")?));
        }
        copied += events.len() as u64;
        insert_runs::<R>(tx, &events, &Frozen(ids)).await?;
    }
}

/// A raw event of the legacy schema.
trait LegacyEvent: Sized {
    fn page_sql() -> &'static str;
    fn from_row(row: &SqliteRow, ids: &mut UpgradeIds) -> Result<Self, sqlx::Error>;
}

impl LegacyEvent for crate::model::ApiRequest {
    fn page_sql() -> &'static str {
        "SELECT * FROM legacy_api_requests WHERE id > ? ORDER BY id LIMIT ?"
    }

    fn from_row(row: &SqliteRow, ids: &mut UpgradeIds) -> Result<Self, sqlx::Error> {
        let endpoint: String = row.try_get("endpoint")?;
        UpgradeIds::id_of(&mut ids.endpoints, &endpoint);
        let key_id: i64 = row.try_get("key_id")?;
        Ok(Self {
            id: row.try_get("request_id")?,
            ts_ms: row.try_get("ts")?,
            stamped: false,
            method: row.try_get("method")?,
            endpoint,
            status_code: row.try_get::<i64, _>("status_code")?.clamp(100, 599) as u16,
            duration_ms: row.try_get("duration_ms")?,
            key: ids.key_hashes.get(&key_id).cloned(),
            tenant: None,
            cache_hit: row.try_get::<i64, _>("cache_hit")? != 0,
            client_ip: row.try_get("client_ip")?,
            user_agent: row.try_get("user_agent")?,
            error: row.try_get("error")?,
        })
    }
}

impl LegacyEvent for crate::model::PoolEvent {
    fn page_sql() -> &'static str {
        "SELECT * FROM legacy_pool_events WHERE id > ? ORDER BY id LIMIT ?"
    }

    fn from_row(row: &SqliteRow, ids: &mut UpgradeIds) -> Result<Self, sqlx::Error> {
        let language: String = row.try_get("language")?;
        UpgradeIds::id_of(&mut ids.languages, &language);
        Ok(Self {
            id: row.try_get("event_id")?,
            ts_ms: row.try_get("ts")?,
            stamped: false,
            kind: PoolKind::from_name(&row.try_get::<String, _>("kind")?)
                .unwrap_or(PoolKind::Exhausted),
            language,
            acquire_time_ms: row.try_get("acquire_time_ms")?,
        })
    }
}

/// Inserts events in runs of equal arrival time.
async fn insert_runs<R: Recorded>(
    tx: &mut Transaction<'static, Sqlite>,
    events: &[(R::Event, i64)],
    ids: &dyn Ids,
) -> Result<(), sqlx::Error>
where
    R::Event: Clone,
{
    let Some(raw) = &R::DECL.raw else {
        return Ok(());
    };
    let mut start = 0;
    while start < events.len() {
        let received = events[start].1;
        let end = events[start..]
            .iter()
            .position(|(_, r)| *r != received)
            .map_or(events.len(), |n| start + n);
        let run: Vec<R::Event> = events[start..end].iter().map(|(e, _)| e.clone()).collect();
        raw_write::insert::<R>(tx, raw, &run, ids, received).await?;
        start = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebinning_keeps_counts_inside_their_old_bins() {
        let mut old = [0u64; LEGACY_BINS];
        old[0] = 2;
        old[1] = 9;
        old[40] = 3;
        old[105] = 1;
        let h = rebin(&old);
        assert_eq!(h.total(), 15);
        for &(bin, _) in h.bins() {
            let b = usize::from(bin);
            assert!(old[legacy_bin(b)] > 0, "bin {b}");
            // The new bin lies inside its old bin.
            let old_lower = if legacy_bin(b) == 0 {
                0.0
            } else {
                0.1 * 2f64.powf((legacy_bin(b) - 1) as f64 / 4.0)
            };
            assert!(histogram::lower_edge(b) >= old_lower - 1e-12);
        }
        let first: u64 = h
            .bins()
            .iter()
            .filter(|(b, _)| legacy_bin(usize::from(*b)) == 1)
            .map(|(_, n)| n)
            .sum();
        assert_eq!(first, 9);
    }
}
