//! A storage v2 database written before a rollup gained a grain (migration
//! 0010: quarter hours for (key, language); 0011: minutes for the rollups
//! over all keys) upgrades in place: the new grain is read only from the
//! hour after the newest stored event, so ranges that start mid-hour in
//! older data still count every execution.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, SecondsFormat, Utc};
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

const LANGUAGES: [&str; 3] = ["python", "go", "rust"];

/// Executions every 7 minutes over the two days before the current hour,
/// three keys, three languages: the current hour and each event's time and
/// language.
async fn seed(app: &TestApp) -> (DateTime<Utc>, Vec<(DateTime<Utc>, &'static str)>) {
    let hour = Utc::now().duration_trunc(Duration::hours(1)).unwrap();
    let first = hour - Duration::hours(48);
    let mut events = Vec::new();
    let mut times = Vec::new();
    for i in 0..400 {
        let at = first + Duration::minutes(7 * i);
        times.push((at, LANGUAGES[i as usize % 3]));
        events.push(json!({
            "execution_id": format!("grain-{i}"),
            "api_key": format!("sk-grain-{}", i % 3),
            "language": LANGUAGES[i as usize % 3],
            "status": "completed",
            "execution_time_ms": 20.0,
            "created_at": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        }));
    }
    let response: Value = app.post_events_json("executions", &json!(events)).await;
    assert_eq!(response["accepted"], 400, "{response}");
    (hour, times)
}

/// Executions per language in `[start, end)`, as the events were sent.
fn expected(
    times: &[(DateTime<Utc>, &'static str)],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> BTreeMap<&'static str, u64> {
    let mut expected = BTreeMap::new();
    for (at, language) in times {
        if (start..end).contains(at) {
            *expected.entry(*language).or_default() += 1;
        }
    }
    expected
}

fn range(start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    format!(
        "start_date={}&end_date={}",
        start.to_rfc3339_opts(SecondsFormat::Secs, true),
        end.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

/// Sends one execution now, stops the app and counts the rows of `grain`
/// in each of `tables`.
async fn one_more_then_count(
    app: TestApp,
    db: &std::path::Path,
    grain: i64,
    tables: &[&str],
) -> Vec<i64> {
    let response: Value = app
        .post_events_json(
            "executions",
            &json!([{
                "execution_id": "after-upgrade",
                "api_key": "sk-grain-0",
                "language": "go",
                "status": "completed",
                "execution_time_ms": 5.0,
            }]),
        )
        .await;
    assert_eq!(response["accepted"], 1);
    app.stop().await.unwrap();
    let pool = pool(db).await;
    let mut counts = Vec::new();
    for table in tables {
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE grain = {grain}"
        )))
        .fetch_one(&pool)
        .await
        .unwrap();
        counts.push(count);
    }
    pool.close().await;
    counts
}

#[tokio::test]
async fn a_rollup_that_gains_quarter_hours_reads_them_only_from_its_newest_data_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v2.db");
    let app = start(&db).await;
    let (hour, times) = seed(&app).await;
    let first = hour - Duration::hours(48);
    app.stop().await.unwrap();

    // A new database has the grain from the start.
    assert!(sql(&db, &[]).await.is_empty());
    // Back to the database the release before migration 0010 wrote: no
    // quarter hours by (key, language), no minutes (0011), no record of
    // grains.
    sql(
        &db,
        &[
            "DELETE FROM exec_rollup_by_key_language WHERE grain = 900",
            "DELETE FROM exec_rollup WHERE grain = 60",
            "DELETE FROM exec_rollup_by_language WHERE grain = 60",
            "DROP TABLE rollup_grains_since",
            "DELETE FROM _sqlx_migrations WHERE version IN (10, 11)",
        ],
    )
    .await;

    let app = start(&db).await;
    let starts = sql(&db, &[]).await;
    let quarters: Vec<_> = starts.iter().filter(|s| s.1 == 900).collect();
    assert_eq!((starts.len(), quarters.len()), (3, 1), "{starts:?}");
    let (rollup, grain, since_ms) = quarters[0];
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
        let view = app
            .admin_get(&format!(
                "/api/v1/admin/metrics/languages?stack_by_api_key=true&{}",
                range(start, end)
            ))
            .await;
        for (language, n) in &expected(&times, start, end) {
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
    let quarters = one_more_then_count(app, &db, 900, &["exec_rollup_by_key_language"]).await;
    assert_eq!(quarters, [1]);
}

#[tokio::test]
async fn the_rollups_over_all_keys_gain_minutes_from_their_newest_data_on() {
    const TABLES: [&str; 2] = ["exec_rollup", "exec_rollup_by_language"];
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v2.db");
    let app = start(&db).await;
    let (hour, times) = seed(&app).await;
    let first = hour - Duration::hours(48);
    app.stop().await.unwrap();

    // A new database has minutes from the start: one row a minute with
    // events, and one per language in it.
    let pool = pool(&db).await;
    for (table, rows) in TABLES.iter().zip([400, 400]) {
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE grain = 60"
        )))
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(count, rows, "{table}");
    }
    pool.close().await;
    // Back to the database the release before migration 0011 wrote.
    sql(
        &db,
        &[
            "DELETE FROM exec_rollup WHERE grain = 60",
            "DELETE FROM exec_rollup_by_language WHERE grain = 60",
            "DELETE FROM _sqlx_migrations WHERE version = 11",
        ],
    )
    .await;

    let app = start(&db).await;
    let starts = sql(&db, &[]).await;
    let minutes: Vec<&(String, i64, i64)> = starts.iter().filter(|s| s.1 == 60).collect();
    assert_eq!(minutes.len(), 2, "{starts:?}");
    for ((rollup, _, since_ms), table) in minutes.iter().copied().zip(TABLES) {
        assert_eq!(rollup, table);
        assert_eq!(since_ms % 3_600_000, 0);
        assert!(*since_ms > Utc::now().timestamp_millis(), "{since_ms}");
    }

    // Ranges starting and ending off the quarter hours of older hours: the
    // summary (no dimension) and the languages chart (by language) count
    // every execution in them.
    for (start, end) in [
        (first + Duration::minutes(83), hour - Duration::minutes(8)),
        (first + Duration::minutes(1432), hour + Duration::hours(1)),
    ] {
        let expected = expected(&times, start, end);
        let view = app
            .admin_get(&format!(
                "/api/v1/admin/metrics/languages?{}",
                range(start, end)
            ))
            .await;
        for (language, n) in &expected {
            assert_eq!(
                view["by_language"][language], *n,
                "{language} from {start}: {view}"
            );
        }
        let summary = app
            .admin_get(&format!(
                "/api/v1/admin/metrics/summary?{}",
                range(start, end)
            ))
            .await;
        let total: u64 = expected.values().sum();
        assert_eq!(
            summary["total_executions"], total,
            "from {start}: {summary}"
        );
    }

    // The writer fills the new grain.
    let rows = one_more_then_count(app, &db, 60, &TABLES).await;
    assert_eq!(rows, [1, 1]);
}
