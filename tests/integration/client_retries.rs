//! The Rust producer client through Tally's failures: a SIGKILL and
//! restart in the middle of the stream, 503s of a full ingest buffer, an
//! answer lost after Tally committed. Nothing accepted is lost, nothing is
//! counted twice.

use std::time::{Duration, Instant};

use tally_tests::{
    process::{ServerProcess, free_port},
    spawn_app_with,
};

use crate::clients::{INGEST_KEY, admin, assert_stored_once, client, execution, flushed, ids};

#[tokio::test]
async fn a_tally_restart_mid_stream_loses_nothing_and_counts_nothing_twice() {
    const EVENTS: usize = 3000;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("metrics.db");
    let port = free_port();
    let flags = ["--ingest-api-key", INGEST_KEY];
    let server = ServerProcess::start_on(&db, port, &flags).await;
    let tally = client(&server.base_url).build().unwrap();
    // About 1.5 s of steady traffic.
    let producer = tokio::spawn({
        let tally = tally.clone();
        async move {
            for i in 0..EVENTS {
                tally.record_execution(execution("restart", i)).unwrap();
                if i % 10 == 9 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before_kill = tally.stats();
    assert!(
        before_kill.sent > 0,
        "nothing sent before the kill: {before_kill:?}"
    );
    server.kill();
    // Down for a while: the client keeps what it has and retries.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let server = ServerProcess::start_on(&db, port, &flags).await;
    producer.await.unwrap();
    let stats = flushed(&tally).await;
    assert!(
        stats.recorded as usize == EVENTS && stats.sent as usize == EVENTS,
        "{stats:?}"
    );
    assert_eq!((stats.dropped, stats.rejected), (0, 0), "{stats:?}");
    assert!(stats.retries > 0, "Tally was down: {stats:?}");
    assert_stored_once(&db, &ids("restart", 0..EVENTS)).await;
    let summary = admin(
        &server.base_url,
        "/api/v1/admin/metrics/summary?period=hour",
    )
    .await;
    assert_eq!(summary["total_executions"], EVENTS);
}

#[tokio::test]
async fn a_full_tally_buffer_answers_503_and_the_client_retries_until_all_land_once() {
    let app = spawn_app_with(&[
        "--ingest-api-key",
        INGEST_KEY,
        "--metrics-buffer-size",
        "20",
    ])
    .await;
    // Another connection holds the write lock: what Tally buffers stays
    // buffered, so a second batch finds the buffer full.
    let lock = app.hold_write_lock().await;

    let holder = client(&app.base_url).batch_size(20).build().unwrap();
    for i in 0..20 {
        holder.record_execution(execution("held", i)).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let burst = client(&app.base_url).batch_size(10).build().unwrap();
    for i in 0..200 {
        burst.record_execution(execution("burst", i)).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while holder.stats().retries + burst.stats().retries == 0 {
        assert!(Instant::now() < deadline, "no 503 was seen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    lock.release().await;

    let (held, burst) = (flushed(&holder).await, flushed(&burst).await);
    assert_eq!(
        (held.sent, held.dropped, held.rejected),
        (20, 0, 0),
        "{held:?}"
    );
    assert_eq!(
        (burst.sent, burst.dropped, burst.rejected),
        (200, 0, 0),
        "{burst:?}"
    );
    let expected = ids("held", 0..20)
        .union(&ids("burst", 0..200))
        .cloned()
        .collect();
    assert_stored_once(&app.db_path(), &expected).await;
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_counts_once() {
    let app = spawn_app_with(&["--ingest-api-key", INGEST_KEY]).await;
    let lock = app.hold_write_lock().await;
    // Each attempt times out on the client while Tally holds it; Tally
    // commits every copy once the lock goes.
    let tally = client(&app.base_url)
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    for i in 0..30 {
        tally.record_execution(execution("lost", i)).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while tally.stats().retries < 2 {
        assert!(Instant::now() < deadline, "the attempts did not time out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    lock.release().await;
    let stats = flushed(&tally).await;
    assert_eq!((stats.sent, stats.duplicates), (30, 30), "{stats:?}");
    assert_stored_once(&app.db_path(), &ids("lost", 0..30)).await;
}
