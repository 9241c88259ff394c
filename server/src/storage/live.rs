//! What the hot counters are rebuilt from.

use futures_util::TryStreamExt;
use sqlx::Row;

use super::{
    Storage,
    facts::{
        Dim, Executions, Fact,
        executions::{BY_STATUS, SUM_TIME_MS},
    },
    raw_write::first_id,
    rollup_sql::ALL_KEY_IDS,
};
use crate::model::{Coded, ExecStatus, Granularity, time::MINUTE_MS};

/// Executions of one minute or hour by key, language and status.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveRow {
    /// Minutes or hours since the Unix epoch.
    pub unit: i64,
    /// 16-hex key prefix; `None` for executions without a key.
    pub key: Option<String>,
    pub language: String,
    pub status: String,
    pub executions: i64,
    pub time_ms: f64,
}

/// The executions of the recent minutes and hours, read in one snapshot.
pub struct LiveSnapshot {
    pub minutes: Vec<LiveRow>,
    pub hours: Vec<LiveRow>,
    /// The last commit the snapshot includes (`writer_state.commit_seq`).
    pub through_commit: i64,
}

impl Storage {
    /// Reads, in one consistent snapshot, the executions of the minutes from
    /// `first_minute` (raw rows) and of the hours from `first_hour` (hourly
    /// rollups).
    pub async fn live_snapshot(
        &self,
        first_minute: i64,
        first_hour: i64,
    ) -> Result<LiveSnapshot, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let through_commit: i64 =
            sqlx::query_scalar("SELECT commit_seq FROM writer_state WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
        let fact = Executions::DECL;
        let raw = fact.raw.as_ref().expect("executions have raw rows");
        // One snapshot, so one transaction: the generic readers would each
        // take their own connection. Names come from the declarations.
        let minutes_sql = format!(
            "SELECT e.{time} / 60000 AS unit, substr(k.key_hash, 1, 16) AS key,
                    l.name AS language, e.status, COUNT(*) AS n, SUM(e.{value}) AS time_ms
             FROM {table} e LEFT JOIN api_keys k ON k.id = e.key_id
                  LEFT JOIN languages l ON l.id = e.language_id
             WHERE e.id >= ?
             GROUP BY 1, 2, 3, 4",
            time = raw.time_column,
            value = raw.hist_column.unwrap_or("execution_time_ms"),
            table = raw.table,
        );
        let mut minutes = Vec::new();
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(minutes_sql))
            .bind(first_id(first_minute * MINUTE_MS))
            .fetch(&mut *tx);
        while let Some(r) = rows.try_next().await? {
            let status = ExecStatus::from_code(r.try_get("status")?).unwrap_or(ExecStatus::Error);
            minutes.push(LiveRow {
                unit: r.try_get("unit")?,
                key: r.try_get("key")?,
                language: r
                    .try_get::<Option<String>, _>("language")?
                    .unwrap_or_default(),
                status: status.as_str().to_owned(),
                executions: r.try_get("n")?,
                time_ms: r.try_get("time_ms")?,
            });
        }
        // Hours: a row per status with executions; the row's time goes with
        // its first status (the rollups keep time per row, not per status).
        // Two days of hours of every key, read key by key along the primary
        // key (sqlite3 shell, 1 000-key database: 18 ms; 172 ms through the
        // bucket index), since this runs at every start beside the first calls.
        let statuses: Vec<String> = BY_STATUS
            .iter()
            .map(|m| Executions::DECL.measures[m.index()].column.to_owned())
            .collect();
        let time = fact.measures[SUM_TIME_MS.index()].column;
        let rollup = fact
            .rollups
            .iter()
            .find(|r| r.has_dims(&[Dim::Key, Dim::Language]) && r.has_grain(Granularity::Hour))
            .expect("a key × language rollup of hours");
        let sql = format!(
            "SELECT r.bucket / 3600 AS unit, substr(k.key_hash, 1, 16) AS key, l.name AS language,
                    r.{time} AS time_ms, {}
             FROM {} r NOT INDEXED LEFT JOIN api_keys k ON k.id = r.key_id
                  LEFT JOIN languages l ON l.id = r.language_id
             WHERE r.grain = {} AND r.{} IN ({ALL_KEY_IDS}) AND r.bucket >= ?",
            statuses.join(", "),
            rollup.table,
            Granularity::Hour.code(),
            Dim::Key.column(),
        );
        let mut hours = Vec::new();
        drop(rows);
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(first_hour * 3600)
            .fetch(&mut *tx);
        while let Some(r) = rows.try_next().await? {
            let mut time_ms: f64 = r.try_get("time_ms")?;
            for (code, column) in statuses.iter().enumerate() {
                let n: i64 = r.try_get(column.as_str())?;
                if n == 0 {
                    continue;
                }
                let status = ExecStatus::from_code(code as i64).unwrap_or(ExecStatus::Error);
                hours.push(LiveRow {
                    unit: r.try_get("unit")?,
                    key: r.try_get("key")?,
                    language: r
                        .try_get::<Option<String>, _>("language")?
                        .unwrap_or_default(),
                    status: status.as_str().to_owned(),
                    executions: n,
                    time_ms: std::mem::take(&mut time_ms),
                });
            }
        }
        drop(rows);
        tx.commit().await?;
        Ok(LiveSnapshot {
            minutes,
            hours,
            through_commit,
        })
    }
}
