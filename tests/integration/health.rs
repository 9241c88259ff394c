use reqwest::StatusCode;
use serde_json::{Value, json};
use tally_tests::{spawn_app, spawn_app_with};

#[tokio::test]
async fn healthz_and_readyz_answer_ok() {
    let app = spawn_app().await;

    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let body: Value = health.json().await.unwrap();
    assert_eq!(body["status"], "ok");

    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "ok");

    app.stop().await.unwrap();
}

#[tokio::test]
async fn database_file_is_created_with_migrations_applied() {
    let app = spawn_app().await;
    assert!(
        app.db_path().exists(),
        "{} missing",
        app.db_path().display()
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn root_redirects_to_the_dashboard() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    assert!(response.status().is_redirection());
    assert_eq!(response.headers()["location"], "/monitoring");
}

#[tokio::test]
async fn dashboard_html_is_revalidated_and_hashed_assets_are_immutable() {
    tally_tests::require_dist();
    let app = spawn_app().await;

    let page = app.client.get(app.url("/monitoring")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-cache");
    let html = page.text().await.unwrap();
    assert!(html.contains("<title>Tally"), "{html}");

    // The page references its wasm through a hashed file name.
    let wasm = html
        .split(['"', '\''])
        .find(|s| s.starts_with("/monitoring/") && s.ends_with("_bg.wasm"))
        .unwrap_or_else(|| panic!("no wasm reference in {html}"));
    let asset = app.client.get(app.url(wasm)).send().await.unwrap();
    assert_eq!(asset.status(), StatusCode::OK);
    assert_eq!(asset.headers()["content-type"], "application/wasm");
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );

    // Client-side routes fall back to the app shell.
    let deep = app
        .client
        .get(app.url("/monitoring/some/view"))
        .send()
        .await
        .unwrap();
    assert_eq!(deep.status(), StatusCode::OK);
    assert!(deep.text().await.unwrap().contains("<title>Tally"));
}

#[tokio::test]
async fn health_score_follows_the_last_five_minutes_and_the_host() {
    let app = spawn_app_with(&["--system-metrics-interval-seconds", "1"]).await;
    let mut requests: Vec<Value> = (0..20)
        .map(|i| {
            json!({"id": format!("h{i}"), "method": "POST", "endpoint": "/api/v1/exec",
                   "status_code": if i < 4 { 500 } else { 200 }, "duration_ms": 20})
        })
        .collect();
    requests.extend((0..2).map(|i| {
        json!({"id": format!("slow{i}"), "method": "GET", "endpoint": "/api/v1/slow",
               "status_code": 200, "duration_ms": 4000})
    }));
    let response = app.post_events("requests", &json!(requests)).await;
    assert!(response.status().is_success(), "{}", response.status());

    let unauthenticated = app
        .client
        .get(app.url("/api/v1/admin/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);

    // The sampler takes its first sample at start; wait for it.
    let mut health = app.admin_get("/api/v1/admin/health").await;
    for _ in 0..50 {
        if !health["system"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        health = app.admin_get("/api/v1/admin/health").await;
    }
    let system = &health["system"];
    let memory = system["memory_percent"].as_f64().expect("a host sample");
    assert!(memory > 0.0 && memory <= 100.0, "{system}");
    assert!(system["process_rss_mb"].as_f64().unwrap() > 1.0, "{system}");

    // 4 of 22 answered 5xx (18 %): no error points; the average,
    // (20·20 + 2·4000) / 22 ≈ 382 ms, keeps 20 of the response points.
    let factors = &health["factors"];
    assert_eq!(factors["error_rate"], 0, "{health}");
    assert_eq!(factors["response_time"], 20, "{health}");
    let error_rate = health["inputs"]["error_rate_percent"].as_f64().unwrap();
    assert!((error_rate - 400.0 / 22.0).abs() < 0.01, "{health}");
    let sum: u64 = ["response_time", "error_rate", "cpu_usage", "memory_usage"]
        .iter()
        .map(|f| factors[f].as_u64().unwrap())
        .sum();
    assert_eq!(health["overall_score"].as_u64().unwrap(), sum);
    assert!(sum <= 75, "{health}");
    let status = health["status"].as_str().unwrap();
    assert_eq!(status, tally::health::status_of(sum as u32));

    let recommendations: Vec<&str> = health["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        recommendations
            .iter()
            .any(|r| r.contains("High error rate")),
        "{recommendations:?}"
    );
    assert!(
        recommendations
            .iter()
            .any(|r| r.contains("GET /api/v1/slow")),
        "{recommendations:?}"
    );
    assert!(
        !recommendations.iter().any(|r| r.starts_with("Slow API")),
        "{recommendations:?}"
    );

    // The samples are kept as custom metrics, and the score is exported.
    let catalog = app.admin_get("/api/v1/admin/metrics/custom").await;
    let text = catalog.to_string();
    for name in [
        "system.cpu.utilization",
        "system.memory.utilization",
        "process.memory.rss",
    ] {
        assert!(text.contains(name), "{name} missing from {catalog}");
    }
    let prometheus = app.admin_text("/api/v1/admin/metrics/prometheus").await;
    // CPU may move between the two reads; the score stays at most 75.
    let exported: u32 = prometheus
        .lines()
        .find_map(|l| l.strip_prefix("tally_health_score "))
        .expect("tally_health_score exported")
        .parse()
        .unwrap();
    assert!(exported <= 75, "{prometheus}");
    assert!(
        prometheus.contains("\ntally_system_memory_percent "),
        "{prometheus}"
    );

    app.stop().await.unwrap();
}
