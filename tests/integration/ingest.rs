//! Ingest through HTTP into real SQLite files: counts and sums in raw rows
//! and rollups equal what was sent, duplicates count once, a bad batch
//! writes nothing, limits answer with clear errors.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Row;
use tally_tests::{MASTER_KEY, spawn_app, spawn_app_with};

const HOUR_MS: i64 = 3_600_000;

fn now_ms() -> i64 {
    tally::clock::now_ms()
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A deterministic mix of executions over the last `hours`, several keys,
/// languages, statuses and sources.
pub fn executions(n: usize, hours: i64, id_prefix: &str) -> Vec<Value> {
    let languages = ["python", "javascript", "go", "rust"];
    let statuses = [
        "completed",
        "completed",
        "completed",
        "failed",
        "timeout",
        "error",
    ];
    let now = now_ms();
    (0..n)
        .map(|i| {
            let i64i = i as i64;
            json!({
                "execution_id": format!("{id_prefix}-{i}"),
                "api_key": format!("sk-test-{}", i % 3),
                "language": languages[i % languages.len()],
                "status": statuses[i % statuses.len()],
                "execution_time_ms": 5.0 + (i % 17) as f64 * 13.25,
                "memory_peak_mb": 16.0 + (i % 5) as f64,
                "cpu_time_ms": 3.5 + (i % 7) as f64,
                "container_source": if i % 4 == 0 { "pool_miss" } else { "pool_hit" },
                "files_uploaded": i % 3,
                "files_generated": i % 2,
                "output_size_bytes": 100 + i,
                "state_size_bytes": 10 * i,
                "queue_wait_ms": (i % 9) as f64,
                "repl_mode": i % 5 == 0,
                "created_at": rfc3339(now - (i64i * 7919) % (hours * HOUR_MS)),
            })
        })
        .collect()
}

fn sum(events: &[Value], field: &str) -> f64 {
    events.iter().map(|e| e[field].as_f64().unwrap()).sum()
}

async fn scalar_f64(pool: &sqlx::SqlitePool, sql: &'static str) -> f64 {
    sqlx::query(sql)
        .fetch_one(pool)
        .await
        .unwrap()
        .get::<Option<f64>, _>(0)
        .unwrap_or(0.0)
}

async fn pool_of(app: &tally_tests::TestApp) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite:{}", app.db_path().display()))
        .await
        .unwrap()
}

#[tokio::test]
async fn executions_land_in_raw_rows_and_both_rollups() {
    let app = spawn_app().await;
    let events = executions(300, 30, "e");
    let response = app.post_events("executions", &json!(events)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "accepted": 300, "duplicates": 0 }));

    let db = pool_of(&app).await;
    assert_eq!(
        scalar_f64(&db, "SELECT COUNT(*) * 1.0 FROM executions").await,
        300.0
    );
    for (table, grain) in [("hourly", 3600), ("daily", 86400)] {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT SUM(executions), SUM(sum_time_ms), SUM(sum_cpu_ms), SUM(sum_memory_mb),
                    SUM(sum_output_bytes), SUM(sum_files_uploaded), SUM(sum_queue_wait_ms),
                    MAX(max_time_ms), SUM(repl_executions)
             FROM exec_rollup_by_key_language WHERE grain = {grain}"
        )))
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!(row.get::<i64, _>(0), 300, "{table}");
        assert!((row.get::<f64, _>(1) - sum(&events, "execution_time_ms")).abs() < 1e-6);
        assert!((row.get::<f64, _>(2) - sum(&events, "cpu_time_ms")).abs() < 1e-6);
        assert!((row.get::<f64, _>(3) - sum(&events, "memory_peak_mb")).abs() < 1e-6);
        assert_eq!(
            row.get::<i64, _>(4) as f64,
            sum(&events, "output_size_bytes")
        );
        assert_eq!(row.get::<i64, _>(5) as f64, sum(&events, "files_uploaded"));
        assert!((row.get::<f64, _>(6) - sum(&events, "queue_wait_ms")).abs() < 1e-6);
        assert_eq!(row.get::<f64, _>(7), 5.0 + 16.0 * 13.25);
        assert_eq!(row.get::<i64, _>(8), 60);
    }
    // The histograms hold one count per execution.
    let hist_total: i64 = sqlx::query_scalar::<_, Vec<u8>>(
        "SELECT hist FROM exec_rollup_by_key_language WHERE grain = 86400",
    )
    .fetch_all(&db)
    .await
    .unwrap()
    .iter()
    .map(|blob| tally::histogram::Histogram::decode(blob).unwrap().total() as i64)
    .sum();
    assert_eq!(hist_total, 300);
    // Per-language counts agree between raw rows and rollups.
    let by_language: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT r.language, r.n, (SELECT COUNT(*) FROM executions e WHERE e.language = r.language)
         FROM (SELECT l.name AS language, SUM(executions) AS n FROM exec_rollup_by_language x
               JOIN languages l ON l.id = x.language_id WHERE grain = 3600 GROUP BY l.name) r",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(by_language.len(), 4);
    for (language, rollup, raw) in by_language {
        assert_eq!(rollup, raw, "{language}");
        assert_eq!(raw, 75);
    }
    // Raw keys are never stored; their SHA-256 hashes are.
    let keys: Vec<String> = sqlx::query_scalar("SELECT key_hash FROM api_keys ORDER BY key_hash")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(keys.len(), 3);
    let expected = tally::model::KeyHash::of_raw_key("sk-test-0");
    assert!(keys.contains(&expected.as_str().to_owned()));
    let raw_key_rows: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM executions WHERE session_id LIKE '%sk-test%' OR user_id LIKE '%sk-test%'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(raw_key_rows, 0);
}

#[tokio::test]
async fn a_resent_batch_counts_once() {
    let app = spawn_app().await;
    let events = executions(50, 5, "dup");
    let first: Value = app.post_events_json("executions", &json!(events)).await;
    assert_eq!(first["accepted"], 50);

    // Half old, half new, and one id twice within the batch.
    let mut again = events[25..].to_vec();
    again.extend(executions(60, 5, "dup2")[..10].iter().cloned());
    again.push(again[again.len() - 1].clone());
    let second: Value = app.post_events_json("executions", &json!(again)).await;
    assert_eq!(second, json!({ "accepted": 10, "duplicates": 26 }));

    let db = pool_of(&app).await;
    assert_eq!(
        scalar_f64(&db, "SELECT COUNT(*) * 1.0 FROM executions").await,
        60.0
    );
    assert_eq!(
        scalar_f64(
            &db,
            "SELECT SUM(executions) * 1.0 FROM exec_rollup WHERE grain = 3600"
        )
        .await,
        60.0
    );
    assert_eq!(
        scalar_f64(
            &db,
            "SELECT SUM(executions) * 1.0 FROM exec_rollup WHERE grain = 86400"
        )
        .await,
        60.0
    );
}

#[tokio::test]
async fn ndjson_requests_and_pool_events_are_rolled_up() {
    let app = spawn_app().await;
    let now = rfc3339(now_ms());
    let requests: Vec<Value> = (0..40)
        .map(|i| {
            json!({
                "id": format!("r{i}"), "ts": now, "method": "get",
                "endpoint": if i % 2 == 0 { "/api/v1/exec" } else { "/api/v1/files/{id}" },
                "status_code": ([200, 201, 404, 500])[i % 4], "duration_ms": 1.5 * i as f64,
                "api_key": "sk-test-1", "cache_hit": i % 5 == 0,
                "error": if i % 4 == 3 { Some("boom") } else { None },
            })
        })
        .collect();
    let ndjson: String = requests.iter().map(|r| format!("{r}\n")).collect();
    let response = app
        .client
        .post(app.url("/api/v1/events/requests"))
        .header("x-api-key", MASTER_KEY)
        .header("content-type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let pool: Vec<Value> = (0..30)
        .map(|i| json!({"ts": now, "kind": (["hit", "miss", "exhausted"])[i % 3], "language": "python", "acquire_time_ms": i}))
        .collect();
    let response = app.post_events("pool", &json!(pool)).await;
    assert_eq!(response.status(), StatusCode::OK);

    let db = pool_of(&app).await;
    let classes: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT c, n FROM (SELECT 1 AS c, SUM(class_1xx) AS n FROM request_rollup_by_endpoint WHERE grain = 86400
           UNION ALL SELECT 2, SUM(class_2xx) FROM request_rollup_by_endpoint WHERE grain = 86400
           UNION ALL SELECT 3, SUM(class_3xx) FROM request_rollup_by_endpoint WHERE grain = 86400
           UNION ALL SELECT 4, SUM(class_4xx) FROM request_rollup_by_endpoint WHERE grain = 86400
           UNION ALL SELECT 5, SUM(class_5xx) FROM request_rollup_by_endpoint WHERE grain = 86400)
         WHERE n > 0 ORDER BY c",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(classes, vec![(2, 20), (4, 10), (5, 10)]);
    let (errors, hits): (i64, i64) =
        sqlx::query_as("SELECT SUM(with_error), SUM(cache_hits) FROM request_rollup_by_endpoint WHERE grain = 3600")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!((errors, hits), (10, 8));
    let methods: Vec<String> = sqlx::query_scalar("SELECT DISTINCT method FROM api_requests")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(methods, vec!["GET"]);
    let kinds: Vec<(String, i64, f64)> = sqlx::query_as(
        "SELECT 'exhausted', SUM(exhausted), SUM(sum_acquire_exhausted_ms) FROM pool_rollup_by_language WHERE grain = 3600
         UNION ALL SELECT 'hit', SUM(hits), SUM(sum_acquire_hit_ms) FROM pool_rollup_by_language WHERE grain = 3600
         UNION ALL SELECT 'miss', SUM(misses), SUM(sum_acquire_miss_ms) FROM pool_rollup_by_language WHERE grain = 3600",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(
        kinds,
        vec![
            (
                "exhausted".to_owned(),
                10,
                (2..30).step_by(3).sum::<i64>() as f64
            ),
            ("hit".to_owned(), 10, (0..30).step_by(3).sum::<i64>() as f64),
            (
                "miss".to_owned(),
                10,
                (1..30).step_by(3).sum::<i64>() as f64
            ),
        ]
    );
}

#[tokio::test]
async fn a_batch_with_one_bad_event_is_rejected_whole() {
    let app = spawn_app().await;
    let mut events = executions(5, 2, "bad");
    events[3]["status"] = json!("exploded");
    let response = app.post_events("executions", &json!(events)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["index"], 3);
    assert_eq!(body["field"], "status");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("event 3: field `status`"),
        "{body}"
    );

    events[3]["status"] = json!("completed");
    events[1]["memory_peak_mb"] = json!("lots");
    let body: Value = app.post_events_json("executions", &json!(events)).await;
    assert_eq!(
        (body["index"].as_i64(), body["field"].as_str()),
        (Some(1), Some("memory_peak_mb"))
    );

    let db = pool_of(&app).await;
    for table in [
        "executions",
        "exec_rollup",
        "exec_rollup_by_key_language",
        "api_keys",
    ] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&db)
                .await
                .unwrap();
        assert_eq!(n, 0, "{table}");
    }
}

#[tokio::test]
async fn ingest_needs_a_key_and_accepts_the_ingest_key() {
    let app = spawn_app_with(&["--ingest-api-key", "ingest-secret"]).await;
    let body = json!(executions(1, 1, "auth"));
    let url = app.url("/api/v1/events/executions");
    let none = app.client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let wrong = app
        .client
        .post(&url)
        .header("x-api-key", "nope")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let bearer = app
        .client
        .post(&url)
        .bearer_auth("ingest-secret")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
}

#[tokio::test]
async fn limits_answer_with_clear_errors() {
    let app = spawn_app_with(&["--max-body-bytes", "20000", "--max-batch-events", "50"]).await;
    let url = app.url("/api/v1/events/executions");

    let too_many = app
        .post_events("executions", &json!(executions(51, 1, "many")))
        .await;
    assert_eq!(too_many.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = too_many.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("limit is 50"),
        "{body}"
    );

    let big = app
        .client
        .post(&url)
        .header("x-api-key", MASTER_KEY)
        .header("content-type", "application/json")
        .body(format!("[{}]", " ".repeat(30_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = big.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("20000 bytes"),
        "{body}"
    );

    let text = app
        .client
        .post(&url)
        .header("x-api-key", MASTER_KEY)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let empty = app.post_events("executions", &json!([])).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);

    let mut future = executions(1, 1, "future");
    future[0]["created_at"] = json!(rfc3339(now_ms() + 3_600_000));
    let body: Value = app.post_events_json("executions", &json!(future)).await;
    assert_eq!(body["field"], "created_at");
}

#[tokio::test]
async fn a_full_buffer_answers_503_with_retry_after() {
    let app = spawn_app_with(&["--metrics-buffer-size", "10"]).await;
    // Another process holds the write lock, so the writer waits and the
    // buffered events stay buffered.
    let lock = app.hold_write_lock().await;

    let first = {
        let (client, url) = (app.client.clone(), app.url("/api/v1/events/executions"));
        let body = json!(executions(8, 1, "held"));
        tokio::spawn(async move {
            client
                .post(url)
                .header("x-api-key", MASTER_KEY)
                .json(&body)
                .send()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = app
        .post_events("executions", &json!(executions(5, 1, "spill")))
        .await;
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.headers()["retry-after"], "1");
    let body: Value = second.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("buffer is full"),
        "{body}"
    );

    let too_big = app
        .post_events("executions", &json!(executions(11, 1, "huge")))
        .await;
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);

    lock.release().await;
    let first = first.await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let retried = app
        .post_events("executions", &json!(executions(5, 1, "spill")))
        .await;
    assert_eq!(retried.status(), StatusCode::OK);
}

#[tokio::test]
async fn api_keys_can_be_named_by_hash_or_prefix() {
    let app = spawn_app().await;
    app.post_events("executions", &json!(executions(3, 1, "named")))
        .await;
    let hash = tally::model::KeyHash::of_raw_key("sk-test-1");
    let put = |key: String, body: Value| {
        let request = app
            .client
            .put(app.url(&format!("/api/v1/admin/api-keys/{key}")))
            .header("x-api-key", MASTER_KEY)
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    let by_prefix = put(hash.prefix().to_owned(), json!({"name": "Acme prod"})).await;
    assert_eq!(by_prefix.status(), StatusCode::OK);
    let unknown = put("0000000000000000".to_owned(), json!({"name": "x"})).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let bad = put("xyz".to_owned(), json!({"name": "x"})).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let full = put("ab".repeat(32), json!({"name": "Future key"})).await;
    assert_eq!(full.status(), StatusCode::OK);
    let anonymous = app
        .client
        .put(app.url(&format!("/api/v1/admin/api-keys/{}", hash.prefix())))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let db = pool_of(&app).await;
    let names: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT substr(key_hash, 1, 16), name FROM api_keys WHERE name IS NOT NULL ORDER BY name",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(
        names,
        vec![
            (hash.prefix().to_owned(), Some("Acme prod".to_owned())),
            ("abababababababab".to_owned(), Some("Future key".to_owned())),
        ]
    );
}

#[tokio::test]
async fn shutdown_commits_what_is_buffered() {
    let app = spawn_app().await;
    let lock = app.hold_write_lock().await;

    let pending = {
        let (client, url) = (app.client.clone(), app.url("/api/v1/events/executions"));
        let body = json!(executions(25, 1, "drain"));
        tokio::spawn(async move {
            client
                .post(url)
                .header("x-api-key", MASTER_KEY)
                .json(&body)
                .send()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let db_path = app.db_path();
    let stopping = tokio::spawn(app.stop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !stopping.is_finished(),
        "shutdown waits for the buffered batch"
    );

    lock.release().await;
    assert_eq!(pending.await.unwrap().status(), StatusCode::OK);
    let data_dir = stopping.await.unwrap().unwrap();

    let db = sqlx::SqlitePool::connect(&format!("sqlite:{}", db_path.display()))
        .await
        .unwrap();
    assert_eq!(
        scalar_f64(&db, "SELECT COUNT(*) * 1.0 FROM executions").await,
        25.0
    );
    drop(data_dir);
}
