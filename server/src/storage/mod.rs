//! Every SQL statement of Tally lives under this module. Handlers and jobs
//! call typed functions here, so another database could be added behind the
//! same functions without touching them.

pub mod alerts;
pub mod bucket_cache;
pub mod commit;
pub mod custom_metrics;
mod dictionaries;
pub mod facts;
mod grain_starts;
pub mod keys;
pub mod live;
pub mod raw_read;
pub mod raw_write;
pub mod retention;
mod rollup_deltas;
pub mod rollup_read;
mod rollup_sql;
pub mod rollup_write;
pub mod sql;
#[cfg(test)]
mod test_support;
mod upgrade;

#[cfg(test)]
mod schema_check;

use std::{path::Path, str::FromStr, time::Duration};

use crate::model;
use sqlx::{
    SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

/// Handle to the metrics database. Cheap to clone (a pool handle).
#[derive(Clone, Debug)]
pub struct Storage {
    pool: SqlitePool,
    /// The ingest writer's own connection, with a page cache large enough
    /// for the idempotency index's working set (see [`Tuning`]).
    ingest: SqlitePool,
    /// Decoded rollup rows of closed buckets (see [`bucket_cache`]).
    cache: std::sync::Arc<bucket_cache::BucketCache>,
    /// Grains that hold buckets only from some instant on.
    grain_starts: std::sync::Arc<grain_starts::GrainStarts>,
}

/// Settings of every connection.
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    pub busy_timeout: Duration,
    /// `PRAGMA max_page_count`; 0 leaves SQLite's default.
    pub max_pages: u64,
    /// Budget of the decoded-rollup cache ([`bucket_cache`]), in bytes.
    pub cache_bytes: usize,
    /// SQLite page cache of the ingest writer's connection, in bytes. Event
    /// ids hash to random places of the idempotency index: the pages an
    /// insert touches are found here rather than read again.
    pub ingest_page_cache_bytes: usize,
    /// `synchronous=FULL` (true: a commit survives power loss) or `NORMAL`
    /// (a commit survives a crash of the process; the WAL is synced at
    /// checkpoints).
    pub durable_against_power_loss: bool,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(5),
            max_pages: 0,
            cache_bytes: 128 << 20,
            ingest_page_cache_bytes: 64 << 20,
            durable_against_power_loss: true,
        }
    }
}

/// Where the database lives.
#[derive(Clone, Copy, Debug)]
pub enum Location<'a> {
    File(&'a Path),
    /// Private to this process and lost at exit (`SQLITE_METRICS_ENABLED=false`).
    Memory,
}

impl Storage {
    /// Opens (creating if needed) the database and applies the embedded
    /// migrations.
    pub async fn open(location: Location<'_>, tuning: Tuning) -> anyhow::Result<Self> {
        let options = match location {
            Location::File(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(parent).await?;
                }
                SqliteConnectOptions::from_str("sqlite:")?
                    .filename(path)
                    .create_if_missing(true)
                    // WAL lets readers run while the writer commits.
                    .journal_mode(SqliteJournalMode::Wal)
            }
            Location::Memory => {
                // A named shared-cache memory database, so every pooled
                // connection sees the same data while the pool lives.
                let name = hex::encode(rand::random::<[u8; 8]>());
                SqliteConnectOptions::from_str(&format!(
                    "sqlite:file:tally-{name}?mode=memory&cache=shared"
                ))?
            }
        };
        let options = options
            // FULL: a commit survives power loss, not only a process crash.
            // Group commit amortises the fsync over many events.
            .synchronous(if tuning.durable_against_power_loss {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(tuning.busy_timeout)
            .foreign_keys(true)
            // Every statement shape of the writer and the readers stays prepared.
            .statement_cache_capacity(1024)
            .pragma("temp_store", "memory");
        let options = if tuning.max_pages > 0 {
            options.pragma("max_page_count", tuning.max_pages.to_string())
        } else {
            options
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("../migrations").run(&pool).await?;
        upgrade::histogram_bins(&pool).await?;
        let ingest = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options.pragma(
                "cache_size",
                format!("-{}", tuning.ingest_page_cache_bytes / 1024),
            ))
            .await?;
        let grain_starts = std::sync::Arc::new(grain_starts::GrainStarts::load(&pool).await?);
        let storage = Self {
            pool,
            ingest,
            cache: std::sync::Arc::new(bucket_cache::BucketCache::new(tuning.cache_bytes)),
            grain_starts,
        };
        upgrade::legacy_tables(&storage).await?;
        Ok(storage)
    }

    /// Checks that the database answers a query.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(drop)
    }

    /// Tells the cache that a commit changed these rollup buckets
    /// (table, grain, bucket start).
    pub(crate) fn rollups_changed(&self, changed: &[(&'static str, model::Granularity, i64)]) {
        for key in changed {
            self.cache.invalidate(*key);
        }
    }

    /// The grains of `rollup` that hold buckets only from some instant
    /// (Unix ms) on, with that instant.
    pub fn grain_starts(&self, rollup: &facts::RollupDecl) -> Vec<(model::Granularity, i64)> {
        self.grain_starts.of(rollup)
    }

    /// Bytes held by the rollup cache.
    pub fn cache_bytes(&self) -> usize {
        self.cache.bytes()
    }

    /// Waits for in-flight statements and closes every connection.
    pub async fn close(&self) {
        self.ingest.close().await;
        self.pool.close().await;
    }
}
