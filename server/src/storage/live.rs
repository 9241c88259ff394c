//! What the hot counters are rebuilt from.

use futures_util::TryStreamExt;
use sqlx::Row;

use super::{
    Storage,
    facts::{
        Dim, Executions, Fact, Measure,
        executions::{BY_STATUS, EXECUTIONS, SUM_TIME_MS},
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

/// Executions of one hour, in total or for one value of one dimension.
#[derive(Clone, Debug, PartialEq)]
pub struct HourCount {
    /// Hours since the Unix epoch.
    pub hour: i64,
    pub of: HourDim,
    pub executions: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum HourDim {
    /// Every execution of the hour, with their time (ms).
    Total {
        time_ms: f64,
    },
    Status(ExecStatus),
    Language(String),
    /// 16-hex key prefix; `None` for executions without a key.
    Key(Option<String>),
}

/// The executions of the recent minutes and hours, read in one snapshot.
pub struct LiveSnapshot {
    pub minutes: Vec<LiveRow>,
    pub hours: Vec<HourCount>,
    /// The last commit the snapshot includes (`writer_state.commit_seq`).
    pub through_commit: i64,
}

impl Storage {
    /// Reads, in one consistent snapshot, the executions of the minutes from
    /// `first_minute` (raw rows, by key, language and status) and of the
    /// hours from `first_hour` (hourly rollups, in total and by each
    /// dimension).
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
        // Hours: each dimension from the smallest rollup that has it (the
        // counters keep one field per value of each dimension, never their
        // combinations), so a rebuild reads a row per active key and hour
        // rather than one per key, language and hour.
        drop(rows);
        let mut hours = Vec::new();
        let rollup = |dims: &[Dim]| {
            fact.rollups
                .iter()
                .find(|r| r.dims == dims && r.has_grain(Granularity::Hour))
                .expect("the execution rollups have hours")
        };
        let column = |m: Measure<Executions>| fact.measures[m.index()].column;
        let statuses: Vec<&str> = BY_STATUS.iter().map(|m| column(*m)).collect();
        let totals_sql = format!(
            "SELECT bucket / 3600 AS hour, {n}, {time}, {statuses} FROM {table}
             WHERE grain = {grain} AND bucket >= ?",
            n = column(EXECUTIONS),
            time = column(SUM_TIME_MS),
            statuses = statuses.join(", "),
            table = rollup(&[]).table,
            grain = Granularity::Hour.code(),
        );
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(totals_sql))
            .bind(first_hour * 3600)
            .fetch(&mut *tx);
        while let Some(r) = rows.try_next().await? {
            let hour: i64 = r.try_get("hour")?;
            hours.push(HourCount {
                hour,
                of: HourDim::Total {
                    time_ms: r.try_get(column(SUM_TIME_MS))?,
                },
                executions: r.try_get(column(EXECUTIONS))?,
            });
            for (code, name) in statuses.iter().enumerate() {
                let status = ExecStatus::from_code(code as i64).unwrap_or(ExecStatus::Error);
                hours.push(HourCount {
                    hour,
                    of: HourDim::Status(status),
                    executions: r.try_get(*name)?,
                });
            }
        }
        drop(rows);
        let languages_sql = format!(
            "SELECT r.bucket / 3600 AS hour, l.name AS name, r.{n} AS n FROM {table} r
             LEFT JOIN languages l ON l.id = r.{language}
             WHERE r.grain = {grain} AND r.bucket >= ?",
            n = column(EXECUTIONS),
            table = rollup(&[Dim::Language]).table,
            language = Dim::Language.column(),
            grain = Granularity::Hour.code(),
        );
        // A key's hours lie together along the primary key: read key by key
        // (sqlite3 shell, 1 000-key database: a few ms; far slower through
        // the bucket index), since this runs at every start beside the
        // first calls.
        let keys_sql = format!(
            "SELECT r.bucket / 3600 AS hour, substr(k.key_hash, 1, 16) AS name, r.{n} AS n
             FROM {table} r NOT INDEXED LEFT JOIN api_keys k ON k.id = r.{key}
             WHERE r.grain = {grain} AND r.{key} IN ({ALL_KEY_IDS}) AND r.bucket >= ?",
            n = column(EXECUTIONS),
            table = rollup(&[Dim::Key]).table,
            key = Dim::Key.column(),
            grain = Granularity::Hour.code(),
        );
        for (sql, is_key) in [(languages_sql, false), (keys_sql, true)] {
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(first_hour * 3600)
                .fetch(&mut *tx);
            while let Some(r) = rows.try_next().await? {
                let name: Option<String> = r.try_get("name")?;
                hours.push(HourCount {
                    hour: r.try_get("hour")?,
                    of: if is_key {
                        HourDim::Key(name)
                    } else {
                        HourDim::Language(name.unwrap_or_default())
                    },
                    executions: r.try_get("n")?,
                });
            }
        }
        tx.commit().await?;
        Ok(LiveSnapshot {
            minutes,
            hours,
            through_commit,
        })
    }
}
