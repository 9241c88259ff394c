//! API keys: names set by an admin.

use super::Storage;
use crate::ingest::events::KeyHash;

/// Result of naming a key by its 16-hex prefix.
#[derive(Debug, PartialEq, Eq)]
pub enum NameOutcome {
    Named,
    UnknownPrefix,
    AmbiguousPrefix,
}

impl Storage {
    /// Sets (or clears) the name of a key given by its full hash; the key
    /// is recorded if Tally has not seen it yet.
    pub async fn name_key(
        &self,
        key: &KeyHash,
        name: Option<&str>,
        now_ms: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO api_keys (key_hash, name, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key_hash) DO UPDATE SET name = excluded.name",
        )
        .bind(key.as_str())
        .bind(name)
        .bind(now_ms / 1000)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sets (or clears) the name of the one known key starting with `prefix`
    /// (16 lowercase hex characters).
    pub async fn name_key_by_prefix(
        &self,
        prefix: &str,
        name: Option<&str>,
    ) -> Result<NameOutcome, sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let matches: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE substr(key_hash, 1, 16) = ?")
                .bind(prefix)
                .fetch_one(&mut *tx)
                .await?;
        let outcome = match matches {
            0 => NameOutcome::UnknownPrefix,
            1 => {
                sqlx::query("UPDATE api_keys SET name = ? WHERE substr(key_hash, 1, 16) = ?")
                    .bind(name)
                    .bind(prefix)
                    .execute(&mut *tx)
                    .await?;
                NameOutcome::Named
            }
            _ => NameOutcome::AmbiguousPrefix,
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Number of stored executions (used by demo mode to skip a backfill).
    pub async fn execution_count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM executions")
            .fetch_one(&self.pool)
            .await
    }
}
