//! What the hot counters are rebuilt from.

use sqlx::Row;

use super::Storage;
use crate::counters::{CounterRow, DAYS_KEPT, HOURS_KEPT, MINUTES_KEPT, Window};

/// Counter rows for every kept window, and the last execution row they include.
pub struct CounterSnapshot {
    pub rows: Vec<CounterRow>,
    pub through_row: i64,
}

impl Storage {
    /// Reads, in one consistent snapshot, the executions of the last minutes
    /// (raw rows) and of the last hours and days (hourly rollups).
    pub async fn counter_snapshot(&self, now_minute: i64) -> Result<CounterSnapshot, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let through_row: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM executions")
            .fetch_one(&mut *tx)
            .await?;

        let mut rows = Vec::new();
        let first_minute = now_minute - MINUTES_KEPT + 1;
        let minutes = sqlx::query(
            "SELECT e.created_at / 60000 AS minute, substr(k.key_hash, 1, 16) AS key,
                    e.language, e.status, COUNT(*) AS n, SUM(e.execution_time_ms) AS time_ms
             FROM executions e LEFT JOIN api_keys k ON k.id = e.key_id
             WHERE e.created_at >= ?
             GROUP BY 1, 2, 3, 4",
        )
        .bind(first_minute * 60_000)
        .fetch_all(&mut *tx)
        .await?;
        for r in minutes {
            rows.push(counter_row(Window::Minute(r.try_get("minute")?), &r)?);
        }

        // Hours and days come from the hourly rollups; the oldest kept day
        // starts before the oldest kept hour, so read from the day.
        let first_hour = now_minute.div_euclid(60) - HOURS_KEPT + 1;
        let first_day = now_minute.div_euclid(1440) - DAYS_KEPT + 1;
        let from_secs = (first_hour * 3600).min(first_day * 86_400);
        let hours = sqlx::query(
            "SELECT r.bucket / 3600 AS hour, substr(k.key_hash, 1, 16) AS key,
                    r.language, r.status, SUM(r.executions) AS n, SUM(r.sum_time_ms) AS time_ms
             FROM execution_rollup_hourly r LEFT JOIN api_keys k ON k.id = r.key_id
             WHERE r.bucket >= ?
             GROUP BY 1, 2, 3, 4",
        )
        .bind(from_secs)
        .fetch_all(&mut *tx)
        .await?;
        for r in hours {
            let hour: i64 = r.try_get("hour")?;
            if hour >= first_hour {
                rows.push(counter_row(Window::Hour(hour), &r)?);
            }
            if hour.div_euclid(24) >= first_day {
                rows.push(counter_row(Window::Day(hour.div_euclid(24)), &r)?);
            }
        }
        tx.commit().await?;
        Ok(CounterSnapshot { rows, through_row })
    }
}

fn counter_row(window: Window, r: &sqlx::sqlite::SqliteRow) -> Result<CounterRow, sqlx::Error> {
    Ok(CounterRow {
        window,
        key: r.try_get("key")?,
        language: r.try_get("language")?,
        status: r.try_get("status")?,
        executions: r.try_get("n")?,
        time_ms: r.try_get("time_ms")?,
    })
}
