//! The query databases: N executions over the 89 days before now with K API
//! keys, sent to the real server through HTTP ingest only (nothing here
//! knows how the server stores them), cached under `target/bench/` and
//! reused while younger than a week (the data is relative to the day it was
//! built).
//!
//! Uniform (the 12-key set, as the first generator had it): keys, ten
//! languages and time spread evenly. Skewed (the 1 000-key set): keys
//! Zipf-distributed with exponent 1.1 (the busiest key carries 18 % of the
//! traffic, the ten busiest 48 %, the last one about 10 events a day at
//! 10 M), one to three
//! preferred languages per key, and a daily and weekly rhythm. Both:
//! status 93/4/2/1 % completed/failed/timeout/error, 10 % pool misses.
//! Deterministic: every batch has its own seeded xorshift.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tally_tests::{MASTER_KEY, process::ServerProcess};

use crate::traffic::Generator;

pub(crate) const HOUR_MS: i64 = 3_600_000;
pub(crate) const DAY_MS: i64 = 24 * HOUR_MS;
pub(crate) const SPAN_MS: i64 = 89 * DAY_MS;
/// Part of the file name: bump it when the generated data (or the schema it
/// is written into) changes.
const VERSION: u32 = 6;
/// Events per request (the server's `--max-batch-events`).
pub(crate) const BATCH: usize = 10_000;
/// Concurrent ingest connections.
const CONNECTIONS: usize = 4;

/// Flags for a server on a generated database: nothing in it is past
/// retention, even when the cache is a few days old.
pub const RETENTION_FLAGS: [&str; 4] = [
    "--metrics-execution-retention-days",
    "3650",
    "--metrics-daily-retention-days",
    "3650",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Uniform,
    Skewed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dataset {
    pub keys: usize,
    pub executions: usize,
    pub shape: Shape,
}

/// A key filter of the view matrix.
#[derive(Clone, Debug)]
pub struct KeyFilter {
    pub label: &'static str,
    /// `api_key_hash`: 16-hex prefix of the key's SHA-256.
    pub prefix: Option<String>,
}

impl Dataset {
    pub fn uniform(executions: usize) -> Self {
        Self {
            keys: 12,
            executions,
            shape: Shape::Uniform,
        }
    }

    pub fn skewed(executions: usize) -> Self {
        Self {
            keys: 1_000,
            executions,
            shape: Shape::Skewed,
        }
    }

    /// `1 000 keys × 10 M`.
    pub fn label(self) -> String {
        format!("{} keys × {}", thousands(self.keys), size(self.executions))
    }

    pub fn path(self) -> PathBuf {
        let shape = match self.shape {
            Shape::Uniform => "uniform",
            Shape::Skewed => "zipf",
        };
        PathBuf::from(format!(
            "target/bench/queries-v{VERSION}-{}keys-{shape}-{}.db",
            self.keys, self.executions
        ))
    }

    /// No filter, then one key (uniform) or the busiest and the least busy
    /// key (skewed).
    pub fn filters(self) -> Vec<KeyFilter> {
        let key = |label, k| KeyFilter {
            label,
            prefix: Some(key_prefix(&raw_key(k))),
        };
        let all = KeyFilter {
            label: "all keys",
            prefix: None,
        };
        match self.shape {
            Shape::Uniform => vec![all, key("one key", 0)],
            Shape::Skewed => vec![all, key("busiest key", 0), key("tail key", self.keys - 1)],
        }
    }
}

/// `10 M`, `100 k`.
pub fn size(n: usize) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{} M", n / 1_000_000)
    } else if n >= 1_000 && n.is_multiple_of(1_000) {
        format!("{} k", n / 1_000)
    } else {
        n.to_string()
    }
}

/// `1 000`.
pub fn thousands(n: usize) -> String {
    if n >= 1_000 {
        format!("{} {:03}", n / 1_000, n % 1_000)
    } else {
        n.to_string()
    }
}

pub fn raw_key(k: usize) -> String {
    format!("sk-bench-{k}")
}

/// How keys are shown and filtered: the first 16 hex digits of the SHA-256.
pub fn key_prefix(raw: &str) -> String {
    hex::encode(Sha256::digest(raw.as_bytes()))[..16].to_owned()
}

/// The cached database of `set`, generated if missing or a week old.
pub async fn database(binary: &Path, set: Dataset) -> anyhow::Result<PathBuf> {
    let path = set.path();
    let age = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok());
    if let Some(age) = age.filter(|age| *age < Duration::from_secs(7 * 86_400)) {
        println!(
            "queries: reusing {} ({:.1} days old)",
            path.display(),
            age.as_secs_f64() / 86_400.0
        );
        return Ok(path);
    }
    std::fs::create_dir_all("target/bench")?;
    // Generated under another name: an interrupted run leaves no database
    // that looks complete.
    let partial = path.with_extension("partial.db");
    for file in [&path, &partial] {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }
    generate(binary, set, &partial).await?;
    for suffix in ["", "-wal", "-shm"] {
        let from = format!("{}{suffix}", partial.display());
        if Path::new(&from).exists() {
            std::fs::rename(&from, format!("{}{suffix}", path.display()))?;
        }
    }
    let _ = std::fs::remove_dir_all(partial.with_extension("archive"));
    Ok(path)
}

/// Stops a server gracefully and removes its log (kept if it failed).
pub fn stop(server: ServerProcess) -> anyhow::Result<()> {
    let log = server.log.clone();
    let status = server.terminate();
    anyhow::ensure!(
        status.success(),
        "tally exited with {status}; log: {}",
        log.display()
    );
    let _ = std::fs::remove_file(log);
    Ok(())
}

async fn generate(binary: &Path, set: Dataset, db: &Path) -> anyhow::Result<()> {
    println!(
        "queries: generating {} over 89 days into {} through HTTP ingest …",
        set.label(),
        db.display()
    );
    let mut flags = RETENTION_FLAGS.to_vec();
    flags.extend([
        "--metrics-buffer-size",
        "200000",
        "--max-batch-events",
        "10000",
    ]);
    let server = ServerProcess::start_measured(binary, db, &flags).await;
    let generator = Arc::new(Generator::new(set, chrono::Utc::now().timestamp_millis()));
    let chunks = set.executions.div_ceil(BATCH);
    let next_chunk = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/events/executions", server.base_url);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        let (generator, next_chunk, sent, client, url) = (
            generator.clone(),
            next_chunk.clone(),
            sent.clone(),
            client.clone(),
            url.clone(),
        );
        tasks.spawn(async move {
            loop {
                let chunk = next_chunk.fetch_add(1, Ordering::Relaxed);
                if chunk >= chunks {
                    return anyhow::Ok(());
                }
                let g = generator.clone();
                let (body, n) = tokio::task::spawn_blocking(move || g.batch(chunk)).await?;
                let accepted = post(&client, &url, body).await?;
                anyhow::ensure!(
                    accepted == n,
                    "batch {chunk}: {accepted} of {n} events accepted"
                );
                let done = sent.fetch_add(n, Ordering::Relaxed) + n;
                let step = (set.executions / 10).max(1);
                if (done - n) / step != done / step {
                    let seconds = started.elapsed().as_secs_f64();
                    println!(
                        "  {done} events, {seconds:.0} s, {:.0} events/s",
                        done as f64 / seconds
                    );
                }
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    stop(server)?;
    println!(
        "queries: generated in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[derive(Deserialize)]
struct IngestAnswer {
    accepted: usize,
    duplicates: usize,
}

/// POSTs one batch; a 503 (buffer full) is retried after its Retry-After.
async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> anyhow::Result<usize> {
    for _ in 0..1_000 {
        let response = client
            .post(url)
            .header("x-api-key", MASTER_KEY)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await?;
        let status = response.status();
        if status.is_success() {
            let answer: IngestAnswer = response.json().await?;
            anyhow::ensure!(answer.duplicates == 0, "{} duplicates", answer.duplicates);
            return Ok(answer.accepted);
        }
        if status != reqwest::StatusCode::SERVICE_UNAVAILABLE {
            anyhow::bail!("ingest: {status}: {}", response.text().await?);
        }
        let wait = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.parse::<f64>().ok())
            .unwrap_or(1.0)
            .clamp(0.1, 10.0);
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
    anyhow::bail!("ingest: still 503 after 1 000 attempts")
}
