//! `TallyLayer` in a real axum app on a loopback port, driven by real HTTP
//! requests: Tally's requests view shows route templates (never raw paths),
//! methods, statuses, cache hits and the caller's key by its hash.

use axum::{
    Json, Router,
    extract::Path,
    http::{HeaderName, StatusCode},
    routing::get,
};
use serde_json::{Value, json};
use tally_client::{ApiKey, CacheHit, TallyLayer};
use tally_tests::spawn_app_with;

use crate::clients::{INGEST_KEY, client, flushed};

const CUSTOMER_KEY: &str = "sk-live-customer-of-the-app";

/// The producer's own API, with the layer on every route.
fn app(layer: TallyLayer) -> Router {
    Router::new()
        .route(
            "/items/{id}",
            get(|Path(id): Path<u32>| async move { Json(json!({ "id": id })) }),
        )
        .route(
            "/items",
            axum::routing::post(|| async { (StatusCode::CREATED, "created") }),
        )
        .route(
            "/cached/{key}",
            get(|| async { (CacheHit(true), "from the cache") }),
        )
        .route(
            "/broken",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "failed") }),
        )
        .layer(layer)
}

fn endpoint<'a>(stats: &'a Value, endpoint: &str, method: &str) -> &'a Value {
    stats["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["endpoint"] == endpoint && e["method"] == method)
        .unwrap_or_else(|| panic!("no {method} {endpoint} in {stats}"))
}

#[tokio::test]
async fn an_axum_app_with_the_layer_records_route_templates() {
    let tally_app = spawn_app_with(&["--ingest-api-key", INGEST_KEY]).await;
    let tally = client(&tally_app.base_url).build().unwrap();
    let layer = TallyLayer::new(tally.clone()).api_key_header(HeaderName::from_static("x-api-key"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app(layer)).await });

    let http = reqwest::Client::new();
    let get = |path: String| {
        http.get(format!("{base}{path}"))
            .header("x-api-key", CUSTOMER_KEY)
            .send()
    };
    for id in 0..20 {
        assert_eq!(get(format!("/items/{id}")).await.unwrap().status(), 200);
    }
    for _ in 0..5 {
        let created = http
            .post(format!("{base}/items"))
            .header("x-api-key", format!("Bearer {CUSTOMER_KEY}"))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    for key in ["a", "b", "c", "d"] {
        get(format!("/cached/{key}")).await.unwrap();
    }
    for _ in 0..2 {
        assert_eq!(get("/broken".to_owned()).await.unwrap().status(), 500);
    }
    for path in ["/wp-admin.php", "/items/7/../../etc", "/no/such/route"] {
        assert_eq!(get(path.to_owned()).await.unwrap().status(), 404);
    }
    // Without a key: recorded, attributed to none.
    let anonymous = http.get(format!("{base}/items/99")).send().await.unwrap();
    assert_eq!(anonymous.status(), 200);

    let stats = flushed(&tally).await;
    assert_eq!(
        (stats.sent, stats.invalid, stats.rejected),
        (35, 0, 0),
        "{stats:?}"
    );
    let requests = tally_app
        .admin_get("/api/v1/admin/metrics/requests?period=hour")
        .await;
    assert_eq!(requests["total_requests"], 35);
    assert_eq!(endpoint(&requests, "/items/{id}", "GET")["requests"], 21);
    assert_eq!(endpoint(&requests, "/items", "POST")["requests"], 5);
    assert_eq!(endpoint(&requests, "/cached/{key}", "GET")["requests"], 4);
    let broken = endpoint(&requests, "/broken", "GET");
    assert_eq!(
        (broken["requests"].as_u64(), broken["errors_5xx"].as_u64()),
        (Some(2), Some(2))
    );
    let unmatched = endpoint(&requests, "/<unmatched>", "GET");
    assert_eq!(unmatched["errors_4xx"], 3);
    let endpoints = requests["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 5, "one row per route: {requests}");
    let cache_hit_rate = requests["cache_hit_rate"].as_f64().unwrap();
    assert!(
        (cache_hit_rate - 4.0 / 35.0 * 100.0).abs() < 0.01,
        "{cache_hit_rate}"
    );

    // The customer's key arrived as its hash, for every request that sent it.
    let key = ApiKey::raw(CUSTOMER_KEY);
    let by_key = tally_app
        .admin_get(&format!(
            "/api/v1/admin/metrics/requests?period=hour&api_key_hash={}",
            key.prefix()
        ))
        .await;
    assert_eq!(by_key["total_requests"], 34);
}
