//! A bounded load test against the real binary on loopback: several clients
//! send batches for a fixed time; no request may fail and the server's memory
//! must stay within a bound. `TALLY_LOAD_SECONDS` sets the duration (CI: 5 s;
//! the README records a several-minute run).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tally_tests::{MASTER_KEY, process::ServerProcess};

const CLIENTS: usize = 4;
const BATCH: usize = 100;
/// Allowed RSS growth between warm-up and the end of the run.
const RSS_GROWTH_BOUND_MB: f64 = 150.0;

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::test]
async fn sustained_ingest_has_no_errors_and_bounded_memory() {
    let seconds: u64 = std::env::var("TALLY_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("metrics.db"), &[]).await;
    let url = format!("{}/api/v1/events/executions", server.base_url);

    let run = |duration: Duration, tag: &'static str| {
        let url = url.clone();
        async move {
            let mut tasks = Vec::new();
            for c in 0..CLIENTS {
                let url = url.clone();
                tasks.push(tokio::spawn(async move {
                    let client = reqwest::Client::new();
                    let (mut latencies, mut failures, mut n) = (Vec::new(), 0usize, 0usize);
                    let end = Instant::now() + duration;
                    while Instant::now() < end {
                        let now = chrono::Utc::now().to_rfc3339();
                        let events: Vec<_> = (0..BATCH)
                            .map(|i| json!({"execution_id": format!("{tag}-{c}-{n}-{i}"), "api_key": "sk-load",
                                            "language": "python", "status": "completed",
                                            "execution_time_ms": i, "created_at": now}))
                            .collect();
                        n += 1;
                        let started = Instant::now();
                        let response = client.post(&url).header("x-api-key", MASTER_KEY).json(&events).send().await;
                        latencies.push(started.elapsed());
                        if !matches!(response, Ok(ref r) if r.status() == StatusCode::OK) {
                            failures += 1;
                        }
                    }
                    (latencies, failures)
                }));
            }
            let mut latencies = Vec::new();
            let mut failures = 0;
            for task in tasks {
                let (l, f) = task.await.unwrap();
                latencies.extend(l);
                failures += f;
            }
            (latencies, failures)
        }
    };

    run(Duration::from_secs(1), "warmup").await;
    let rss_before = rss_mb(server.pid());
    let started = Instant::now();
    let (mut latencies, failures) = run(Duration::from_secs(seconds), "load").await;
    let elapsed = started.elapsed().as_secs_f64();
    let rss_after = rss_mb(server.pid());
    latencies.sort();
    let pick = |q: f64| latencies[((q * latencies.len() as f64) as usize).min(latencies.len() - 1)];
    println!(
        "load: {} events in {elapsed:.1} s ({:.0} events/s), {} requests, p50 {:?}, p99 {:?}, RSS {rss_before:.1} -> {rss_after:.1} MB",
        latencies.len() * BATCH,
        (latencies.len() * BATCH) as f64 / elapsed,
        latencies.len(),
        pick(0.5),
        pick(0.99),
    );
    assert_eq!(failures, 0, "requests failed under load");
    assert!(
        rss_after - rss_before < RSS_GROWTH_BOUND_MB,
        "RSS grew from {rss_before} to {rss_after} MB"
    );
}
