//! Tenants: keys join a tenant through their events (`tenant_id`) or the
//! admin API, and every admin view filtered by a tenant adds up exactly
//! its keys.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tally::model::KeyHash;
use tally_tests::{MASTER_KEY, TestApp, spawn_app};

/// `n` executions of `key` (raw), optionally naming a tenant; every third fails.
fn executions(key: &str, tenant: Option<&str>, n: usize, language: &str) -> Value {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let mut event = json!({
                "execution_id": format!("{key}-{language}-{i}"),
                "api_key": key,
                "language": language,
                "status": if i % 3 == 0 { "failed" } else { "completed" },
                "execution_time_ms": 10.0 + i as f64,
                "cpu_time_ms": 5.0,
                "memory_peak_mb": 32.0,
            });
            if let Some(tenant) = tenant {
                event["tenant_id"] = json!(tenant);
            }
            event
        })
        .collect();
    json!(events)
}

fn requests(key: &str, tenant: Option<&str>, n: usize) -> Value {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let mut event = json!({
                "method": "POST",
                "endpoint": "/api/v1/exec",
                "status_code": if i % 4 == 0 { 500 } else { 200 },
                "duration_ms": 20.0,
                "api_key": key,
            });
            if let Some(tenant) = tenant {
                event["tenant_id"] = json!(tenant);
            }
            event
        })
        .collect();
    json!(events)
}

async fn put_tenant(app: &TestApp, key: &str, tenant: Value) -> reqwest::Response {
    app.client
        .put(app.url(&format!("/api/v1/admin/api-keys/{key}/tenant")))
        .header("x-api-key", MASTER_KEY)
        .json(&json!({ "tenant": tenant }))
        .send()
        .await
        .unwrap()
}

async fn status_of(app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = app
        .client
        .get(app.url(path))
        .header("x-api-key", MASTER_KEY)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn tenant_filter_totals_equal_the_sum_of_their_keys() {
    let app = spawn_app().await;
    let [a, b, c] = ["sk-tenant-a", "sk-tenant-b", "sk-tenant-c"];
    let [pa, pb, pc] = [a, b, c].map(|k| KeyHash::of_raw_key(k).prefix().to_owned());
    // Key a joins `acme` through its events, b through the admin API; c
    // stays outside and belongs to `globex` later.
    for (body, kind) in [
        (executions(a, Some("acme"), 12, "python"), "executions"),
        (executions(a, Some("acme"), 5, "go"), "executions"),
        (executions(b, None, 7, "python"), "executions"),
        (executions(c, None, 9, "rust"), "executions"),
        (requests(a, Some("acme"), 8), "requests"),
        (requests(b, None, 4), "requests"),
        (requests(c, None, 6), "requests"),
    ] {
        let response = app.post_events(kind, &body).await;
        assert_eq!(response.status(), StatusCode::OK, "{kind}");
    }
    assert_eq!(
        put_tenant(&app, &pb, json!("acme")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        put_tenant(&app, &pc, json!("globex")).await.status(),
        StatusCode::OK
    );

    let tenants = app.admin_get("/api/v1/admin/tenants").await;
    let mut acme_keys: Vec<String> = tenants["tenants"][0]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    acme_keys.sort();
    let mut expected = vec![pa.clone(), pb.clone()];
    expected.sort();
    assert_eq!(tenants["tenants"][0]["tenant"], "acme");
    assert_eq!(acme_keys, expected);
    assert_eq!(tenants["tenants"][1]["tenant"], "globex");

    let summary = |filter: String| {
        let app = &app;
        async move {
            app.admin_get(&format!(
                "/api/v1/admin/metrics/summary?period=day&{filter}"
            ))
            .await
        }
    };
    let requests_of = |filter: String| {
        let app = &app;
        async move {
            app.admin_get(&format!(
                "/api/v1/admin/metrics/requests?period=day&{filter}"
            ))
            .await
        }
    };
    let of_acme = summary("tenant=acme".to_owned()).await;
    let of_a = summary(format!("api_key_hash={pa}")).await;
    let of_b = summary(format!("api_key_hash={pb}")).await;
    for field in [
        "total_executions",
        "success_count",
        "failure_count",
        "active_api_keys",
    ] {
        let sum = of_a[field].as_u64().unwrap() + of_b[field].as_u64().unwrap();
        assert_eq!(of_acme[field].as_u64().unwrap(), sum, "{field}");
    }
    assert_eq!(of_acme["total_executions"], 24);
    let cpu = |s: &Value| s["total_cpu_time_ms"].as_f64().unwrap_or_default();
    assert!((cpu(&of_acme) - cpu(&of_a) - cpu(&of_b)).abs() < 1e-6);

    let acme_requests = requests_of("tenant=acme".to_owned()).await;
    let a_requests = requests_of(format!("api_key_hash={pa}")).await;
    let b_requests = requests_of(format!("api_key_hash={pb}")).await;
    assert_eq!(
        acme_requests["total_requests"].as_u64().unwrap(),
        a_requests["total_requests"].as_u64().unwrap()
            + b_requests["total_requests"].as_u64().unwrap()
    );
    assert_eq!(acme_requests["total_requests"], 12);

    // Two tenants: all three keys.
    let both = summary("tenant=acme,globex".to_owned()).await;
    assert_eq!(both["total_executions"], 33);

    // The per-key view lists the tenant's keys with their tenant.
    let keys = app
        .admin_get("/api/v1/admin/metrics/api-keys?period=day&tenant=acme")
        .await;
    let rows = keys.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["tenant"] == "acme"));
    let usage: u64 = rows
        .iter()
        .map(|r| r["usage_count"].as_u64().unwrap())
        .sum();
    assert_eq!(usage, 24);

    // Every other view adds up the same executions.
    let series = app
        .admin_get("/api/v1/admin/metrics/time-series?period=day&granularity=hour&tenant=acme")
        .await;
    let in_series: u64 = series["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(in_series, 24);
    let heatmap = app
        .admin_get("/api/v1/admin/metrics/heatmap?period=day&tenant=acme")
        .await;
    let in_heatmap: u64 = heatmap["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()))
        .sum();
    assert_eq!(in_heatmap, 24);
    let top = app
        .admin_get("/api/v1/admin/metrics/top-languages?period=day&tenant=acme")
        .await;
    assert_eq!(top["languages"][0]["language"], "python");
    assert_eq!(top["languages"][0]["count"], 19);
    let csv = app
        .admin_text("/api/v1/admin/metrics/summary?period=day&tenant=acme&format=csv")
        .await;
    assert!(csv.lines().any(|l| l == "total_executions,24,"), "{csv}");

    // The languages view filters the same way.
    let languages = app
        .admin_get("/api/v1/admin/metrics/languages?period=day&tenant=acme")
        .await;
    assert_eq!(languages["by_language"]["python"], 19);
    assert_eq!(languages["by_language"]["go"], 5);
    assert!(languages["by_language"].get("rust").is_none());

    // A key and a tenant together: the listed keys of that tenant only.
    let outside = summary(format!("tenant=acme&api_key_hash={pc}")).await;
    assert_eq!(outside["total_executions"], 0);
    let inside = summary(format!("tenant=acme&api_key_hash={pa}")).await;
    assert_eq!(inside["total_executions"], 17);
    // An unknown tenant has no keys, so nothing.
    let nobody = summary("tenant=initech".to_owned()).await;
    assert_eq!(nobody["total_executions"], 0);

    // Moving a key out of its tenant moves its usage out of the tenant's totals.
    assert_eq!(
        put_tenant(&app, &pb, Value::Null).await.status(),
        StatusCode::OK
    );
    let without_b = summary("tenant=acme".to_owned()).await;
    assert_eq!(without_b["total_executions"], 17);

    // Bad input is named.
    let (status, body) = status_of(&app, "/api/v1/admin/metrics/summary?tenant=no%20spaces").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("tenant"), "{body}");
    let missing = app
        .client
        .put(app.url(&format!("/api/v1/admin/api-keys/{pa}/tenant")))
        .header("x-api-key", MASTER_KEY)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("`tenant` is required")
    );
    let bad = put_tenant(&app, &pa, json!("a/b")).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("tenant"));
    let unknown = put_tenant(&app, "0000000000000000", json!("acme")).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let keyless = app
        .post_events(
            "executions",
            &json!([{"execution_id": "x1", "language": "go", "status": "completed",
                     "execution_time_ms": 1, "tenant_id": "acme"}]),
        )
        .await;
    assert_eq!(keyless.status(), StatusCode::BAD_REQUEST);
    assert!(keyless.text().await.unwrap().contains("tenant_id"));
    let anonymous = app
        .client
        .put(app.url(&format!("/api/v1/admin/api-keys/{pa}/tenant")))
        .json(&json!({"tenant": "acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
