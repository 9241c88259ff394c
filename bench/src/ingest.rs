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

use serde_json::{Value, json};
use tally_tests::{MASTER_KEY, process::ServerProcess};

use crate::{
    Scale,
    report::{Report, Row, percentile, rss_mb},
};

const GROUP: &str = "ingest";

/// One execution event as producers send it.
fn event(id: &str, now: &str, i: usize) -> Value {
    json!({
        "execution_id": id, "api_key": format!("sk-bench-{}", i % 8),
        "language": (["python", "javascript", "go", "rust"])[i % 4],
        "status": if i.is_multiple_of(17) { "failed" } else { "completed" },
        "execution_time_ms": 20 + (i % 400), "memory_peak_mb": 40.0, "cpu_time_ms": 15,
        "container_source": if i.is_multiple_of(9) { "pool_miss" } else { "pool_hit" },
        "output_size_bytes": 512, "created_at": now,
    })
}

struct LoadResult {
    events_per_second: f64,
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    max_rss_mb: f64,
}

/// `connections` clients send batches of `batch` for `seconds`.
async fn load(
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
                // Serialised up front: the generator's own JSON work stays out of the timing.
                let body: Vec<u8> = serde_json::to_vec(
                    &(0..batch)
                        .map(|i| event(&format!("{tag}-{n}-{i}"), &now, i + n))
                        .collect::<Vec<_>>(),
                )
                .expect("json");
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
    let mut max_rss = 0.0f64;
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        max_rss = max_rss.max(rss_mb(pid));
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
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
    }
}

/// SQLite's own speed for the same rows: one statement inserting `rows`
/// executions generated inside SQLite (no client round trip per row), one
/// transaction, into a fresh database with Tally's schema and indexes, in
/// the same directory.
async fn sqlite_bulk_insert(dir: &Path, rows: usize) -> anyhow::Result<f64> {
    let path = dir.join("limit.db");
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
const FLAGS: [&str; 4] = [
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

    let limit =
        sqlite_bulk_insert(dir.path(), if scale.quick { 50_000 } else { 1_000_000 }).await?;
    let mut load_rss = 0.0f64;
    for (batch, connections) in [(1usize, 128usize), (100, 8), (500, 8)] {
        let result = load(
            &server.base_url,
            batch,
            connections,
            scale.ingest_seconds,
            server.pid(),
            &format!("b{batch}"),
        )
        .await;
        load_rss = load_rss.max(result.max_rss_mb);
        let ratio = result.events_per_second / limit;
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
        let name = format!("batch {batch}, {connections} connections");
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
