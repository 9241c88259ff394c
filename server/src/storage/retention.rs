//! Retention: reading expired raw rows (for the archive) and deleting them
//! and old rollups in small batches, so the writer is never held up long.

use serde_json::{Map, Value};
use sqlx::{Column, Row, TypeInfo, sqlite::SqliteRow};

use super::{Storage, sql::Sql};

/// A table of raw events and its timestamp column (Unix ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawTable {
    Executions,
    Requests,
    Pool,
}

impl RawTable {
    pub const ALL: [Self; 3] = [Self::Executions, Self::Requests, Self::Pool];

    pub fn name(self) -> &'static str {
        match self {
            Self::Executions => "executions",
            Self::Requests => "api_requests",
            Self::Pool => "pool_events",
        }
    }

    fn time_column(self) -> &'static str {
        match self {
            Self::Executions => "created_at",
            Self::Requests | Self::Pool => "ts",
        }
    }

    /// Rows to archive, with the key hash in place of the internal key id.
    fn select_page(self) -> &'static str {
        match self {
            Self::Executions => {
                "SELECT t.*, k.key_hash FROM executions t LEFT JOIN api_keys k ON k.id = t.key_id
                 WHERE t.created_at < ?1 AND t.id <= ?2 AND t.id > ?3 ORDER BY t.id LIMIT ?4"
            }
            Self::Requests => {
                "SELECT t.*, k.key_hash FROM api_requests t LEFT JOIN api_keys k ON k.id = t.key_id
                 WHERE t.ts < ?1 AND t.id <= ?2 AND t.id > ?3 ORDER BY t.id LIMIT ?4"
            }
            Self::Pool => {
                "SELECT t.* FROM pool_events t
                 WHERE t.ts < ?1 AND t.id <= ?2 AND t.id > ?3 ORDER BY t.id LIMIT ?4"
            }
        }
    }
}

/// Rollup tables and the retention that applies to each.
pub const HOURLY_ROLLUPS: [&str; 4] = [
    "execution_rollup_hourly",
    "request_rollup_hourly",
    "pool_rollup_hourly",
    "metric_rollup_hourly",
];
pub const DAILY_ROLLUPS: [&str; 4] = [
    "execution_rollup_daily",
    "request_rollup_daily",
    "pool_rollup_daily",
    "metric_rollup_daily",
];

fn text(sql: String) -> Sql {
    sqlx::AssertSqlSafe(sql.into())
}

impl Storage {
    /// The newest row id of `table`: rows added after it are never touched
    /// by a retention run that started before them.
    pub async fn max_row_id(&self, table: RawTable) -> Result<i64, sqlx::Error> {
        // Table names come from the closed `RawTable` set, never from input.
        sqlx::query_scalar(text(format!(
            "SELECT COALESCE(MAX(id), 0) FROM {}",
            table.name()
        )))
        .fetch_one(&self.pool)
        .await
    }

    /// Up to `limit` expired rows with ids in `(after_id, max_id]`, as JSON
    /// objects (column → value), in id order.
    pub async fn expired_rows(
        &self,
        table: RawTable,
        cutoff_ms: i64,
        max_id: i64,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Map<String, Value>)>, sqlx::Error> {
        let rows = sqlx::query(table.select_page())
            .bind(cutoff_ms)
            .bind(max_id)
            .bind(after_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get::<i64, _>("id")?, row_to_json(row)?)))
            .collect()
    }

    /// Deletes up to `limit` expired rows with ids up to `max_id`; returns
    /// how many went.
    pub async fn delete_expired(
        &self,
        table: RawTable,
        cutoff_ms: i64,
        max_id: i64,
        limit: i64,
    ) -> Result<u64, sqlx::Error> {
        let sql = format!(
            "DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE {c} < ?1 AND id <= ?2 ORDER BY id LIMIT ?3)",
            t = table.name(),
            c = table.time_column(),
        );
        Ok(sqlx::query(text(sql))
            .bind(cutoff_ms)
            .bind(max_id)
            .bind(limit)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Deletes the rollup rows of up to `buckets` buckets of `table` that
    /// start before `cutoff_secs`; returns how many rows went. `table` must
    /// be one of [`HOURLY_ROLLUPS`] or [`DAILY_ROLLUPS`].
    pub async fn delete_rollups_before(
        &self,
        table: &'static str,
        cutoff_secs: i64,
        buckets: i64,
    ) -> Result<u64, sqlx::Error> {
        debug_assert!(HOURLY_ROLLUPS.contains(&table) || DAILY_ROLLUPS.contains(&table));
        let sql = format!(
            "DELETE FROM {table} WHERE bucket IN
               (SELECT DISTINCT bucket FROM {table} WHERE bucket < ?1 ORDER BY bucket LIMIT ?2)"
        );
        let deleted = sqlx::query(text(sql))
            .bind(cutoff_secs)
            .bind(buckets)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if DAILY_ROLLUPS.contains(&table) {
            self.daily_rollups_removed_before(cutoff_secs);
        }
        Ok(deleted)
    }
}

/// A row as a JSON object, whatever its columns.
fn row_to_json(row: &SqliteRow) -> Result<Map<String, Value>, sqlx::Error> {
    let mut object = Map::new();
    for column in row.columns() {
        let name = column.name();
        if name == "key_id" {
            continue; // internal; the archive carries key_hash
        }
        let value = match column.type_info().name() {
            "NULL" => Value::Null,
            "INTEGER" => row.try_get::<Option<i64>, _>(column.ordinal())?.into(),
            "REAL" => row.try_get::<Option<f64>, _>(column.ordinal())?.into(),
            _ => row.try_get::<Option<String>, _>(column.ordinal())?.into(),
        };
        object.insert(name.to_owned(), value);
    }
    Ok(object)
}
