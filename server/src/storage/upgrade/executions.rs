//! Executions of the legacy schema: raw rows, the minute and quarter-hour
//! grains rebuilt from them, and the hourly rollups with what they held beyond the
//! raw rows.

use std::collections::HashMap;

use sqlx::{Row, Sqlite, Transaction, sqlite::SqliteRow};

use super::{DAY_S, Frozen, LEGACY_BINS, UpgradeIds, insert_runs, legacy_bin, legacy_hist, rebin};
use crate::{
    histogram::{self, Histogram},
    model::{Coded, ContainerSource, ExecStatus, Execution, Granularity, KeyHash},
    storage::{
        commit::fact_index,
        facts::{
            DimValues, Executions, Fact, Measure, Merge, Recorded, Values, executions as exec,
        },
        rollup_write::{self, Deltas, HotRows},
    },
};

/// Executions: raw rows, the minute and quarter-hour grains from them, the hourly
/// rollups with what they held beyond the raw rows, by day.
pub(super) async fn copy(
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
            for grain in [Granularity::Minute, Granularity::QuarterHour] {
                deltas.add_at(
                    fact,
                    event.created_at_ms,
                    &dims,
                    values.as_slice(),
                    &hist,
                    grain,
                );
            }
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
                if m.merge == Merge::Sum {
                    let v = legacy.as_slice()[i] - raw.as_slice()[i];
                    residual.set(Measure::at(i), v.max(0.0));
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

pub(super) type LegacyRow<F> = (i64, DimValues, Values<F>, Histogram, [u64; LEGACY_BINS]);

/// A legacy execution rollup row in the new measures.
pub(super) fn legacy_execution(
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
