//! Retention and archive move exactly the expired rows.

use std::io::Read;

use serde_json::{Value, json};
use tally::jobs::retention::{ArchivePolicy, Policy, run_once};
use tally_tests::spawn_app;

const DAY_MS: i64 = 86_400_000;

fn at(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[tokio::test]
async fn expired_rows_are_archived_then_deleted() {
    let app = spawn_app().await;
    let now = tally::clock::now_ms();
    // Executions 1..=40 days old, one per day; requests and pool events alike.
    let executions: Vec<Value> = (1..=40)
        .map(|d| {
            json!({
                "execution_id": format!("old-{d}"), "api_key": "sk-retention",
                "language": "python", "status": "completed", "execution_time_ms": d,
                "created_at": at(now - d * DAY_MS + 60_000),
            })
        })
        .collect();
    let requests: Vec<Value> = (1..=40)
        .map(|d| {
            json!({"id": format!("req-{d}"), "ts": at(now - d * DAY_MS + 60_000), "method": "GET",
                        "endpoint": "/x", "status_code": 200, "duration_ms": 1})
        })
        .collect();
    let pool: Vec<Value> = (1..=40)
        .map(|d| json!({"id": format!("pool-{d}"), "ts": at(now - d * DAY_MS + 60_000), "kind": "hit", "language": "go"}))
        .collect();
    for (kind, body) in [
        ("executions", executions),
        ("requests", requests),
        ("pool", pool),
    ] {
        assert!(
            app.post_events(kind, &json!(body))
                .await
                .status()
                .is_success()
        );
    }

    let storage = app.storage().await;
    let policy = Policy {
        execution_retention_days: 10,
        daily_retention_days: 30,
        archive: Some(ArchivePolicy {
            dir: app.archive_dir(),
            retention_days: 90,
        }),
    };
    let report = run_once(&storage, &policy, now).await.unwrap();
    // Rows 10..=40 days old minus one minute are older than the 10-day cutoff
    // only from day 11 on (day 10 is 10 days minus a minute old).
    assert_eq!(
        report.deleted,
        vec![
            ("executions", 30),
            ("api_requests", 30),
            ("pool_events", 30)
        ]
    );
    assert_eq!(report.archived, 90);
    assert_eq!(report.archive_files.len(), 3);

    let db = sqlx::SqlitePool::connect(&format!("sqlite:{}", app.db_path().display()))
        .await
        .unwrap();
    let left: Vec<String> =
        sqlx::query_scalar("SELECT execution_id FROM executions ORDER BY created_at DESC")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(
        left,
        (1..=10).map(|d| format!("old-{d}")).collect::<Vec<_>>()
    );

    // The archive holds exactly the deleted executions, with key hashes.
    let file = report
        .archive_files
        .iter()
        .find(|p| p.to_string_lossy().contains("executions-"))
        .unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(file).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let archived: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut ids: Vec<String> = archived
        .iter()
        .map(|r| r["execution_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut expected: Vec<String> = (11..=40).map(|d| format!("old-{d}")).collect();
    expected.sort();
    assert_eq!(ids, expected);
    let key = tally::model::KeyHash::of_raw_key("sk-retention");
    assert!(
        archived
            .iter()
            .all(|r| r["key_hash"] == key.as_str() && r.get("key_id").is_none())
    );

    // Hourly rollups follow the raw retention, daily ones their own.
    let hourly_days: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT bucket / 86400) FROM exec_rollup_by_key_language WHERE grain = 3600",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let daily_rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM exec_rollup_by_key_language WHERE grain = 86400")
            .fetch_one(&db)
            .await
            .unwrap();
    assert!((10..=11).contains(&hourly_days), "{hourly_days}");
    assert!((30..=31).contains(&daily_rows), "{daily_rows}");
    let daily_executions: i64 = sqlx::query_scalar(
        "SELECT SUM(executions) FROM exec_rollup_by_key_language WHERE grain = 86400",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(daily_executions, daily_rows, "one execution per kept day");

    // A second run finds nothing more.
    let again = run_once(&storage, &policy, now).await.unwrap();
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(again.archived, 0);

    // Archive files past their retention are removed.
    let old = std::fs::File::options().write(true).open(file).unwrap();
    old.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(91 * 86_400))
        .unwrap();
    let later = run_once(&storage, &policy, now).await.unwrap();
    assert_eq!(later.archive_files_removed, 1);
    assert!(!file.exists());
}
