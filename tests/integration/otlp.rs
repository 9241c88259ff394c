//! OTLP/HTTP in: the official OpenTelemetry Python SDK and exporter push
//! counters, gauges and histograms to Tally; the values come back through
//! Tally's API. Also OTLP JSON with gzip, and the cardinality limit.

use std::io::Write;

use tokio::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tally_tests::{MASTER_KEY, TestApp, repo_root, spawn_app, spawn_app_with};

const SDK_SCRIPT: &str = r#"
import sys
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

endpoint, key = sys.argv[1], sys.argv[2]
exporter = OTLPMetricExporter(endpoint=endpoint, headers={"x-api-key": key})
reader = PeriodicExportingMetricReader(exporter, export_interval_millis=600000)
provider = MeterProvider(resource=Resource.create({"service.name": "code-runner"}), metric_readers=[reader])
meter = provider.get_meter("runner")
executions = meter.create_counter("script.executions.total")
executions.add(5, {"status": "completed", "lang_and_version": "python-3.11"})
executions.add(2, {"status": "failed", "lang_and_version": "python-3.11"})
duration = meter.create_histogram("script.execution.duration", unit="s")
for seconds in [0.1, 0.2, 0.4, 3.0]:
    duration.record(seconds, {"lang_and_version": "python-3.11"})
active = meter.create_up_down_counter("script.executions.active")
active.add(3)
active.add(-1)
meter.create_observable_gauge("execution.queue.depth", callbacks=[lambda options: [Observation(7)]])
provider.force_flush()
provider.shutdown()
"#;

/// The last point of the one series of `name` matching `attr` (key:value pairs).
async fn last_point(app: &TestApp, name: &str, attrs: &[&str]) -> Value {
    let mut url = format!("/api/v1/admin/metrics/custom/{name}?period=hour");
    for attr in attrs {
        url.push_str(&format!("&attr={attr}"));
    }
    let body = app.admin_get(&url).await;
    let series = body["series"].as_array().unwrap();
    assert_eq!(series.len(), 1, "{name} {attrs:?}: {body}");
    series[0]["points"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn the_official_python_sdk_pushes_metrics_that_read_back() {
    let python = repo_root().join(".tools/otel-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/bootstrap.sh",
        python.display()
    );
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("push.py");
    std::fs::write(&script, SDK_SCRIPT).unwrap();
    let output = Command::new(&python)
        .arg(&script)
        .arg(app.url("/v1/metrics"))
        .arg(MASTER_KEY)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stderr.is_empty() || !String::from_utf8_lossy(&output.stderr).contains("Failed"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let catalog = app.admin_get("/api/v1/admin/metrics/custom").await;
    let names: Vec<&str> = catalog["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for expected in [
        "execution.queue.depth",
        "script.execution.duration",
        "script.executions.active",
        "script.executions.total",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let total = catalog["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "script.executions.total")
        .unwrap();
    assert_eq!(total["series"], 2);
    assert!(
        total["attribute_keys"]
            .as_array()
            .unwrap()
            .contains(&json!("service.name"))
    );

    // Cumulative counters: the last point holds the total added.
    let completed = last_point(
        &app,
        "script.executions.total",
        &["status:completed", "service.name:code-runner"],
    )
    .await;
    assert_eq!(completed["value"], 5.0);
    let failed = last_point(&app, "script.executions.total", &["status:failed"]).await;
    assert_eq!(failed["value"], 2.0);
    let histogram = last_point(
        &app,
        "script.execution.duration",
        &["lang_and_version:python-3.11"],
    )
    .await;
    assert_eq!(histogram["count"], 4);
    assert!((histogram["value"].as_f64().unwrap() - 3.7).abs() < 1e-9);
    assert_eq!(
        histogram["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_u64().unwrap())
            .sum::<u64>(),
        4
    );
    assert_eq!(
        last_point(&app, "script.executions.active", &[]).await["value"],
        2.0
    );
    assert_eq!(
        last_point(&app, "execution.queue.depth", &[]).await["value"],
        7.0
    );

    // The well-known names fill the execution rollups: 5 completed and 2
    // failed Python executions, counted once although the SDK exported the
    // same cumulative totals twice (flush, then shutdown).
    for period in ["hour", "day"] {
        let summary = app
            .admin_get(&format!("/api/v1/admin/metrics/summary?period={period}"))
            .await;
        assert_eq!(summary["total_executions"], 7, "{period}: {summary}");
        assert_eq!(summary["success_count"], 5);
        assert_eq!(summary["failure_count"], 2);
        // The duration histogram gives the time: 3.7 s over 7 executions.
        let avg = summary["avg_execution_time_ms"].as_f64().unwrap();
        assert!((avg - 3700.0 / 7.0).abs() < 0.01, "{summary}");
    }
    let languages = app
        .admin_get("/api/v1/admin/metrics/languages?period=day")
        .await;
    assert_eq!(languages["by_language"], json!({"python": 7}));
}

#[tokio::test]
async fn otlp_json_with_gzip_and_the_limits() {
    let app = spawn_app_with(&["--max-metric-series", "3"]).await;
    let now_ns = (tally::clock::now_ms() as u128 * 1_000_000).to_string();
    let request = |depth: f64, queue: &str| {
        json!({"resourceMetrics": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-client"}}]},
            "scopeMetrics": [{"metrics": [{
                "name": "queue.depth",
                "gauge": {"dataPoints": [{"asDouble": depth, "timeUnixNano": now_ns,
                    "attributes": [{"key": "queue", "value": {"stringValue": queue}}]}]}
            }]}]
        }]})
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(request(4.5, "a").to_string().as_bytes())
        .unwrap();
    let response = app
        .client
        .post(app.url("/v1/metrics"))
        .header("x-api-key", MASTER_KEY)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
    assert_eq!(
        last_point(&app, "queue.depth", &["queue:a"]).await["value"],
        4.5
    );

    let post = |body: Value| {
        let request = app
            .client
            .post(app.url("/v1/metrics"))
            .header("x-api-key", MASTER_KEY)
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    assert_eq!(post(request(1.0, "b")).await.status(), StatusCode::OK);
    assert_eq!(post(request(1.0, "c")).await.status(), StatusCode::OK);
    let refused = post(request(1.0, "d")).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("limit of 3 series"),
        "{body}"
    );
    // Existing series still take points.
    assert_eq!(post(request(9.0, "a")).await.status(), StatusCode::OK);

    // The series' hourly rollup counts both points of queue a.
    let rollups = app
        .admin_get("/api/v1/admin/metrics/custom/queue.depth/rollups?period=day&attr=queue:a")
        .await;
    let series = rollups["series"].as_array().unwrap();
    assert_eq!(series.len(), 1, "{rollups}");
    let bucket = &series[0]["buckets"][0];
    assert_eq!(
        (bucket["points"].as_i64(), bucket["sum"].as_f64()),
        (Some(2), Some(13.5)),
        "{rollups}"
    );
    assert_eq!(
        (
            bucket["min"].as_f64(),
            bucket["max"].as_f64(),
            bucket["last"].as_f64()
        ),
        (Some(4.5), Some(9.0), Some(9.0))
    );
    let daily = app
        .admin_get("/api/v1/admin/metrics/custom/queue.depth/rollups?period=week&granularity=day")
        .await;
    assert_eq!(daily["series"].as_array().unwrap().len(), 3);

    let unauthenticated = app
        .client
        .post(app.url("/v1/metrics"))
        .json(&request(1.0, "a"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    let text = app
        .client
        .post(app.url("/v1/metrics"))
        .header("x-api-key", MASTER_KEY)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn tally_exports_its_own_metrics_to_a_tally_receiver() {
    let receiver = spawn_app().await;
    let headers = format!("x-api-key={MASTER_KEY}");
    let sender = spawn_app_with(&[
        "--otel-exporter-otlp-endpoint",
        &receiver.base_url,
        "--otel-exporter-otlp-headers",
        &headers,
        "--tracing-service-name",
        "tally-under-test",
        "--otlp-export-interval-ms",
        "200",
    ])
    .await;
    let events: Vec<Value> = (0..25)
        .map(|i| json!({"execution_id": format!("self-{i}"), "language": "go", "status": "completed", "execution_time_ms": 3}))
        .collect();
    assert_eq!(
        sender
            .post_events("executions", &json!(events))
            .await
            .status(),
        StatusCode::OK
    );
    sender
        .admin_get("/api/v1/admin/metrics/summary?period=hour")
        .await;

    // The receiver shows the sender's ingest counter, by kind, under its service name.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let catalog = receiver.admin_get("/api/v1/admin/metrics/custom").await;
        let names: Vec<String> = catalog["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_owned())
            .collect();
        if names.iter().any(|n| n == "ingest.events.total") {
            let point = last_point(
                &receiver,
                "ingest.events.total",
                &["kind:executions", "service.name:tally-under-test"],
            )
            .await;
            if point["value"] == 25.0 {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the receiver never got the sender's metrics: {names:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let catalog = receiver.admin_get("/api/v1/admin/metrics/custom").await;
    let names: Vec<&str> = catalog["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for expected in [
        "database.commit.duration",
        "http.requests.total",
        "ingest.batch.size",
        "ingest.buffer.depth",
        "query.duration",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    // The same figures are in the sender's Prometheus export.
    let text = sender.admin_text("/metrics?format=prometheus").await;
    assert!(
        text.contains("tally_ingest_events_total{kind=\"executions\"} 25\n"),
        "{text}"
    );
    assert!(
        text.contains("tally_database_commit_duration_seconds_count "),
        "{text}"
    );
    assert!(text.contains("tally_http_requests_total{route=\"/api/v1/events/executions\",method=\"POST\",status_class=\"2xx\"} 1\n"), "{text}");
}
