//! Requests, pool events and the daily and all-time execution rollups of
//! the legacy schema.

use sqlx::{Row, Sqlite, Transaction, sqlite::SqliteRow};

use super::{
    DAY_S, Frozen, LEGACY_BINS, PAGE, UpgradeIds, executions::legacy_execution, insert_runs,
    legacy_hist,
};
use crate::{
    histogram::Histogram,
    model::{Coded, Granularity, PoolKind, method_code},
    storage::{
        commit::fact_index,
        facts::{
            DimValues, Executions, Fact, PoolEvents, Recorded, Requests, Values, pool,
            requests as req,
        },
        rollup_write::{self, Deltas, HotRows},
    },
};

/// Converts one legacy rollup table (daily or total executions, or any of
/// requests and pool) to `grain` of the new rollups, a day at a time.
pub(super) async fn convert(
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
pub(super) async fn copy_raw<R: Recorded>(
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
pub(super) trait LegacyEvent: Sized {
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
