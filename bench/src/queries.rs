//! The admin endpoints and a dashboard server function on a generated
//! database of 90 days, against the same aggregate computed by scanning the
//! raw rows.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant, SystemTime},
};

use tally::{
    model::{Batch, ContainerSource, ExecStatus, Execution, KeyHash},
    storage::{Location, Storage, commit::WriterState},
};
use tally_tests::{MASTER_KEY, process::ServerProcess};

use crate::{
    Scale,
    report::{Report, Row, median, percentile},
};

const DAY_MS: i64 = 86_400_000;
const LANGUAGES: [&str; 10] = [
    "python",
    "javascript",
    "typescript",
    "go",
    "rust",
    "java",
    "bash",
    "ruby",
    "c",
    "cpp",
];

/// The cached database for `executions` rows, built if missing or older
/// than a week (its data is relative to the day it was built).
async fn database(executions: usize) -> anyhow::Result<PathBuf> {
    let path = PathBuf::from(format!("target/bench/queries-{executions}.db"));
    let fresh = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < Duration::from_secs(7 * 86_400));
    if fresh {
        println!("queries: reusing {}", path.display());
        return Ok(path);
    }
    std::fs::create_dir_all("target/bench")?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    println!(
        "queries: generating {executions} executions over 90 days into {} …",
        path.display()
    );
    let started = Instant::now();
    let storage = Storage::open(Location::File(&path), Default::default()).await?;
    let keys: Vec<KeyHash> = (0..12)
        .map(|k| KeyHash::of_raw_key(&format!("sk-bench-{k}")))
        .collect();
    let now = tally::clock::now_ms();
    let span = 89 * DAY_MS;
    let mut writer = WriterState::one_off();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const CHUNK: usize = 20_000;
    let mut written = 0;
    while written < executions {
        let n = CHUNK.min(executions - written);
        let events: Vec<Execution> = (0..n)
            .map(|i| {
                let r = next();
                let status = match r % 100 {
                    0..=92 => ExecStatus::Completed,
                    93..=96 => ExecStatus::Failed,
                    97..=98 => ExecStatus::Timeout,
                    _ => ExecStatus::Error,
                };
                let time = 5.0 + ((r >> 8) % 2000) as f64 * ((r >> 20) % 7 + 1) as f64 / 3.0;
                Execution {
                    execution_id: format!("q{}", written + i),
                    key: Some(keys[((r >> 30) % 12) as usize].clone()),
                    tenant: None,
                    language: LANGUAGES[((r >> 34) % 10) as usize].to_owned(),
                    status,
                    execution_time_ms: time,
                    memory_peak_mb: 10.0 + ((r >> 40) % 200) as f64,
                    cpu_time_ms: time * 0.8,
                    container_source: if (r >> 48) % 10 == 0 {
                        ContainerSource::PoolMiss
                    } else {
                        ContainerSource::PoolHit
                    },
                    files_uploaded: 1,
                    files_generated: ((r >> 52) % 3) as u32,
                    output_size_bytes: 1000,
                    state_size_bytes: 0,
                    queue_wait_ms: 2.0,
                    repl_mode: false,
                    session_id: None,
                    user_id: None,
                    entity_id: None,
                    // Spread evenly over the 89 days, in order.
                    created_at_ms: now - span + ((written + i) as i64 * span) / executions as i64,
                }
            })
            .collect();
        let batch = Batch::Executions(events);
        storage.commit_group(&[&batch], &mut writer, now).await?;
        written += n;
        if written % 1_000_000 < CHUNK {
            println!("  {written} rows, {:.0} s", started.elapsed().as_secs_f64());
        }
    }
    storage.close().await;
    println!(
        "queries: generated in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(path)
}

/// The summary aggregate straight from the raw rows: what the rollups save.
async fn raw_scan_ms(db: &Path, from_ms: i64) -> anyhow::Result<f64> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}?mode=ro", db.display())).await?;
    let mut times = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let rows = sqlx::query(
            "SELECT key_id, status, container_source, COUNT(*), SUM(execution_time_ms), MAX(execution_time_ms),
                    SUM(cpu_time_ms), SUM(memory_peak_mb), SUM(files_generated), SUM(output_size_bytes)
             FROM executions WHERE created_at >= ? GROUP BY 1, 2, 3",
        )
        .bind(from_ms)
        .fetch_all(&pool)
        .await?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        assert!(!rows.is_empty());
    }
    pool.close().await;
    Ok(median(&mut times))
}

pub async fn run(binary: &Path, scale: Scale, report: &mut Report) -> anyhow::Result<()> {
    let db = database(scale.query_executions).await?;
    let server =
        ServerProcess::start_binary(binary, &db, &["--metrics-execution-retention-days", "3650"])
            .await;
    let client = reqwest::Client::new();
    let scan_ms = raw_scan_ms(&db, tally::clock::now_ms() - 90 * DAY_MS).await?;
    let views = [
        ("summary?period=quarter", true),
        ("summary?period=day", false),
        ("languages?period=quarter&stack_by_api_key=true", false),
        ("time-series?period=quarter", false),
        ("time-series?period=week", false),
        ("time-series?period=month&tz=America/New_York", false),
        ("heatmap?period=month&tz=Europe/Berlin", false),
        ("api-keys?period=quarter", false),
        ("top-languages?period=quarter", false),
    ];
    let group = if scale.quick {
        "queries (quick db)"
    } else {
        "queries (10 M rows)"
    };
    for (view, compare_with_scan) in views {
        let url = format!("{}/api/v1/admin/metrics/{view}", server.base_url);
        let mut times = Vec::new();
        for run in 0..=scale.query_runs {
            let started = Instant::now();
            let response = client
                .get(&url)
                .header("x-api-key", MASTER_KEY)
                .send()
                .await?;
            anyhow::ensure!(
                response.status().is_success(),
                "{view}: {}",
                response.status()
            );
            response.bytes().await?;
            // The first call warms the page cache; it is not counted.
            if run > 0 {
                times.push(started.elapsed().as_secs_f64() * 1e3);
            }
        }
        let p50 = percentile(&mut times, 0.5);
        let p95 = percentile(&mut times, 0.95);
        report.add(Row {
            group,
            measure: format!("{view}: p50"),
            value: p50,
            unit: "ms",
            limit: compare_with_scan
                .then(|| ("raw-row scan of the same aggregate".to_owned(), scan_ms)),
            ratio: compare_with_scan.then(|| scan_ms / p50),
            target: compare_with_scan.then(|| "≥ 100× faster than the scan".to_owned()),
            met: compare_with_scan.then(|| scan_ms / p50 >= 100.0),
        });
        report.add(Row {
            group,
            measure: format!("{view}: p95"),
            value: p95,
            unit: "ms",
            limit: None,
            ratio: None,
            target: Some("≤ 20 ms".to_owned()),
            met: Some(p95 <= 20.0),
        });
    }

    // The dashboard's server function for the same summary.
    let path = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p)
        .find(|p| p.contains("/get_summary"))
        .ok_or_else(|| anyhow::anyhow!("get_summary is not registered"))?;
    let mut times = Vec::new();
    for run in 0..=scale.query_runs {
        let started = Instant::now();
        let response = client
            .post(format!("{}{path}", server.base_url))
            .header("x-api-key", MASTER_KEY)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("query[period]=quarter")
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "get_summary: {}",
            response.status()
        );
        response.bytes().await?;
        if run > 0 {
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    let p95 = percentile(&mut times, 0.95);
    report.add(Row {
        group,
        measure: "server fn get_summary(quarter): p95".to_owned(),
        value: p95,
        unit: "ms",
        limit: Some(("raw-row scan".to_owned(), scan_ms)),
        ratio: Some(scan_ms / percentile(&mut times, 0.5)),
        target: Some("≤ 20 ms".to_owned()),
        met: Some(p95 <= 20.0),
    });
    report.add(Row {
        group,
        measure: "raw-row scan, summary of 90 days".to_owned(),
        value: scan_ms,
        unit: "ms",
        limit: None,
        ratio: None,
        target: None,
        met: None,
    });
    server.kill();
    Ok(())
}
