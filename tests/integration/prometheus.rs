//! A real Prometheus server (Debian's `prometheus`) scrapes Tally on
//! loopback; its query API then agrees with Tally's own numbers.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tally_tests::spawn_app;

struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_prometheus(target: &str) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: tally\n    metrics_path: /metrics\n    params:\n      format: [prometheus]\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus is missing: run scripts/bootstrap.sh");
    Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

/// The value of an instant query with one result, once Prometheus has one.
async fn query(prometheus: &Prometheus, promql: &str, until: impl Fn(f64) -> bool) -> f64 {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = client
            .get(format!("{}/api/v1/query", prometheus.url))
            .query(&[("query", promql)])
            .send()
            .await;
        if let Ok(answer) = answer
            && let Ok(body) = answer.json::<Value>().await
            && let Some(value) = body["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
            && until(value)
        {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never answered {promql}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_real_prometheus_scrapes_tally_and_agrees() {
    let app = spawn_app().await;
    let now = chrono::Utc::now().to_rfc3339();
    let events: Vec<Value> = (0..400)
        .map(|i| json!({"execution_id": format!("prom-{i}"), "language": if i % 2 == 0 { "python" } else { "go" },
                        "status": "completed", "execution_time_ms": 5.0 + (i as f64) * 2.5, "created_at": now}))
        .collect();
    assert!(
        app.post_events("executions", &json!(events))
            .await
            .status()
            .is_success()
    );
    let summary = app
        .admin_get("/api/v1/admin/metrics/summary?period=hour")
        .await;
    let tally_p95_seconds = summary["p95_execution_time_ms"].as_f64().unwrap() / 1000.0;

    let prometheus = start_prometheus(&app.addr.to_string());
    let total = query(&prometheus, "sum(tally_executions_total)", |v| v >= 400.0).await;
    assert_eq!(total, 400.0);
    let python = query(
        &prometheus,
        "sum(tally_executions_total{language=\"python\"})",
        |_| true,
    )
    .await;
    assert_eq!(python, 200.0);

    // Prometheus interpolates inside Tally's octave buckets: its p95 lies in
    // the same octave as Tally's finer estimate.
    let p95 = query(
        &prometheus,
        "histogram_quantile(0.95, sum by (le) (tally_execution_duration_seconds_bucket))",
        |v| v.is_finite(),
    )
    .await;
    let octaves_apart = (p95 / tally_p95_seconds).log2().abs();
    assert!(
        octaves_apart <= 1.0,
        "Prometheus p95 {p95} s vs Tally {tally_p95_seconds} s"
    );
    let count = query(
        &prometheus,
        "sum(tally_execution_duration_seconds_count)",
        |_| true,
    )
    .await;
    assert_eq!(count, 400.0);
}
