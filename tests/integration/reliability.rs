//! The promises about data: no acknowledged event is lost (SIGKILL at
//! random moments, SIGTERM), duplicates count once (also on a retry after a
//! timeout), a locked or full database gets a clear 503, a slow or absent
//! Redis slows nothing.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tally_tests::{
    MASTER_KEY, process::ServerProcess, redis_server::RedisServer, spawn_app, spawn_app_with,
};
use tokio::sync::Mutex;

fn batch(prefix: &str, n: usize) -> Vec<Value> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    (0..n)
        .map(|i| {
            json!({
                "execution_id": format!("{prefix}-{i}"), "api_key": format!("sk-load-{}", i % 3),
                "language": (["python", "go", "rust"])[i % 3], "status": "completed",
                "execution_time_ms": 10 + i, "created_at": now,
            })
        })
        .collect()
}

/// Sends batches from `clients` concurrent tasks until `stop`; returns the
/// ids of every event whose request was answered 2xx.
async fn load(
    base_url: String,
    clients: usize,
    prefix: String,
    stop: Arc<AtomicBool>,
) -> HashSet<String> {
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (base_url, prefix, stop, acked) = (
            base_url.clone(),
            prefix.clone(),
            stop.clone(),
            acked.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let id_prefix = format!("{prefix}-c{c}-b{n}");
                let events = batch(&id_prefix, 40);
                n += 1;
                let response = client
                    .post(format!("{base_url}/api/v1/events/executions"))
                    .header("x-api-key", MASTER_KEY)
                    .json(&events)
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() => {
                        let mut acked = acked.lock().await;
                        for e in &events {
                            acked.insert(e["execution_id"].as_str().unwrap().to_owned());
                        }
                    }
                    Ok(r) if r.status() == StatusCode::SERVICE_UNAVAILABLE => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Ok(r) => panic!("unexpected {}", r.status()),
                    // The server died: stop sending.
                    Err(_) => break,
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    Arc::try_unwrap(acked).unwrap().into_inner()
}

/// Checks that every acknowledged id is stored once and that the rollups
/// count exactly the raw rows.
async fn check_database(db: &std::path::Path, acked: &HashSet<String>) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", db.display()))
        .await
        .unwrap();
    let stored: Vec<String> = sqlx::query_scalar("SELECT execution_id FROM executions")
        .fetch_all(&pool)
        .await
        .unwrap();
    let stored_set: HashSet<&String> = stored.iter().collect();
    assert_eq!(stored_set.len(), stored.len(), "an id is stored twice");
    let missing: Vec<&String> = acked.iter().filter(|id| !stored_set.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    use tally::storage::facts::{Executions, Fact};
    let grains = Executions::DECL
        .rollups
        .iter()
        .flat_map(|r| r.grains.iter().map(move |g| (r.table, g.code())));
    for (table, grain) in grains {
        let counted: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COALESCE(SUM(executions), 0) FROM {table} WHERE grain = {grain}"
        )))
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(
            counted as usize,
            stored.len(),
            "{table} at grain {grain} disagrees with the raw rows"
        );
    }
    pool.close().await;
}

#[tokio::test]
async fn no_acknowledged_event_is_lost_when_the_process_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("metrics.db");
    let mut acked = HashSet::new();
    // Three rounds on the same database, killed at different moments.
    for (round, kill_after_ms) in [(0, 450u64), (1, 900), (2, 1500)] {
        let server = ServerProcess::start(&db, &[]).await;
        let stop = Arc::new(AtomicBool::new(false));
        let load = tokio::spawn(load(
            server.base_url.clone(),
            6,
            format!("r{round}"),
            stop.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(kill_after_ms)).await;
        server.kill();
        stop.store(true, Ordering::Relaxed);
        let this_round = load.await.unwrap();
        assert!(!this_round.is_empty(), "round {round} acknowledged nothing");
        acked.extend(this_round);
        check_database(&db, &acked).await;
    }
    // And the restarted server sees them all too.
    let server = ServerProcess::start(&db, &[]).await;
    let summary: Value = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/admin/metrics/summary?period=hour",
            server.base_url
        ))
        .header("x-api-key", MASTER_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(summary["total_executions"].as_u64().unwrap() >= acked.len() as u64);
}

#[tokio::test]
async fn sigterm_drains_the_buffer_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("metrics.db");
    let server = ServerProcess::start(&db, &[]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(load(
        server.base_url.clone(),
        4,
        "term".to_owned(),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let log = server.log.clone();
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    let acked = load.await.unwrap();
    assert!(status.success(), "exit status {status}");
    let text = std::fs::read_to_string(log).unwrap();
    assert!(text.contains("Tally stopped."), "{text}");
    check_database(&db, &acked).await;
}

#[tokio::test]
async fn a_retry_after_a_timeout_counts_once() {
    let app = spawn_app().await;
    let lock = app.hold_write_lock().await;

    // The first attempt times out on the client; the server commits it later.
    let events = batch("retry", 30);
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let first = impatient
        .post(app.url("/api/v1/events/executions"))
        .header("x-api-key", MASTER_KEY)
        .json(&events)
        .send()
        .await;
    assert!(first.is_err(), "the first attempt should time out");
    lock.release().await;
    let reader = sqlx::SqlitePool::connect(&format!("sqlite:{}", app.db_path().display()))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM executions")
            .fetch_one(&reader)
            .await
            .unwrap();
        if n == 30 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first attempt never committed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let retry = app.post_events("executions", &json!(events)).await;
    assert_eq!(retry.status(), StatusCode::OK);
    let body: Value = retry.json().await.unwrap();
    assert_eq!(body, json!({"accepted": 0, "duplicates": 30}));
    let n: i64 = sqlx::query_scalar("SELECT SUM(executions) FROM exec_rollup WHERE grain = 86400")
        .fetch_one(&reader)
        .await
        .unwrap();
    assert_eq!(n, 30);
}

#[tokio::test]
async fn a_locked_database_answers_503_and_recovers() {
    let app = spawn_app_with(&["--sqlite-busy-timeout-ms", "200"]).await;
    let lock = app.hold_write_lock().await;

    let refused = app
        .post_events("executions", &json!(batch("locked", 5)))
        .await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("busy"), "{body}");

    lock.release().await;
    let accepted = app
        .post_events("executions", &json!(batch("locked", 5)))
        .await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_full_database_is_a_clear_503_and_not_ready() {
    let app = spawn_app_with(&["--sqlite-max-pages", "400"]).await;
    let mut refused = None;
    for round in 0..200 {
        let response = app
            .post_events("executions", &json!(batch(&format!("fill{round}"), 500)))
            .await;
        if response.status() != StatusCode::OK {
            refused = Some(response);
            break;
        }
    }
    let refused = refused.expect("the capped database fills up");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("out of disk space"),
        "{body}"
    );
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("not ready"),
        "{body}"
    );
    // Still alive and still answering queries.
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let summary = app
        .admin_get("/api/v1/admin/metrics/summary?period=hour")
        .await;
    assert!(summary["total_executions"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn a_slow_redis_does_not_slow_ingest() {
    let redis = RedisServer::start().await;
    let app = spawn_app_with(&[
        "--redis-url",
        &redis.url(),
        "--redis-key-prefix",
        "slow",
        "--redis-timeout-ms",
        "200",
    ])
    .await;
    assert_eq!(
        app.post_events("executions", &json!(batch("before", 10)))
            .await
            .status(),
        StatusCode::OK
    );

    // Redis stops answering for 3 s.
    let mut connection = redis.connection().await.unwrap();
    let sleeper = tokio::spawn(async move {
        let _: redis::RedisResult<()> = redis::cmd("DEBUG")
            .arg("SLEEP")
            .arg(3)
            .query_async(&mut connection)
            .await;
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    for round in 0..5 {
        let response = app
            .post_events("executions", &json!(batch(&format!("slow{round}"), 20)))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    // Ingest never waited for Redis: all five were answered while it slept.
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "ingest waited for Redis: {:?}",
        started.elapsed()
    );
    // Queries answer from SQLite meanwhile.
    let summary = app
        .admin_get("/api/v1/admin/metrics/summary?period=hour")
        .await;
    assert_eq!(summary["total_executions"], 110);
    sleeper.await.unwrap();

    // Once Redis answers again the counters are right.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let live = app.admin_get("/api/v1/admin/metrics/live").await;
        if live["today"]["executions"] == 110 && live["fresh"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "counters stuck at {live}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
