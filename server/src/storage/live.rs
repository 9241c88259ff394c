//! What the hot counters are rebuilt from.

use sqlx::Row;

use super::Storage;

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
    /// The last execution row the snapshot includes.
    pub through_row: i64,
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
        let through_row: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM executions")
            .fetch_one(&mut *tx)
            .await?;
        let minutes = sqlx::query(
            "SELECT e.created_at / 60000 AS unit, substr(k.key_hash, 1, 16) AS key,
                    e.language, e.status, COUNT(*) AS n, SUM(e.execution_time_ms) AS time_ms
             FROM executions e LEFT JOIN api_keys k ON k.id = e.key_id
             WHERE e.created_at >= ?
             GROUP BY 1, 2, 3, 4",
        )
        .bind(first_minute * 60_000)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(live_row)
        .collect::<Result<_, _>>()?;
        let hours = sqlx::query(
            "SELECT r.bucket / 3600 AS unit, substr(k.key_hash, 1, 16) AS key,
                    r.language, r.status, SUM(r.executions) AS n, SUM(r.sum_time_ms) AS time_ms
             FROM execution_rollup_hourly r LEFT JOIN api_keys k ON k.id = r.key_id
             WHERE r.bucket >= ?
             GROUP BY 1, 2, 3, 4",
        )
        .bind(first_hour * 3600)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(live_row)
        .collect::<Result<_, _>>()?;
        tx.commit().await?;
        Ok(LiveSnapshot {
            minutes,
            hours,
            through_row,
        })
    }
}

fn live_row(r: &sqlx::sqlite::SqliteRow) -> Result<LiveRow, sqlx::Error> {
    Ok(LiveRow {
        unit: r.try_get("unit")?,
        key: r.try_get("key")?,
        language: r.try_get("language")?,
        status: r.try_get("status")?,
        executions: r.try_get("n")?,
        time_ms: r.try_get("time_ms")?,
    })
}
