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

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tally_tests::{MASTER_KEY, process::ServerProcess};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
const SPAN_MS: i64 = 89 * DAY_MS;
/// Part of the file name: bump it when the generated data changes.
const VERSION: u32 = 3;
/// Events per request (the server's `--max-batch-events`).
const BATCH: usize = 10_000;
/// Concurrent ingest connections.
const CONNECTIONS: usize = 4;
const ZIPF_EXPONENT: f64 = 1.1;

/// Languages with their popularity (the skewed set's key preferences).
const LANGUAGES: [(&str, f64); 10] = [
    ("python", 30.0),
    ("javascript", 18.0),
    ("typescript", 14.0),
    ("go", 9.0),
    ("rust", 7.0),
    ("java", 7.0),
    ("bash", 6.0),
    ("ruby", 4.0),
    ("c", 3.0),
    ("cpp", 2.0),
];

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
    let server = ServerProcess::start_binary(binary, db, &flags).await;
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

/// One execution as producers send it.
#[derive(Serialize)]
struct Event<'a> {
    execution_id: String,
    api_key: &'a str,
    language: &'static str,
    status: &'static str,
    execution_time_ms: f64,
    memory_peak_mb: f64,
    cpu_time_ms: f64,
    container_source: &'static str,
    files_uploaded: u32,
    files_generated: u32,
    output_size_bytes: u64,
    queue_wait_ms: f64,
    created_at: String,
}

struct Generator {
    set: Dataset,
    start_ms: i64,
    keys: Vec<String>,
    /// Skewed: cumulative share of the events by key.
    key_cdf: Vec<f64>,
    /// Skewed: each key's preferred languages, most used first.
    key_languages: Vec<Vec<&'static str>>,
    /// Skewed: cumulative share of the events by hour since `start_ms`.
    hour_cdf: Vec<f64>,
}

impl Generator {
    fn new(set: Dataset, now_ms: i64) -> Self {
        let start_ms = now_ms - SPAN_MS;
        let keys = (0..set.keys).map(raw_key).collect();
        if set.shape == Shape::Uniform {
            return Self {
                set,
                start_ms,
                keys,
                key_cdf: Vec::new(),
                key_languages: Vec::new(),
                hour_cdf: Vec::new(),
            };
        }
        let key_cdf = cumulative((0..set.keys).map(|k| ((k + 1) as f64).powf(-ZIPF_EXPONENT)));
        let key_languages = (0..set.keys)
            .map(|k| {
                let mut rng = Rng::seeded(0x9e37_79b9 ^ k as u64);
                let mut chosen: Vec<&'static str> = Vec::new();
                let wanted = 1 + (rng.next() % 3) as usize;
                while chosen.len() < wanted {
                    // Drawn by popularity, without repeats.
                    let total: f64 = LANGUAGES
                        .iter()
                        .filter(|(l, _)| !chosen.contains(l))
                        .map(|(_, w)| w)
                        .sum();
                    let mut x = rng.unit() * total;
                    let pick = LANGUAGES
                        .iter()
                        .filter(|(l, _)| !chosen.contains(l))
                        .find(|(_, w)| {
                            x -= w;
                            x < 0.0
                        })
                        .or_else(|| LANGUAGES.iter().rev().find(|(l, _)| !chosen.contains(l)))
                        .map(|(l, _)| *l)
                        .unwrap_or("python");
                    chosen.push(pick);
                }
                chosen
            })
            .collect();
        let hour_cdf = cumulative((0..SPAN_MS / HOUR_MS).map(|h| {
            let t = start_ms + h * HOUR_MS + HOUR_MS / 2;
            let hour = (t.rem_euclid(DAY_MS) / HOUR_MS) as f64;
            // 1970-01-01 was a Thursday: day 0 of the week is Sunday.
            let weekday = (t.div_euclid(DAY_MS) + 4).rem_euclid(7);
            let daily =
                0.35 + 0.65 * (1.0 + (std::f64::consts::TAU * (hour - 15.0) / 24.0).cos()) / 2.0;
            let weekly = if weekday == 0 || weekday == 6 {
                0.55
            } else {
                1.0
            };
            daily * weekly
        }));
        Self {
            set,
            start_ms,
            keys,
            key_cdf,
            key_languages,
            hour_cdf,
        }
    }

    /// Timestamp of the `i`-th event: in order over the 89 days.
    fn created_at_ms(&self, i: usize) -> i64 {
        let n = self.set.executions;
        if self.hour_cdf.is_empty() {
            return self.start_ms + (i as i64 * SPAN_MS) / n as i64;
        }
        let u = i as f64 / n as f64;
        let h = self.hour_cdf.partition_point(|&c| c <= u);
        let below = if h == 0 { 0.0 } else { self.hour_cdf[h - 1] };
        let within = (u - below) / (self.hour_cdf[h] - below);
        self.start_ms + h as i64 * HOUR_MS + (within * HOUR_MS as f64) as i64
    }

    /// The JSON body of batch `chunk` and its number of events.
    fn batch(&self, chunk: usize) -> (Vec<u8>, usize) {
        let first = chunk * BATCH;
        let last = (first + BATCH).min(self.set.executions);
        let mut rng = Rng::seeded(0x2545_f491_4f6c_dd1d ^ chunk as u64);
        let events: Vec<Event> = (first..last)
            .map(|i| {
                let r = rng.next();
                let (key, language) = match self.set.shape {
                    Shape::Uniform => (
                        ((r >> 30) % self.set.keys as u64) as usize,
                        LANGUAGES[((r >> 34) % 10) as usize].0,
                    ),
                    Shape::Skewed => {
                        let u = rng.unit();
                        let key = self
                            .key_cdf
                            .partition_point(|&c| c <= u)
                            .min(self.set.keys - 1);
                        let preferred = &self.key_languages[key];
                        // 70 / 20 / 10 % over the key's languages.
                        let index = match (r >> 34) % 10 {
                            0..=6 => 0,
                            7 | 8 => 1,
                            _ => 2,
                        };
                        (key, preferred[index.min(preferred.len() - 1)])
                    }
                };
                let time = 5.0 + ((r >> 8) % 2000) as f64 * ((r >> 20) % 7 + 1) as f64 / 3.0;
                let time = (time * 1000.0).round() / 1000.0;
                let created_at = chrono::DateTime::from_timestamp_millis(self.created_at_ms(i))
                    .expect("a timestamp of this century")
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                Event {
                    execution_id: format!("q{i}"),
                    api_key: &self.keys[key],
                    language,
                    status: match r % 100 {
                        0..=92 => "completed",
                        93..=96 => "failed",
                        97..=98 => "timeout",
                        _ => "error",
                    },
                    execution_time_ms: time,
                    memory_peak_mb: 10.0 + ((r >> 40) % 200) as f64,
                    cpu_time_ms: (time * 800.0).round() / 1000.0,
                    container_source: if (r >> 48).is_multiple_of(10) {
                        "pool_miss"
                    } else {
                        "pool_hit"
                    },
                    files_uploaded: 1,
                    files_generated: ((r >> 52) % 3) as u32,
                    output_size_bytes: 1000,
                    queue_wait_ms: 2.0,
                    created_at,
                }
            })
            .collect();
        let body = serde_json::to_vec(&events).expect("events serialise");
        (body, last - first)
    }
}

/// Running sums of `weights`, divided by their total (the last is 1).
fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut sum = 0.0;
    let mut out: Vec<f64> = weights
        .map(|w| {
            sum += w;
            sum
        })
        .collect();
    for c in &mut out {
        *c /= sum;
    }
    if let Some(last) = out.last_mut() {
        *last = 1.0;
    }
    out
}

/// xorshift64, seeded through splitmix64 so neighbouring seeds differ.
struct Rng(u64);

impl Rng {
    fn seeded(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Self((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
