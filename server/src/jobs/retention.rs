//! Retention and archive. Expired raw rows are first written to a gzip'd
//! NDJSON file (when archiving is on) and synced to disk, then deleted in
//! small batches; old rollups are deleted; old archive files are removed.
//!
//! A crash between the archive write and the delete archives those rows
//! again on the next run: the archive is at-least-once, the database never
//! loses a row that was not archived.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use anyhow::Context;
use flate2::{Compression, write::GzEncoder};
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    model::time::DAY_MS,
    storage::{Storage, retention::RawTable},
};

const PAGE: i64 = 2_000;
const DELETE_BATCH: i64 = 1_000;
const ROLLUP_BUCKETS_PER_BATCH: i64 = 24;
/// Pause between delete batches, so queued ingest commits get the write lock.
const BREATHE: Duration = Duration::from_millis(2);

/// The first run waits this long after a start (or one period, if shorter):
/// its deletes scan every rollup table, which would otherwise fall on the
/// first views after a restart.
const FIRST_RUN_AFTER: Duration = Duration::from_secs(60);

/// Runs retention every `period` until `stop`, the first time
/// [`FIRST_RUN_AFTER`] from now.
pub fn start(
    storage: Storage,
    policy: Policy,
    period: Duration,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = super::every_after(FIRST_RUN_AFTER.min(period), period, stop);
        while ticks.tick().await {
            match run_once(&storage, &policy, crate::clock::now_ms()).await {
                Ok(report) if report.is_empty() => tracing::debug!("Retention: nothing expired."),
                Ok(report) => tracing::info!(?report, "Retention run finished."),
                Err(error) => {
                    tracing::error!(error = format!("{error:#}"), "Retention run failed.")
                }
            }
        }
    })
}

#[derive(Clone, Debug)]
pub struct Policy {
    pub execution_retention_days: u32,
    pub daily_retention_days: u32,
    /// `None`: archiving off.
    pub archive: Option<ArchivePolicy>,
}

#[derive(Clone, Debug)]
pub struct ArchivePolicy {
    pub dir: PathBuf,
    pub retention_days: u32,
}

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Raw rows deleted, per table name.
    pub deleted: Vec<(&'static str, u64)>,
    /// Rows written to archive files.
    pub archived: u64,
    pub archive_files: Vec<PathBuf>,
    pub rollup_rows_deleted: u64,
    pub deleted_metric_points: u64,
    /// Alert incidents resolved before the daily retention.
    pub deleted_incidents: u64,
    pub archive_files_removed: u64,
}

impl Report {
    pub fn is_empty(&self) -> bool {
        self.deleted.iter().all(|(_, n)| *n == 0)
            && self.rollup_rows_deleted == 0
            && self.deleted_metric_points == 0
            && self.deleted_incidents == 0
            && self.archive_files_removed == 0
    }
}

/// One retention pass as of `now_ms`.
pub async fn run_once(storage: &Storage, policy: &Policy, now_ms: i64) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let raw_cutoff_ms = now_ms - i64::from(policy.execution_retention_days) * DAY_MS;
    for table in RawTable::ALL {
        let max_id = storage.max_row_id(table).await?;
        if let Some(archive) = &policy.archive {
            let (rows, file) =
                archive_table(storage, table, raw_cutoff_ms, max_id, &archive.dir, now_ms)
                    .await
                    .with_context(|| format!("archiving {}", table.name()))?;
            report.archived += rows;
            report.archive_files.extend(file);
        }
        let mut deleted = 0;
        loop {
            let n = storage
                .delete_expired(table, raw_cutoff_ms, max_id, DELETE_BATCH)
                .await?;
            deleted += n;
            if n < DELETE_BATCH as u64 {
                break;
            }
            tokio::time::sleep(BREATHE).await;
        }
        report.deleted.push((table.name(), deleted));
    }

    // Custom metric points (OTLP) follow the raw retention.
    loop {
        let n = storage
            .delete_metric_points_before(raw_cutoff_ms, DELETE_BATCH)
            .await?;
        report.deleted_metric_points += n;
        if n < DELETE_BATCH as u64 {
            break;
        }
        tokio::time::sleep(BREATHE).await;
    }

    // Alert history is kept as long as daily rollups.
    report.deleted_incidents = storage
        .delete_resolved_incidents(now_ms - i64::from(policy.daily_retention_days) * DAY_MS)
        .await?;

    // Quarter-hour and hourly rollups live as long as raw rows; daily ones
    // longer. A bucket goes only once it ends before its cutoff, so the
    // bucket straddling the cutoff still counts the raw rows that are kept.
    let hourly_cutoff = (raw_cutoff_ms / 1000).div_euclid(3600) * 3600;
    let daily_cutoff = ((now_ms - i64::from(policy.daily_retention_days) * DAY_MS) / 1000)
        .div_euclid(86_400)
        * 86_400;
    loop {
        let n = storage
            .delete_rollups_before(hourly_cutoff, daily_cutoff, ROLLUP_BUCKETS_PER_BATCH)
            .await?;
        report.rollup_rows_deleted += n;
        if n == 0 {
            break;
        }
        tokio::time::sleep(BREATHE).await;
    }

    if let Some(archive) = &policy.archive {
        let dir = archive.dir.clone();
        let max_age = Duration::from_secs(u64::from(archive.retention_days) * 86_400);
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(now_ms.max(0).unsigned_abs());
        report.archive_files_removed =
            tokio::task::spawn_blocking(move || remove_old_archives(&dir, now, max_age)).await??;
    }
    Ok(report)
}

/// Writes every expired row of `table` (ids up to `max_id`) to one new
/// archive file and syncs it. Returns the row count and the file, if any.
async fn archive_table(
    storage: &Storage,
    table: RawTable,
    cutoff_ms: i64,
    max_id: i64,
    dir: &Path,
    now_ms: i64,
) -> anyhow::Result<(u64, Option<PathBuf>)> {
    let mut after_id = 0;
    let mut rows = 0u64;
    let mut file: Option<(PathBuf, GzEncoder<BufWriter<File>>)> = None;
    loop {
        let page = storage
            .expired_rows(table, cutoff_ms, max_id, after_id, PAGE)
            .await?;
        let Some((last_id, _)) = page.last() else {
            break;
        };
        after_id = *last_id;
        let mut lines = Vec::with_capacity(page.len() * 256);
        for (_, row) in &page {
            serde_json::to_writer(&mut lines, row)?;
            lines.push(b'\n');
        }
        rows += page.len() as u64;
        let current = match file.take() {
            Some(open) => open,
            None => {
                let dir = dir.to_owned();
                let name = archive_name(table, now_ms);
                tokio::task::spawn_blocking(move || open_archive(&dir, &name)).await??
            }
        };
        file = Some(
            tokio::task::spawn_blocking(move || -> std::io::Result<_> {
                let (path, mut encoder) = current;
                encoder.write_all(&lines)?;
                Ok((path, encoder))
            })
            .await??,
        );
    }
    let Some((path, encoder)) = file else {
        return Ok((0, None));
    };
    let path = tokio::task::spawn_blocking(move || -> std::io::Result<PathBuf> {
        let file = encoder.finish()?.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(path)
    })
    .await??;
    tracing::info!(table = table.name(), rows, path = %path.display(), "Archived expired rows.");
    Ok((rows, Some(path)))
}

fn archive_name(table: RawTable, now_ms: i64) -> String {
    let stamp = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now_ms)
        .map(|t| t.format("%Y%m%dT%H%M%S%.3fZ").to_string())
        .unwrap_or_else(|| now_ms.to_string());
    format!("{}-{stamp}.ndjson.gz", table.name())
}

fn open_archive(dir: &Path, name: &str) -> std::io::Result<(PathBuf, GzEncoder<BufWriter<File>>)> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(name);
    let file = File::options().write(true).create_new(true).open(&path)?;
    Ok((
        path,
        GzEncoder::new(BufWriter::new(file), Compression::default()),
    ))
}

/// Removes `*.ndjson.gz` files modified more than `max_age` before `now`.
fn remove_old_archives(dir: &Path, now: SystemTime, max_age: Duration) -> std::io::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    // A file may go between the listing and its use (removed by another
    // retention run on the same directory, or by another Tally sharing
    // it): that is not an error.
    let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    for entry in entries {
        let entry = entry?;
        if !entry.file_name().to_string_lossy().ends_with(".ndjson.gz") {
            continue;
        }
        let modified = match entry.metadata().and_then(|m| m.modified()) {
            Ok(modified) => modified,
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(e),
        };
        if now.duration_since(modified).is_ok_and(|age| age > max_age) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if gone(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}
