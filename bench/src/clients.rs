//! The Rust producer client's own cost: the events/s one client (one sender
//! task) sustains against a real Tally, beside a hand-written sender of the
//! same batches on one connection; what `record_execution` costs the
//! caller; and the latency `TallyLayer` adds to an axum app's requests, in
//! process and over loopback HTTP.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use axum::{Json, Router, extract::Path as UrlPath, http::HeaderName, routing::get};
use tally_client::{ApiKey, Client, ContainerSource, Execution, Status, Tally, TallyLayer};
use tally_tests::{MASTER_KEY, process::ServerProcess};
use tower::ServiceExt;

use crate::{
    Scale, ingest,
    report::{Report, Row, cpu_seconds, percentile},
};

const GROUP: &str = "client (Rust)";
const BATCH: usize = 500;

pub async fn run(binary: &Path, scale: Scale, report: &mut Report) -> anyhow::Result<()> {
    println!("clients: starting {}", binary.display());
    let dir = tempfile::tempdir_in("target")?;
    let server =
        ServerProcess::start_measured(binary, &dir.path().join("metrics.db"), &ingest::FLAGS).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let seconds = scale.ingest_seconds;

    let raw = ingest::load(&server.base_url, BATCH, 1, seconds, server.pid(), "raw1").await;
    anyhow::ensure!(raw.errors == 0, "the hand-written sender saw errors");
    let client = sustained(&server, seconds).await?;
    let ratio = client.events_per_second / raw.events_per_second;
    add(
        report,
        format!("one client, batch {BATCH}: events/s"),
        client.events_per_second,
        "ev/s",
        Some((
            format!("hand-written sender, batch {BATCH}, 1 connection"),
            raw.events_per_second,
        )),
        Some(("≥ 80 % of the hand-written sender", ratio >= 0.8)),
    );
    let plain = [
        (
            "one client: server CPU (share of all cores)",
            client.server_cpu_share,
            "",
        ),
        (
            "one client: client process CPU (share of all cores)",
            client.client_cpu_share,
            "",
        ),
        (
            "hand-written sender: server CPU (share of all cores)",
            raw.server_cpu_share,
            "",
        ),
        (
            "hand-written sender: its CPU (share of all cores)",
            raw.client_cpu_share,
            "",
        ),
        ("record_execution: p99 per call", client.record_p99_us, "µs"),
    ];
    add(
        report,
        "record_execution: p50 per call (caller's cost)".to_owned(),
        client.record_p50_us,
        "µs",
        None,
        Some(("≤ 2 µs", client.record_p50_us <= 2.0)),
    );
    for (measure, value, unit) in plain {
        add(report, measure.to_owned(), value, unit, None, None);
    }

    let tally = Client::builder(&server.base_url, MASTER_KEY).build()?;
    let calls = if scale.quick { 20_000 } else { 200_000 };
    let (without, with) = in_process(&tally, calls).await;
    add_layer_rows(report, "in process", &without, &with, 5.0);
    let requests = if scale.quick { 2_000 } else { 20_000 };
    let (without, with) = over_http(&tally, requests).await?;
    add_layer_rows(report, "over loopback HTTP", &without, &with, 20.0);
    let stats = tally.shutdown().await;
    anyhow::ensure!(
        stats.sent == stats.recorded && stats.dropped == 0,
        "the layer's events did not all land: {stats:?}"
    );
    server.kill();
    Ok(())
}

fn add(
    report: &mut Report,
    measure: String,
    value: f64,
    unit: &'static str,
    limit: Option<(String, f64)>,
    target: Option<(&str, bool)>,
) {
    report.add(Row {
        group: GROUP,
        measure,
        value,
        unit,
        // Bigger is better: rates against their limit, times the other way round.
        ratio: limit
            .as_ref()
            .map(|(_, l)| if unit == "µs" { l / value } else { value / l }),
        limit,
        target: target.map(|(t, _)| t.to_owned()),
        met: target.map(|(_, m)| m),
    });
}

struct Sustained {
    events_per_second: f64,
    record_p50_us: f64,
    record_p99_us: f64,
    server_cpu_share: f64,
    client_cpu_share: f64,
}

fn execution(i: usize) -> Execution {
    Execution {
        api_key: Some(ApiKey::raw(&format!("sk-bench-{}", i % 8))),
        memory_peak_mb: Some(40.0),
        cpu_time_ms: Some(15.0),
        container_source: Some(if i.is_multiple_of(9) {
            ContainerSource::PoolMiss
        } else {
            ContainerSource::PoolHit
        }),
        output_size_bytes: Some(512),
        ..Execution::new(
            ["python", "javascript", "go", "rust"][i % 4],
            if i.is_multiple_of(17) {
                Status::Failed
            } else {
                Status::Completed
            },
            20.0 + (i % 400) as f64,
        )
    }
}

/// One producer task records as fast as the client takes events, for
/// `seconds`; the rate is what Tally acknowledged over the time until the
/// last event was acknowledged. The producer waits while the queue is
/// nearly full, so nothing is dropped and the sender sets the pace.
async fn sustained(server: &ServerProcess, seconds: u64) -> anyhow::Result<Sustained> {
    let tally = Client::builder(&server.base_url, MASTER_KEY)
        .batch_size(BATCH)
        .max_delay(Duration::from_millis(50))
        .queue_capacity(20_000)
        .build()?;
    let pid = server.pid().to_string();
    let cpu_before = (cpu_seconds(&pid), cpu_seconds("self"));
    let started = Instant::now();
    let mut record_us = Vec::new();
    let mut i = 0usize;
    while started.elapsed() < Duration::from_secs(seconds) {
        if tally.stats().queued > 15_000 {
            tokio::time::sleep(Duration::from_micros(200)).await;
            continue;
        }
        for _ in 0..BATCH {
            let event = execution(i);
            let call = Instant::now();
            tally.record_execution(event)?;
            record_us.push(call.elapsed().as_secs_f64() * 1e6);
            i += 1;
        }
        tokio::task::yield_now().await;
    }
    tally.flush().await;
    let elapsed = started.elapsed().as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let share = |before: f64, after: f64| (after - before) / (elapsed * cores);
    let server_cpu_share = share(cpu_before.0, cpu_seconds(&pid));
    let client_cpu_share = share(cpu_before.1, cpu_seconds("self"));
    let stats = tally.shutdown().await;
    anyhow::ensure!(
        stats.sent == i as u64 && stats.dropped == 0 && stats.rejected == 0,
        "not every event landed: {stats:?}"
    );
    Ok(Sustained {
        events_per_second: stats.sent as f64 / elapsed,
        record_p50_us: percentile(&mut record_us, 0.5),
        record_p99_us: percentile(&mut record_us, 0.99),
        server_cpu_share,
        client_cpu_share,
    })
}

/// A producer's route, with or without the layer.
fn app(layer: Option<TallyLayer>) -> Router {
    let router = Router::new().route(
        "/items/{id}",
        get(|UrlPath(id): UrlPath<u32>| async move { Json(serde_json::json!({ "id": id })) }),
    );
    match layer {
        Some(layer) => router.layer(layer),
        None => router,
    }
}

fn layer(tally: &Tally) -> TallyLayer {
    TallyLayer::new(tally.clone()).api_key_header(HeaderName::from_static("x-api-key"))
}

/// Microseconds per request through the router (`tower::oneshot`), without
/// and with the layer, alternating in blocks so drift hits both alike.
async fn in_process(tally: &Tally, calls: usize) -> (Vec<f64>, Vec<f64>) {
    let routers = [app(None), app(Some(layer(tally)))];
    let mut times = [Vec::with_capacity(calls), Vec::with_capacity(calls)];
    for block in 0..calls / 1000 {
        for (router, times) in routers.iter().zip(times.iter_mut()) {
            for i in 0..1000 {
                let request = axum::http::Request::builder()
                    .uri(format!("/items/{}", block * 1000 + i))
                    .header("x-api-key", "sk-live-customer-1")
                    .body(axum::body::Body::empty())
                    .expect("a valid request");
                let started = Instant::now();
                let response = router.clone().oneshot(request).await;
                times.push(started.elapsed().as_secs_f64() * 1e6);
                debug_assert!(response.is_ok());
            }
        }
        // Calls in process come faster than any server gets requests (and
        // than Tally ingests): between blocks, untimed, let the sender catch
        // up, so the queue never drops and the figure is the request path's.
        while tally.stats().queued > 2_000 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let [without, with] = times;
    (without, with)
}

/// Microseconds per request from a reqwest client on one keep-alive
/// connection to each app served on loopback, alternating in blocks.
async fn over_http(tally: &Tally, requests: usize) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let mut bases = Vec::new();
    for layer in [None, Some(layer(tally))] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        bases.push(format!("http://{}", listener.local_addr()?));
        tokio::spawn(async move { axum::serve(listener, app(layer)).await });
    }
    let http = reqwest::Client::new();
    let mut times = [Vec::with_capacity(requests), Vec::with_capacity(requests)];
    for block in 0..requests / 200 {
        for (base, times) in bases.iter().zip(times.iter_mut()) {
            for i in 0..200 {
                let started = Instant::now();
                let response = http
                    .get(format!("{base}/items/{}", block * 200 + i))
                    .header("x-api-key", "sk-live-customer-1")
                    .send()
                    .await?;
                anyhow::ensure!(response.status().is_success(), "{}", response.status());
                response.bytes().await?;
                times.push(started.elapsed().as_secs_f64() * 1e6);
            }
        }
    }
    let [without, with] = times;
    Ok((without, with))
}

fn add_layer_rows(report: &mut Report, how: &str, without: &[f64], with: &[f64], budget_us: f64) {
    for (q, name) in [(0.5, "p50"), (0.99, "p99")] {
        let base = percentile(&mut without.to_vec(), q);
        let layered = percentile(&mut with.to_vec(), q);
        add(
            report,
            format!("TallyLayer {how}: {name} per request"),
            layered,
            "µs",
            Some(("the same route without the layer".to_owned(), base)),
            None,
        );
        let target = format!("≤ {budget_us} µs");
        let added = layered - base;
        add(
            report,
            format!("TallyLayer {how}: added {name}"),
            added,
            "µs",
            None,
            (name == "p50").then_some((target.as_str(), added <= budget_us)),
        );
    }
}
