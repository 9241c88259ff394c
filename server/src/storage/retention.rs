//! Retention: reading expired raw rows (for the archive) and deleting them
//! and old rollups in small batches, so the writer is never held up long.

use serde_json::{Map, Value};
use sqlx::{Column, Row, TypeInfo, sqlite::SqliteRow};

use super::{
    Storage,
    facts::{self, Executions, Fact, PoolEvents, RawDecl, Requests},
    raw_write::first_id,
    sql::Sql,
};
use crate::model::Granularity;

/// A table of raw events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawTable {
    Executions,
    Requests,
    Pool,
}

impl RawTable {
    pub const ALL: [Self; 3] = [Self::Executions, Self::Requests, Self::Pool];

    fn decl(self) -> &'static RawDecl {
        let fact = match self {
            Self::Executions => Executions::DECL,
            Self::Requests => Requests::DECL,
            Self::Pool => PoolEvents::DECL,
        };
        fact.raw
            .as_ref()
            .expect("facts with events have a raw table")
    }

    /// The readable name (the view), also the archive files' prefix.
    pub fn name(self) -> &'static str {
        self.decl().view
    }

    /// Rows to archive, as the view shows them, with the key hash in place
    /// of the internal key id.
    fn select_page(self) -> Sql {
        let view = self.name();
        let text = if self == Self::Pool {
            format!(
                "SELECT t.* FROM {view} t WHERE t.id < ?1 AND t.id <= ?2 AND t.id > ?3 ORDER BY t.id LIMIT ?4"
            )
        } else {
            format!(
                "SELECT t.*, k.key_hash FROM {view} t LEFT JOIN api_keys k ON k.id = t.key_id
                 WHERE t.id < ?1 AND t.id <= ?2 AND t.id > ?3 ORDER BY t.id LIMIT ?4"
            )
        };
        sqlx::AssertSqlSafe(text.into())
    }
}

fn text(sql: String) -> Sql {
    sqlx::AssertSqlSafe(sql.into())
}

impl Storage {
    /// The newest row id of `table`: rows added after it are never touched
    /// by a retention run that started before them.
    pub async fn max_row_id(&self, table: RawTable) -> Result<i64, sqlx::Error> {
        // Table names come from the declarations, never from input.
        sqlx::query_scalar(text(format!(
            "SELECT COALESCE(MAX(id), 0) FROM {}",
            table.decl().table
        )))
        .fetch_one(&self.pool)
        .await
    }

    /// Up to `limit` rows stamped before `cutoff_ms` with ids in
    /// `(after_id, max_id]`, as JSON objects (column → value), in id order.
    pub async fn expired_rows(
        &self,
        table: RawTable,
        cutoff_ms: i64,
        max_id: i64,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Map<String, Value>)>, sqlx::Error> {
        let rows = sqlx::query(table.select_page())
            .bind(first_id(cutoff_ms))
            .bind(max_id)
            .bind(after_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get::<i64, _>("id")?, row_to_json(row)?)))
            .collect()
    }

    /// Deletes up to `limit` rows stamped before `cutoff_ms` with ids up to
    /// `max_id`; returns how many went.
    pub async fn delete_expired(
        &self,
        table: RawTable,
        cutoff_ms: i64,
        max_id: i64,
        limit: i64,
    ) -> Result<u64, sqlx::Error> {
        let sql = format!(
            "DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE id < ?1 AND id <= ?2 ORDER BY id LIMIT ?3)",
            t = table.decl().table,
        );
        Ok(sqlx::query(text(sql))
            .bind(first_id(cutoff_ms))
            .bind(max_id)
            .bind(limit)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Deletes the rows of up to `buckets` buckets per rollup table that
    /// ended by their cutoff: `detail_cutoff_secs` for the quarter-hour and
    /// hour grains, `daily_cutoff_secs` for days and weeks (all-time rows
    /// stay). Returns how many rows went.
    pub async fn delete_rollups_before(
        &self,
        detail_cutoff_secs: i64,
        daily_cutoff_secs: i64,
        buckets: i64,
    ) -> Result<u64, sqlx::Error> {
        let mut deleted = 0;
        for fact in facts::ALL {
            for rollup in fact.rollups {
                for grain in rollup.grains {
                    let cutoff = match grain {
                        Granularity::Day | Granularity::Week => daily_cutoff_secs,
                        Granularity::Total => continue,
                        _ => detail_cutoff_secs,
                    };
                    // Only buckets that have ended by the cutoff (`grain` is
                    // the width in seconds), written as a bound on `bucket`
                    // alone so that an index finds them without a scan.
                    let sql = format!(
                        "DELETE FROM {t} WHERE grain = ?1 AND bucket IN
                           (SELECT DISTINCT bucket FROM {t} WHERE grain = ?1 AND bucket <= ?2 - ?1
                            ORDER BY bucket LIMIT ?3)",
                        t = rollup.table
                    );
                    let n = sqlx::query(text(sql))
                        .bind(grain.code())
                        .bind(cutoff)
                        .bind(buckets)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                    if n > 0 {
                        let width = grain.seconds().unwrap_or(0);
                        self.cache
                            .invalidate_before(rollup.table, &[*grain], cutoff - width + 1);
                    }
                    deleted += n;
                }
            }
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
