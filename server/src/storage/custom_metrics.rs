//! Custom metric series and points (from OTLP).

use std::collections::BTreeMap;

use sqlx::Row;

use super::{
    Storage,
    facts::{Fact, MetricPoints, Values, metrics},
    rollup_write::{self, Deltas, HotRows},
};
use crate::{histogram::Histogram, model::Granularity};

#[derive(Clone, Debug, PartialEq)]
pub enum PointValue {
    Number(f64),
    Histogram {
        count: u64,
        sum: f64,
        bounds: Vec<f64>,
        buckets: Vec<u64>,
    },
}

/// One received data point.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricPoint {
    pub name: String,
    pub unit: String,
    /// `sum`, `gauge`, `histogram` or `summary`.
    pub kind: &'static str,
    pub monotonic: bool,
    /// Cumulative temporality: the value is a running total since a start
    /// time, and the increase is the difference to the previous point.
    pub cumulative: bool,
    pub attributes: BTreeMap<String, String>,
    pub ts_ms: i64,
    pub value: PointValue,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Cardinality(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub use app::types::{
    CustomMetric as MetricInfo, CustomPoint as PointOut, CustomSeries as SeriesPoints,
};

/// The increase from the previous stored point (`value`, `count`,
/// `buckets`) to `now`; a decrease means the source restarted.
fn increase(now: &PointValue, previous: Option<&sqlx::sqlite::SqliteRow>) -> PointValue {
    let Some(previous) = previous else {
        return now.clone();
    };
    let before: f64 = previous.try_get("value").unwrap_or(0.0);
    match now {
        PointValue::Number(v) if *v >= before => PointValue::Number(v - before),
        PointValue::Number(v) => PointValue::Number(*v),
        PointValue::Histogram {
            count,
            sum,
            bounds,
            buckets,
        } => {
            let before_count = previous
                .try_get::<Option<i64>, _>("count")
                .ok()
                .flatten()
                .unwrap_or(0)
                .max(0)
                .unsigned_abs();
            let before_buckets: Vec<u64> = previous
                .try_get::<Option<String>, _>("buckets")
                .ok()
                .flatten()
                .and_then(|b| serde_json::from_str(&b).ok())
                .unwrap_or_default();
            let restarted = *count < before_count
                || (!before_buckets.is_empty() && before_buckets.len() != buckets.len());
            if restarted {
                return now.clone();
            }
            PointValue::Histogram {
                count: count - before_count,
                sum: sum - before,
                bounds: bounds.clone(),
                buckets: buckets
                    .iter()
                    .enumerate()
                    .map(|(i, n)| n.saturating_sub(before_buckets.get(i).copied().unwrap_or(0)))
                    .collect(),
            }
        }
    }
}

impl Storage {
    /// Stores points in one transaction, creating series as needed; refuses
    /// the whole request when it would take the series past `max_series`.
    ///
    /// Returns, for every sum and histogram point, its increase over the
    /// previous point of its series (the value itself for delta temporality;
    /// after a counter reset, the new value).
    pub async fn store_metric_points(
        &self,
        points: &[MetricPoint],
        now_ms: i64,
        max_series: u32,
    ) -> Result<Vec<(usize, PointValue)>, StoreError> {
        let mut increases = Vec::new();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut ids: BTreeMap<(String, String), i64> = BTreeMap::new();
        let fact = super::commit::fact_index(MetricPoints::DECL);
        let mut rollups = Deltas::default();
        for (index, point) in points.iter().enumerate() {
            let attributes =
                serde_json::to_string(&point.attributes).unwrap_or_else(|_| "{}".to_owned());
            let key = (point.name.clone(), attributes);
            let id = match ids.get(&key) {
                Some(id) => *id,
                None => {
                    let existing: Option<i64> = sqlx::query_scalar(
                        "SELECT id FROM metric_series WHERE name = ?1 AND attributes = ?2",
                    )
                    .bind(&key.0)
                    .bind(&key.1)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let id = match existing {
                        Some(id) => id,
                        None => {
                            let count: i64 =
                                sqlx::query_scalar("SELECT COUNT(*) FROM metric_series")
                                    .fetch_one(&mut *tx)
                                    .await?;
                            if count >= i64::from(max_series) {
                                return Err(StoreError::Cardinality(format!(
                                    "metric `{}`: a new series would exceed the limit of {max_series} series (TALLY_MAX_METRIC_SERIES); \
                                     drop high-cardinality attributes",
                                    point.name
                                )));
                            }
                            sqlx::query_scalar(
                                "INSERT INTO metric_series (name, kind, unit, monotonic, attributes, created_at)
                                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                            )
                            .bind(&key.0)
                            .bind(point.kind)
                            .bind(&point.unit)
                            .bind(point.monotonic)
                            .bind(&key.1)
                            .bind(now_ms / 1000)
                            .fetch_one(&mut *tx)
                            .await?
                        }
                    };
                    ids.insert(key, id);
                    id
                }
            };
            if point.kind != "gauge" {
                let previous = if point.cumulative {
                    sqlx::query(
                        "SELECT value, count, buckets FROM metric_points
                         WHERE series_id = ?1 AND ts <= ?2 ORDER BY ts DESC, id DESC LIMIT 1",
                    )
                    .bind(id)
                    .bind(point.ts_ms)
                    .fetch_optional(&mut *tx)
                    .await?
                } else {
                    None
                };
                increases.push((index, increase(&point.value, previous.as_ref())));
            }
            let (value, count, bounds, buckets) = match &point.value {
                PointValue::Number(v) => (*v, None, None, None),
                PointValue::Histogram {
                    count,
                    sum,
                    bounds,
                    buckets,
                } => (
                    *sum,
                    Some(i64::try_from(*count).unwrap_or(i64::MAX)),
                    (!bounds.is_empty()).then(|| serde_json::to_string(bounds).unwrap_or_default()),
                    (!buckets.is_empty())
                        .then(|| serde_json::to_string(buckets).unwrap_or_default()),
                ),
            };
            sqlx::query(
                "INSERT INTO metric_points (series_id, ts, value, count, bounds, buckets, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .bind(id)
            .bind(point.ts_ms)
            .bind(if value.is_finite() { value } else { 0.0 })
            .bind(count)
            .bind(bounds)
            .bind(buckets)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            let stored = if value.is_finite() { value } else { 0.0 };
            let mut values = Values::<MetricPoints>::new();
            for measure in [metrics::SUM, metrics::MIN, metrics::MAX, metrics::LAST] {
                values.set(measure, stored);
            }
            values.set(metrics::POINTS, 1.0);
            values.set(metrics::LAST_TS, point.ts_ms as f64);
            rollups.add(
                fact,
                point.ts_ms,
                &[id, 0, 0],
                values.as_slice(),
                &Histogram::new(),
            );
        }
        rollup_write::write(&mut tx, rollups, &HotRows::none(), now_ms).await?;
        tx.commit().await?;
        Ok(increases)
    }

    /// Every custom metric with its series and point counts.
    pub async fn metric_catalog(&self) -> Result<Vec<MetricInfo>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT s.name, MIN(s.kind) AS kind, MIN(s.unit) AS unit, COUNT(DISTINCT s.id) AS series,
                    (SELECT COUNT(*) FROM metric_points p JOIN metric_series t ON t.id = p.series_id WHERE t.name = s.name) AS points,
                    GROUP_CONCAT(s.attributes, '\n') AS attributes
             FROM metric_series s GROUP BY s.name ORDER BY s.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let attributes: String = r.try_get("attributes")?;
                let mut keys: Vec<String> = attributes
                    .lines()
                    .filter_map(|l| serde_json::from_str::<BTreeMap<String, String>>(l).ok())
                    .flat_map(|m| m.into_keys())
                    .collect();
                keys.sort();
                keys.dedup();
                Ok(MetricInfo {
                    name: r.try_get("name")?,
                    kind: r.try_get("kind")?,
                    unit: r.try_get("unit")?,
                    series: r.try_get("series")?,
                    points: r.try_get("points")?,
                    attribute_keys: keys,
                })
            })
            .collect()
    }

    /// The series of `name` whose attributes include `filter`, with their
    /// points in `[from_ms, to_ms)` (at most `limit` per series, newest).
    pub async fn metric_points(
        &self,
        name: &str,
        filter: &BTreeMap<String, String>,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> Result<Vec<SeriesPoints>, sqlx::Error> {
        let mut out = Vec::new();
        for (s, attributes) in self.matching_series(name, filter).await? {
            let id: i64 = s.try_get("id")?;
            let mut points: Vec<PointOut> = sqlx::query(
                "SELECT ts, value, count, bounds, buckets FROM metric_points
                 WHERE series_id = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts DESC LIMIT ?4",
            )
            .bind(id)
            .bind(from_ms)
            .bind(to_ms)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|p| {
                Ok(PointOut {
                    ts_ms: p.try_get("ts")?,
                    value: p.try_get("value")?,
                    count: p.try_get("count")?,
                    bounds: p
                        .try_get::<Option<String>, _>("bounds")?
                        .and_then(|b| serde_json::from_str(&b).ok()),
                    buckets: p
                        .try_get::<Option<String>, _>("buckets")?
                        .and_then(|b| serde_json::from_str(&b).ok()),
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
            points.reverse();
            out.push(SeriesPoints {
                attributes,
                kind: s.try_get("kind")?,
                monotonic: s.try_get("monotonic")?,
                points,
            });
        }
        Ok(out)
    }

    /// The series of `name` (rows: id, kind, monotonic) whose attributes
    /// include every pair of `filter`, with their attributes.
    async fn matching_series(
        &self,
        name: &str,
        filter: &BTreeMap<String, String>,
    ) -> Result<Vec<(sqlx::sqlite::SqliteRow, BTreeMap<String, String>)>, sqlx::Error> {
        let series = sqlx::query(
            "SELECT id, kind, monotonic, attributes FROM metric_series WHERE name = ?1 ORDER BY id",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        let mut matching = Vec::with_capacity(series.len());
        for s in series {
            let attributes: BTreeMap<String, String> =
                serde_json::from_str(&s.try_get::<String, _>("attributes")?).unwrap_or_default();
            if filter.iter().all(|(k, v)| attributes.get(k) == Some(v)) {
                matching.push((s, attributes));
            }
        }
        Ok(matching)
    }

    /// The points of the series of `name` matching `filter` in
    /// `[from_ms, to_ms)`, per `bucket_ms` bucket: the average, or with
    /// `max` the largest value (for running totals). Buckets without points
    /// are left out.
    pub async fn metric_buckets(
        &self,
        name: &str,
        filter: &BTreeMap<String, String>,
        (from_ms, to_ms): (i64, i64),
        bucket_ms: i64,
        max: bool,
    ) -> Result<Vec<(i64, f64)>, sqlx::Error> {
        let aggregate = if max { "MAX(value)" } else { "AVG(value)" };
        let sql = format!(
            "SELECT (ts / ?4) * ?4 AS bucket, {aggregate} FROM metric_points
             WHERE series_id = ?1 AND ts >= ?2 AND ts < ?3 GROUP BY bucket ORDER BY bucket"
        );
        let mut merged: BTreeMap<i64, (f64, u32)> = BTreeMap::new();
        for (s, _) in self.matching_series(name, filter).await? {
            let rows: Vec<(i64, f64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(s.try_get::<i64, _>("id")?)
                .bind(from_ms)
                .bind(to_ms)
                .bind(bucket_ms.max(1))
                .fetch_all(&self.pool)
                .await?;
            for (bucket, value) in rows {
                let entry = merged.entry(bucket).or_insert((0.0, 0));
                entry.0 += value;
                entry.1 += 1;
            }
        }
        // Several matching series (several hosts): their mean per bucket.
        Ok(merged
            .into_iter()
            .map(|(bucket, (sum, n))| (bucket, sum / f64::from(n)))
            .collect())
    }

    /// Hourly or daily rollups of the series of `name` matching `filter`,
    /// for buckets starting in `[from_ms, to_ms)`.
    pub async fn metric_rollups(
        &self,
        name: &str,
        filter: &BTreeMap<String, String>,
        daily: bool,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<serde_json::Value>, sqlx::Error> {
        let grain = if daily {
            Granularity::Day
        } else {
            Granularity::Hour
        };
        let fact = MetricPoints::DECL;
        let measures: Vec<String> = fact
            .measures
            .iter()
            .map(|m| format!("r.{}", m.column))
            .collect();
        // Column names come from the declaration.
        let sql = format!(
            "SELECT s.attributes, r.bucket, {} FROM {} r JOIN metric_series s ON s.id = r.series_id
             WHERE r.grain = ?4 AND s.name = ?1 AND r.bucket >= ?2 AND r.bucket < ?3
             ORDER BY s.id, r.bucket",
            measures.join(", "),
            fact.rollups[0].table
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .bind(from_ms.div_euclid(1000))
            .bind(to_ms.div_euclid(1000))
            .bind(grain.code())
            .fetch_all(&self.pool)
            .await?;
        let mut series: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
        for row in &rows {
            let attributes: String = row.try_get("attributes")?;
            let parsed: BTreeMap<String, String> =
                serde_json::from_str(&attributes).unwrap_or_default();
            if filter.iter().any(|(k, v)| parsed.get(k) != Some(v)) {
                continue;
            }
            let values: Box<[f64]> = fact
                .measures
                .iter()
                .enumerate()
                .map(|(i, m)| match m.kind {
                    super::facts::ColumnType::Int => row.try_get::<i64, _>(2 + i).map(|v| v as f64),
                    _ => row.try_get::<f64, _>(2 + i),
                })
                .collect::<Result<_, _>>()?;
            let v = Values::<MetricPoints>::from_raw(values);
            series
                .entry(attributes)
                .or_default()
                .push(serde_json::json!({
                    "bucket_start_ms": row.try_get::<i64, _>("bucket")? * 1000,
                    "points": v.get(metrics::POINTS) as i64,
                    "sum": v.get(metrics::SUM),
                    "min": v.get(metrics::MIN),
                    "max": v.get(metrics::MAX),
                    "last": v.get(metrics::LAST),
                }));
        }
        Ok(series
            .into_iter()
            .map(|(attributes, buckets)| {
                serde_json::json!({
                    "attributes": serde_json::from_str::<serde_json::Value>(&attributes).unwrap_or_default(),
                    "buckets": buckets,
                })
            })
            .collect())
    }

    /// Deletes up to `limit` custom metric points older than `cutoff_ms`.
    pub async fn delete_metric_points_before(
        &self,
        cutoff_ms: i64,
        limit: i64,
    ) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query("DELETE FROM metric_points WHERE id IN (SELECT id FROM metric_points WHERE ts < ?1 LIMIT ?2)")
            .bind(cutoff_ms)
            .bind(limit)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
