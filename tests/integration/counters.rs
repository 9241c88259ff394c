//! Hot counters with the in-process store and with a real Redis, including
//! Redis dying and coming back mid-test.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tally_tests::{TestApp, redis_server::RedisServer, spawn_app, spawn_app_with};

use crate::ingest::executions;

/// Waits until the live counters say `today.executions == n` and are fresh.
async fn wait_for_today(app: &TestApp, n: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let live = app.admin_get("/api/v1/admin/metrics/live").await;
        if live["today"]["executions"] == n && live["fresh"] == true {
            return live;
        }
        assert!(
            Instant::now() < deadline,
            "counters stuck at {live}, expected {n}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Executions all within the current UTC hour (and day), so every window
/// counts all of them.
fn this_hour(n: usize, prefix: &str) -> Vec<Value> {
    let mut events = executions(n, 1, prefix);
    let now = tally::clock::now_ms();
    let hour_start = now / 3_600_000 * 3_600_000;
    for (i, e) in events.iter_mut().enumerate() {
        let ts = (hour_start + (i as i64 * 997) % (now - hour_start + 1)).min(now);
        e["created_at"] = json!(
            chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ts)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
    }
    events
}

#[tokio::test]
async fn in_process_counters_follow_ingest() {
    let app = spawn_app().await;
    // Sent twice below: the same events, timestamps included (generated
    // again a moment later, they would differ in the first minutes of an
    // hour, and events at another time are other events).
    let events = this_hour(120, "mem");
    assert_eq!(
        app.post_events("executions", &json!(events)).await.status(),
        StatusCode::OK
    );
    let live = wait_for_today(&app, 120).await;
    assert_eq!(live["backend"], "in-process");
    assert_eq!(live["this_hour"]["executions"], 120);
    assert_eq!(live["today"]["by_language"]["python"], 30);
    assert_eq!(live["today"]["errors"], 60); // failed, timeout, error: 3 of every 6
    assert_eq!(live["today"]["by_status"]["timeout"], 20);
    assert_eq!(live["today"]["by_key"].as_object().unwrap().len(), 3);

    // Duplicates do not move the counters.
    app.post_events("executions", &json!(events)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    wait_for_today(&app, 120).await;
}

#[tokio::test]
async fn counters_are_rebuilt_from_sqlite_at_start_up() {
    let first = spawn_app().await;
    first
        .post_events("executions", &json!(this_hour(40, "restart")))
        .await;
    wait_for_today(&first, 40).await;
    let data_dir = first.stop().await.unwrap();
    let db = data_dir.path().join("metrics.db");
    let second = spawn_app_with(&["--sqlite-metrics-db-path", db.to_str().unwrap()]).await;
    assert!(second.db_path() != db,);
    wait_for_today(&second, 40).await;
}

#[tokio::test]
async fn redis_counters_survive_an_outage() {
    let mut redis = RedisServer::start().await;
    let prefix = "tally-outage-test";
    let app = spawn_app_with(&[
        "--redis-url",
        &redis.url(),
        "--redis-key-prefix",
        prefix,
        "--redis-timeout-ms",
        "200",
    ])
    .await;

    assert_eq!(
        app.post_events("executions", &json!(this_hour(60, "r1")))
            .await
            .status(),
        StatusCode::OK
    );
    let live = wait_for_today(&app, 60).await;
    assert_eq!(live["backend"], "redis");

    // The counters really are in Redis, under the configured prefix.
    let day = tally::clock::now_ms() / 86_400_000;
    let mut connection = redis.connection().await.unwrap();
    let stored: i64 = redis::cmd("HGET")
        .arg(format!("{prefix}:d:{day}"))
        .arg("executions")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(stored, 60);
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{prefix}:d:{day}"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(ttl > 86_400, "TTL {ttl}");

    // Redis dies: ingest keeps answering 2xx from SQLite alone.
    redis.kill();
    for round in 0..3 {
        let response = app
            .post_events("executions", &json!(this_hour(30, &format!("down{round}"))))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let live = app
        .client
        .get(app.url("/api/v1/admin/metrics/live"))
        .header("x-api-key", tally_tests::MASTER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Dashboard queries keep answering from SQLite.
    let summary = app
        .admin_get("/api/v1/admin/metrics/summary?period=hour")
        .await;
    assert_eq!(summary["total_executions"], 150);

    // Redis returns empty: the counters are rebuilt and then follow ingest again.
    redis.restart().await;
    wait_for_today(&app, 150).await;
    app.post_events("executions", &json!(this_hour(10, "back")))
        .await;
    let live = wait_for_today(&app, 160).await;
    assert_eq!(live["this_hour"]["executions"], 160);
}
