//! Hot-counter updates through the pipelined Redis path, against
//! `redis-benchmark -P 64` INCR on the same server in the same run.

use std::{process::Command, time::Instant};

use tally::counters::{CounterRow, CounterStore, Window, redis_store::RedisStore};
use tally_tests::redis_server::RedisServer;

use crate::{
    Scale,
    report::{Report, Row},
};

pub async fn run(scale: Scale, report: &mut Report) -> anyhow::Result<()> {
    let redis = RedisServer::start().await;
    let store = RedisStore::new(&redis.url(), "bench", std::time::Duration::from_secs(5))?;
    let minute = tally::clock::now_ms() / 60_000;
    // One commit's worth of counter rows: 1000 distinct (window, key, language, status).
    let rows: Vec<CounterRow> = (0..1000)
        .flat_map(|i: i64| {
            Window::containing_minute(minute - (i % 30)).map(|window| CounterRow {
                window,
                key: Some(format!("{:016x}", i % 40)),
                language: ["python", "go", "rust", "java"][(i % 4) as usize].to_owned(),
                status: "completed".to_owned(),
                executions: 1,
                time_ms: 10.0,
            })
        })
        .collect();
    // Each row is six HINCRBY fields; the pipeline sums equal (key, field) pairs first.
    let commands_per_apply: usize = {
        let mut distinct = std::collections::HashSet::new();
        for row in &rows {
            for (field, _) in row.fields() {
                distinct.insert((row.window, field));
            }
        }
        distinct.len()
    };
    let applies = if scale.quick { 20 } else { 200 };
    store.apply(&rows).await?;
    let started = Instant::now();
    for _ in 0..applies {
        store.apply(&rows).await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let commands_per_second = (applies * commands_per_apply) as f64 / seconds;
    let rows_per_second = (applies * rows.len()) as f64 / seconds;

    let requests = if scale.quick { "200000" } else { "2000000" };
    let output = Command::new("redis-benchmark")
        .args([
            "-p",
            &redis.port.to_string(),
            "-t",
            "incr",
            "-P",
            "64",
            "-n",
            requests,
            "-q",
        ])
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let limit = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .find(|w| w[1] == "requests")
        .and_then(|w| w[0].parse::<f64>().ok())
        .ok_or_else(|| anyhow::anyhow!("cannot read redis-benchmark output: {text}"))?;
    report.add(Row {
        group: "redis",
        measure: "counter commands/s (pipelined HINCRBY + EXPIRE)".to_owned(),
        value: commands_per_second,
        unit: "cmd/s",
        limit: Some(("redis-benchmark -P 64 INCR".to_owned(), limit)),
        ratio: Some(commands_per_second / limit),
        target: None,
        met: None,
    });
    report.add(Row {
        group: "redis",
        measure: "counter rows/s (one row = 6 fields × 3 windows)".to_owned(),
        value: rows_per_second,
        unit: "rows/s",
        limit: None,
        ratio: None,
        target: None,
        met: None,
    });
    Ok(())
}
