//! The Rust producer client (`tally-client`) against a real Tally: every
//! kind of event counted once; a full client queue drops its oldest events
//! and counts them; an event Tally refuses is refused alone. Retries:
//! `client_retries.rs`; the axum layer: `client_layer.rs`.

use std::{
    collections::HashSet,
    path::Path,
    time::{Duration, Instant, SystemTime},
};

use serde_json::Value;
use tally_client::{
    ApiKey, Client, ClientBuilder, Execution, Method, PoolEvent, PoolKind, RecordError, Request,
    Stats, Status, Tally,
};
use tally_tests::{MASTER_KEY, process::free_port, spawn_app_with};

pub(crate) const INGEST_KEY: &str = "test-ingest-key-of-the-clients";

/// A client with short delays and backoffs, so the tests are quick.
pub(crate) fn client(url: &str) -> ClientBuilder {
    Client::builder(url, INGEST_KEY)
        .batch_size(100)
        .max_delay(Duration::from_millis(20))
        .initial_backoff(Duration::from_millis(20))
        .max_backoff(Duration::from_millis(250))
        .request_timeout(Duration::from_secs(5))
}

pub(crate) async fn flushed(tally: &Tally) -> Stats {
    tokio::time::timeout(Duration::from_secs(30), tally.flush())
        .await
        .expect("the client flushes within 30 s");
    tally.stats()
}

/// GETs an admin view of the Tally at `base_url` with the master key.
pub(crate) async fn admin(base_url: &str, path: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{base_url}{path}"))
        .header("x-api-key", MASTER_KEY)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "GET {path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

pub(crate) fn execution(prefix: &str, i: usize) -> Execution {
    let status = if i.is_multiple_of(10) {
        Status::Failed
    } else {
        Status::Completed
    };
    Execution {
        execution_id: Some(format!("{prefix}-{i}")),
        api_key: Some(ApiKey::raw(&format!("sk-client-{}", i % 3))),
        memory_peak_mb: Some(32.0),
        ..Execution::new(["python", "go", "rust"][i % 3], status, 10.0 + i as f64)
    }
}

/// Checks the database holds exactly the executions `expected`, each once,
/// and that the daily rollup counts as many.
pub(crate) async fn assert_stored_once(db: &Path, expected: &HashSet<String>) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}?mode=ro", db.display()))
        .await
        .unwrap();
    let ids: Vec<String> = sqlx::query_scalar("SELECT execution_id FROM executions")
        .fetch_all(&pool)
        .await
        .unwrap();
    let stored: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(stored.len(), ids.len(), "an execution is stored twice");
    let missing: Vec<&String> = expected.difference(&stored).take(5).collect();
    let extra: Vec<&String> = stored.difference(expected).take(5).collect();
    assert!(missing.is_empty(), "lost, e.g. {missing:?}");
    assert!(extra.is_empty(), "stored but not expected, e.g. {extra:?}");
    let counted: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(executions), 0) FROM exec_rollup WHERE grain = 86400",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        counted as usize,
        expected.len(),
        "the daily rollup disagrees"
    );
    pool.close().await;
}

pub(crate) fn ids(prefix: &str, range: impl Iterator<Item = usize>) -> HashSet<String> {
    range.map(|i| format!("{prefix}-{i}")).collect()
}

#[tokio::test]
async fn every_kind_sent_through_the_client_is_counted_once() {
    let app = spawn_app_with(&["--ingest-api-key", INGEST_KEY]).await;
    let tally = client(&app.base_url).build().unwrap();
    for i in 0..1000 {
        tally.record_execution(execution("once", i)).unwrap();
    }
    for i in 0..300u32 {
        let status = if i.is_multiple_of(20) { 500 } else { 200 };
        let request = Request {
            api_key: Some(ApiKey::raw("sk-client-0")),
            cache_hit: Some(i.is_multiple_of(4)),
            ..Request::new(Method::Get, "/api/v1/files/{id}", status, 2.5)
        };
        tally.record_request(request).unwrap();
    }
    for i in 0..200 {
        let kind = [
            PoolKind::Hit,
            PoolKind::Hit,
            PoolKind::Miss,
            PoolKind::Exhausted,
        ][i % 4];
        let event = PoolEvent {
            acquire_time_ms: Some(3.0),
            ..PoolEvent::new(kind, "python")
        };
        tally.record_pool_event(event).unwrap();
    }
    let stats = flushed(&tally).await;
    assert_eq!(
        (
            stats.recorded,
            stats.sent,
            stats.duplicates,
            stats.dropped,
            stats.rejected
        ),
        (1500, 1500, 0, 0, 0),
        "{stats:?}"
    );
    assert_eq!(stats.queued, 0);

    let summary = app
        .admin_get("/api/v1/admin/metrics/summary?period=hour")
        .await;
    assert_eq!(summary["total_executions"], 1000);
    assert_eq!(summary["failure_count"], 100);
    assert_eq!(summary["active_api_keys"], 3);
    let requests = app
        .admin_get("/api/v1/admin/metrics/requests?period=hour")
        .await;
    assert_eq!(requests["total_requests"], 300);
    assert_eq!(requests["status_classes"]["5xx"], 15, "{requests}");
    let pool = app
        .admin_get("/api/v1/admin/metrics/pool?period=hour")
        .await;
    assert_eq!(
        (pool["hits"].as_u64(), pool["cold_starts"].as_u64()),
        (Some(100), Some(50))
    );
    assert_eq!(pool["exhausted"], 50);
    assert_stored_once(&app.db_path(), &ids("once", 0..1000)).await;

    // The same events again (same ids and times, as a retry sends them):
    // Tally reports them as duplicates and counts nothing more.
    let again = client(&app.base_url).build().unwrap();
    let at = SystemTime::now();
    for tally in [&tally, &again] {
        for i in 0..10 {
            let e = Execution {
                created_at: Some(at),
                ..execution("twice", i)
            };
            tally.record_execution(e).unwrap();
        }
        flushed(tally).await;
    }
    assert_eq!(again.stats().duplicates, 10);
    let summary = app
        .admin_get("/api/v1/admin/metrics/summary?period=hour")
        .await;
    assert_eq!(summary["total_executions"], 1010);

    let last = tally.shutdown().await;
    assert_eq!((last.sent, last.dropped), (1510, 0));
    assert_eq!(
        tally.record_execution(execution("late", 0)),
        Err(RecordError::Closed)
    );
}

#[tokio::test]
async fn a_full_client_queue_drops_the_oldest_events_and_counts_them() {
    // Nothing listens on the port yet.
    let port = free_port();
    let tally = client(&format!("http://127.0.0.1:{port}"))
        .batch_size(1)
        .queue_capacity(10)
        .build()
        .unwrap();
    tally.record_execution(execution("queue", 0)).unwrap();
    // The sender holds event 0 and has failed to send it once.
    let deadline = Instant::now() + Duration::from_secs(10);
    while tally.stats().retries == 0 {
        assert!(Instant::now() < deadline, "the sender never tried");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // No await in between: on this single-threaded runtime the sender does
    // not run meanwhile, so the queue sees all 25 arrive.
    for i in 1..=25 {
        tally.record_execution(execution("queue", i)).unwrap();
    }
    let stats = tally.stats();
    assert_eq!(
        (stats.recorded, stats.dropped, stats.queued),
        (26, 15, 10),
        "{stats:?}"
    );

    let app = spawn_app_with(&[
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--ingest-api-key",
        INGEST_KEY,
    ])
    .await;
    let stats = flushed(&tally).await;
    assert_eq!(
        (stats.sent, stats.dropped, stats.queued),
        (11, 15, 0),
        "{stats:?}"
    );
    let mut expected = ids("queue", 16..=25);
    expected.insert("queue-0".to_owned());
    assert_stored_once(&app.db_path(), &expected).await;
}

#[tokio::test]
async fn events_tally_would_refuse_are_refused_alone() {
    let app = spawn_app_with(&["--ingest-api-key", INGEST_KEY]).await;
    let tally = client(&app.base_url).build().unwrap();
    for i in 0..30 {
        tally.record_execution(execution("mixed", i)).unwrap();
        if i == 15 {
            // Older than the execution retention: only Tally knows its window.
            let old = Execution {
                created_at: Some(SystemTime::now() - Duration::from_secs(400 * 86_400)),
                ..execution("too-old", i)
            };
            tally.record_execution(old).unwrap();
        }
    }
    // Refused before it is queued.
    let invalid = tally.record_execution(Execution::new("py thon", Status::Completed, 1.0));
    assert!(matches!(invalid, Err(RecordError::Invalid(e)) if e.field == "language"));
    let stats = flushed(&tally).await;
    assert_eq!(
        (stats.sent, stats.rejected, stats.invalid, stats.retries),
        (30, 1, 1, 0),
        "{stats:?}"
    );
    assert_stored_once(&app.db_path(), &ids("mixed", 0..30)).await;

    // A wrong key is refused, not retried.
    let wrong = Client::builder(&app.base_url, "not-the-key")
        .max_delay(Duration::from_millis(10))
        .build()
        .unwrap();
    for i in 0..5 {
        wrong.record_execution(execution("wrong-key", i)).unwrap();
    }
    let stats = flushed(&wrong).await;
    assert_eq!(
        (stats.sent, stats.rejected, stats.retries),
        (0, 5, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn a_batch_over_tallys_limits_is_split_until_it_fits() {
    // A batch larger than the ingest buffer is a 413: it can never fit.
    let app = spawn_app_with(&[
        "--ingest-api-key",
        INGEST_KEY,
        "--metrics-buffer-size",
        "60",
    ])
    .await;
    let tally = client(&app.base_url)
        .batch_size(200)
        .max_delay(Duration::from_millis(50))
        .build()
        .unwrap();
    for i in 0..200 {
        tally.record_execution(execution("split", i)).unwrap();
    }
    let stats = flushed(&tally).await;
    assert_eq!(
        (stats.sent, stats.rejected, stats.dropped),
        (200, 0, 0),
        "{stats:?}"
    );
    assert_stored_once(&app.db_path(), &ids("split", 0..200)).await;
}
