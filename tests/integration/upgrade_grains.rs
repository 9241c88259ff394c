//! A storage v2 database written before a rollup gained a grain (migration
//! 0010: quarter hours for (key, language)) upgrades in place: the new grain
//! is read only from the hour after the newest stored event, so ranges that
//! start mid-hour in older data still count every execution.

use std::collections::BTreeMap;

use chrono::{Duration, DurationRound, SecondsFormat, Utc};
use serde_json::{Value, json};
use tally_tests::{TestApp, spawn_app_with};

async fn start(db: &std::path::Path) -> TestApp {
    spawn_app_with(&["--sqlite-metrics-db-path", db.to_str().unwrap()]).await
}

async fn pool(db: &std::path::Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite:{}", db.display()))
        .await
        .unwrap()
}

/// Runs `statements` on the database, then reads `rollup_grains_since`
/// (empty when the table is not there).
async fn sql(db: &std::path::Path, statements: &[&str]) -> Vec<(String, i64, i64)> {
    let pool = pool(db).await;
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(*statement))
            .execute(&pool)
            .await
            .unwrap();
    }
    let starts = sqlx::query_as("SELECT rollup, grain, since_ms FROM rollup_grains_since")
        .fetch_all(&pool)
        .await
        .unwrap_or_default();
    pool.close().await;
    starts
}

#[tokio::test]
async fn a_rollup_that_gains_quarter_hours_reads_them_only_from_its_newest_data_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v2.db");
    let app = start(&db).await;
    // Executions every 7 minutes over the last two days, three keys, three
    // languages.
    let hour = Utc::now().duration_trunc(Duration::hours(1)).unwrap();
    let first = hour - Duration::hours(48);
    let languages = ["python", "go", "rust"];
    let mut events = Vec::new();
    let mut times = Vec::new();
    for i in 0..400 {
        let at = first + Duration::minutes(7 * i);
        times.push((at, languages[i as usize % 3]));
        events.push(json!({
            "execution_id": format!("grain-{i}"),
            "api_key": format!("sk-grain-{}", i % 3),
            "language": languages[i as usize % 3],
            "status": "completed",
            "execution_time_ms": 20.0,
            "created_at": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        }));
    }
    let response: Value = app.post_events_json("executions", &json!(events)).await;
    assert_eq!(response["accepted"], 400, "{response}");
    app.stop().await.unwrap();

    // A new database has the grain from the start.
    assert!(sql(&db, &[]).await.is_empty());
    // Back to the database the release before migration 0010 wrote: no
    // quarter hours by (key, language), no record of grains.
    sql(
        &db,
        &[
            "DELETE FROM exec_rollup_by_key_language WHERE grain = 900",
            "DROP TABLE rollup_grains_since",
            "DELETE FROM _sqlx_migrations WHERE version = 10",
        ],
    )
    .await;

    let app = start(&db).await;
    let starts = sql(&db, &[]).await;
    assert_eq!(starts.len(), 1, "{starts:?}");
    let (rollup, grain, since_ms) = &starts[0];
    assert_eq!(
        (rollup.as_str(), *grain),
        ("exec_rollup_by_key_language", 900)
    );
    assert_eq!(since_ms % 3_600_000, 0);
    assert!(*since_ms > Utc::now().timestamp_millis(), "{since_ms}");

    // Ranges starting at :20 and :50 of older hours: the stacked chart
    // (which needs key and language) counts every execution in them.
    for (start, end) in [
        (first + Duration::minutes(80), hour - Duration::minutes(10)),
        (first + Duration::minutes(1430), hour + Duration::hours(1)),
    ] {
        let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
        for (at, language) in &times {
            if (start..end).contains(at) {
                *expected.entry(language).or_default() += 1;
            }
        }
        let view = app
            .admin_get(&format!(
                "/api/v1/admin/metrics/languages?stack_by_api_key=true&start_date={}&end_date={}",
                start.to_rfc3339_opts(SecondsFormat::Secs, true),
                end.to_rfc3339_opts(SecondsFormat::Secs, true)
            ))
            .await;
        for (language, n) in &expected {
            let stacked: u64 = view["matrix"][language]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_u64().unwrap())
                .sum();
            assert_eq!(stacked, *n, "{language} from {start}: {view}");
            assert_eq!(view["by_language"][language], *n, "{language}");
        }
    }

    // The writer fills the new grain.
    let response: Value = app
        .post_events_json(
            "executions",
            &json!([{
                "execution_id": "after-0010",
                "api_key": "sk-grain-0",
                "language": "go",
                "status": "completed",
                "execution_time_ms": 5.0,
            }]),
        )
        .await;
    assert_eq!(response["accepted"], 1);
    app.stop().await.unwrap();
    let pool = pool(&db).await;
    let quarters: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM exec_rollup_by_key_language WHERE grain = 900")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(quarters, 1);
    pool.close().await;
}
