//! Ingest end to end over HTTP, against SQLite's own bulk insert of the same
//! rows on the same disk; and the server's memory idle and under load.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tally_tests::{MASTER_KEY, process::ServerProcess};

use crate::{
    Scale,
    report::{Report, Row, cpu_seconds, percentile, rss_mb},
};

const GROUP: &str = "ingest";

/// A batch of execution events as producers send them, written straight
/// into the body: the load generator shares the server's two cores, so its
/// own work per event is kept to a formatted write (building a
/// `serde_json::Value` per event cost it about a tenth of the machine).
fn batch_body(tag: &str, n: usize, batch: usize, now: &str) -> Vec<u8> {
    use std::fmt::Write;
    let mut body = String::with_capacity(batch * 330 + 2);
    body.push('[');
    for i in 0..batch {
        let k = i + n;
        if i > 0 {
            body.push(',');
        }
        let language = ["python", "javascript", "go", "rust"][k % 4];
        let status = if k.is_multiple_of(17) {
            "failed"
        } else {
            "completed"
        };
        let source = if k.is_multiple_of(9) {
            "pool_miss"
        } else {
            "pool_hit"
        };
        write!(
            body,
            r#"{{"execution_id":"{tag}-{n}-{i}","api_key":"sk-bench-{key}","language":"{language}","status":"{status}","execution_time_ms":{time},"memory_peak_mb":40.0,"cpu_time_ms":15,"container_source":"{source}","output_size_bytes":512,"created_at":"{now}"}}"#,
            key = k % 8,
            time = 20 + k % 400,
        )
        .expect("writing to a String");
    }
    body.push(']');
    body.into_bytes()
}

pub(crate) struct LoadResult {
    pub(crate) events_per_second: f64,
    pub(crate) requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    pub(crate) errors: u64,
    max_rss_mb: f64,
    /// Share of the machine's CPU time the server used during the load.
    pub(crate) server_cpu_share: f64,
    /// Share the load generator (this process) used.
    pub(crate) client_cpu_share: f64,
}

impl std::fmt::Display for LoadResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} events/s, {:.1} requests/s, p50 {:.1} ms, p99 {:.1} ms, {} errors, \
             server CPU {:.2}, load generator CPU {:.2}, max RSS {:.0} MB",
            self.events_per_second,
            self.requests_per_second,
            self.p50_ms,
            self.p99_ms,
            self.errors,
            self.server_cpu_share,
            self.client_cpu_share,
            self.max_rss_mb
        )
    }
}

/// `connections` clients send batches of `batch` for `seconds`.
pub(crate) async fn load(
    base_url: &str,
    batch: usize,
    connections: usize,
    seconds: u64,
    pid: u32,
    tag: &str,
) -> LoadResult {
    let stop = Arc::new(AtomicBool::new(false));
    let events = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .expect("client");
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (client, stop, events, errors) =
            (client.clone(), stop.clone(), events.clone(), errors.clone());
        let url = format!("{base_url}/api/v1/events/executions");
        let tag = format!("{tag}-{c}");
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                // Built before the clock starts: the request's latency is the server's.
                let body = batch_body(&tag, n, batch, &now);
                n += 1;
                let started = Instant::now();
                let response = client
                    .post(&url)
                    .header("x-api-key", MASTER_KEY)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                latencies.push(started.elapsed().as_secs_f64() * 1e3);
                match response {
                    Ok(r) if r.status().is_success() => {
                        events.fetch_add(batch as u64, Ordering::Relaxed);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let started = Instant::now();
    let cpu_before = (cpu_seconds(&pid.to_string()), cpu_seconds("self"));
    let mut max_rss = 0.0f64;
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        max_rss = max_rss.max(rss_mb(pid));
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let share = |before: f64, after: f64| (after - before) / (elapsed * cores);
    let server_cpu_share = share(cpu_before.0, cpu_seconds(&pid.to_string()));
    let client_cpu_share = share(cpu_before.1, cpu_seconds("self"));
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("load task"));
    }
    let requests = latencies.len() as f64;
    LoadResult {
        events_per_second: events.load(Ordering::Relaxed) as f64 / elapsed,
        requests_per_second: requests / elapsed,
        p50_ms: percentile(&mut latencies, 0.5),
        p99_ms: percentile(&mut latencies, 0.99),
        errors: errors.load(Ordering::Relaxed),
        max_rss_mb: max_rss,
        server_cpu_share,
        client_cpu_share,
    }
}

/// SQLite's own speed for the same rows: one statement inserting `rows`
/// executions generated inside SQLite (no client round trip per row), one
/// transaction, into a fresh database with Tally's schema and indexes, in
/// the same directory.
async fn sqlite_bulk_insert(dir: &Path, rows: usize) -> anyhow::Result<f64> {
    let path = dir.join("limit.db");
    for stale in ["limit.db", "limit.db-wal", "limit.db-shm"] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    let storage =
        tally::storage::Storage::open(tally::storage::Location::File(&path), Default::default())
            .await?;
    storage.close().await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", path.display())).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let started = Instant::now();
    // The raw table as the writer fills it: the time-and-hash id (its
    // primary key is the idempotency key), codes and dictionary ids.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO executions_raw (id, execution_id, created_at, key_id, language_id,
           status, container_source, execution_time_ms, memory_peak_mb, cpu_time_ms,
           files_uploaded, files_generated, output_size_bytes, state_size_bytes, queue_wait_ms,
           repl_mode, received_at)
         SELECT (?2 << 20) + i, 'limit-' || i || '-' || hex(randomblob(4)), ?2, i % 8,
                1 + i % 4, 0, 0, 20 + i % 400, 40.0, 15.0, 0, 0, 512, 0, 0, 0, ?2
         FROM n",
    )
    .bind(rows as i64)
    .bind(now)
    .execute(&pool)
    .await?;
    let rate = rows as f64 / started.elapsed().as_secs_f64();
    pool.close().await;
    Ok(rate)
}

/// The servers' flags: a deep buffer and large batches so the load, not a
/// limit, decides the rate.
pub(crate) const FLAGS: [&str; 4] = [
    "--metrics-buffer-size",
    "200000",
    "--max-batch-events",
    "10000",
];

pub async fn run(binary: &Path, scale: Scale, report: &mut Report) -> anyhow::Result<()> {
    println!("ingest: starting {}", binary.display());
    let dir = tempfile::tempdir_in("target")?;
    let server =
        ServerProcess::start_measured(binary, &dir.path().join("metrics.db"), &FLAGS).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = rss_mb(server.pid());

    let limit_rows = if scale.quick { 50_000 } else { 1_000_000 };
    let limit = sqlite_bulk_insert(dir.path(), limit_rows).await?;
    let mut load_rss = 0.0f64;
    for (batch, connections) in [(1usize, 128usize), (100, 8), (500, 8)] {
        // The target's row: three rounds of (the limit, then the load), so
        // that the machine's drift over a run moves both; the round with
        // the median ratio is reported.
        let rounds = if batch == 500 && !scale.quick { 3 } else { 1 };
        let mut measured = Vec::new();
        for round in 0..rounds {
            let limit = if round == 0 && rounds == 1 {
                limit
            } else {
                sqlite_bulk_insert(dir.path(), limit_rows).await?
            };
            let result = load(
                &server.base_url,
                batch,
                connections,
                scale.ingest_seconds,
                server.pid(),
                &format!("b{batch}r{round}"),
            )
            .await;
            load_rss = load_rss.max(result.max_rss_mb);
            measured.push((result.events_per_second / limit, limit, result));
        }
        measured.sort_by(|a, b| a.0.total_cmp(&b.0));
        let ratios: Vec<String> = measured.iter().map(|m| format!("{:.3}", m.0)).collect();
        let (ratio, limit, result) = measured.swap_remove(measured.len() / 2);
        let (target, met) = match batch {
            500 => (
                Some("≥ 150 000 events/s and ≥ 35 % of the limit"),
                Some(result.events_per_second >= 150_000.0 && ratio >= 0.35),
            ),
            1 => (
                Some("≥ 20 000 requests/s"),
                Some(result.requests_per_second >= 20_000.0),
            ),
            _ => (None, None),
        };
        let name = if rounds > 1 {
            format!(
                "batch {batch}, {connections} connections (median of {rounds} rounds, ratios {})",
                ratios.join(" / ")
            )
        } else {
            format!("batch {batch}, {connections} connections")
        };
        add_rows(report, &name, &result, limit, target.zip(met));
    }
    server.kill();

    // The opt-in that syncs at checkpoints only, for single events.
    let relaxed = ServerProcess::start_measured(
        binary,
        &dir.path().join("relaxed.db"),
        &[&FLAGS[..], &["--sqlite-synchronous", "normal"]].concat(),
    )
    .await;
    let result = load(
        &relaxed.base_url,
        1,
        128,
        scale.ingest_seconds,
        relaxed.pid(),
        "b1n",
    )
    .await;
    load_rss = load_rss.max(result.max_rss_mb);
    let met = result.requests_per_second >= 20_000.0;
    add_rows(
        report,
        "batch 1, 128 connections, synchronous=normal",
        &result,
        limit,
        Some(("≥ 20 000 requests/s", met)),
    );
    relaxed.kill();

    report.add(Row {
        group: "memory",
        measure: "server RSS idle".to_owned(),
        value: idle_rss,
        unit: "MB",
        limit: None,
        ratio: None,
        target: Some("≤ 60 MB".to_owned()),
        met: Some(idle_rss <= 60.0),
    });
    report.add(Row {
        group: "memory",
        measure: "server RSS at full ingest (max)".to_owned(),
        value: load_rss,
        unit: "MB",
        limit: None,
        ratio: None,
        target: Some("≤ 200 MB".to_owned()),
        met: Some(load_rss <= 200.0),
    });
    Ok(())
}

/// A load's rows: rate against the bulk limit, requests, latencies, failures.
fn add_rows(
    report: &mut Report,
    name: &str,
    result: &LoadResult,
    limit: f64,
    target: Option<(&str, bool)>,
) {
    report.add(Row {
        group: GROUP,
        measure: format!("{name}: events/s"),
        value: result.events_per_second,
        unit: "ev/s",
        limit: Some(("SQLite bulk insert".to_owned(), limit)),
        ratio: Some(result.events_per_second / limit),
        target: target.map(|(text, _)| text.to_owned()),
        met: target.map(|(_, met)| met),
    });
    let plain = [
        ("requests/s", result.requests_per_second, "req/s"),
        ("p50 latency", result.p50_ms, "ms"),
        ("p99 latency", result.p99_ms, "ms"),
        (
            "server CPU (share of all cores)",
            result.server_cpu_share,
            "",
        ),
        (
            "load generator CPU (share of all cores)",
            result.client_cpu_share,
            "",
        ),
    ];
    for (what, value, unit) in plain {
        report.add(Row {
            group: GROUP,
            measure: format!("{name}: {what}"),
            value,
            unit,
            limit: None,
            ratio: None,
            target: None,
            met: None,
        });
    }
    if result.errors > 0 {
        report.add(Row {
            group: GROUP,
            measure: format!("{name}: failed requests"),
            value: result.errors as f64,
            unit: "",
            limit: None,
            ratio: None,
            target: Some("0".to_owned()),
            met: Some(false),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_body_is_a_json_array_of_distinct_valid_events() {
        let body = batch_body("t", 3, 50, "2026-12-02T10:00:00.000Z");
        let events: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
        assert_eq!(events.len(), 50);
        let ids: std::collections::HashSet<&str> = events
            .iter()
            .map(|e| e["execution_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 50);
        assert_eq!(events[0]["execution_id"], "t-3-0");
        assert_eq!(events[0]["api_key"], "sk-bench-3");
        assert_eq!(events[1]["language"], "python");
        assert_eq!(events[14]["status"], "failed");
        assert_eq!(events[6]["container_source"], "pool_miss");
        assert_eq!(events[0]["execution_time_ms"], 23);
    }
}
