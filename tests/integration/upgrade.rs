//! A database written by the release before storage v2 (commit e6bb8c4,
//! `tests/fixtures/legacy-e6bb8c4`) upgrades in place at start-up: the
//! server answers every view as that release did, keeps and deduplicates
//! the raw rows, and places the days of zones at :30 and :45 exactly with
//! the quarter-hour grain it rebuilds from them.

use std::io::Read;

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tally_tests::{TestApp, repo_root, spawn_app_with};

const RANGE: &str = "start_date=2026-11-21T00:00:00Z&end_date=2026-12-01T00:00:00Z";
/// The 8 executions the fixture sent as OTLP metrics (rollups only).
const MAPPED_AT: &str = "2026-11-23T05:10:00Z";
const MAPPED: u64 = 8;

fn fixture(name: &str) -> Vec<u8> {
    let path = repo_root().join("tests/fixtures/legacy-e6bb8c4").join(name);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    if name.ends_with(".gz") {
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut out)
            .unwrap();
    } else {
        std::io::BufReader::new(file).read_to_end(&mut out).unwrap();
    }
    out
}

async fn start(db: &std::path::Path) -> TestApp {
    spawn_app_with(&[
        "--sqlite-metrics-db-path",
        db.to_str().unwrap(),
        // The fixture's data is older than the default retention by now.
        "--metrics-execution-retention-days",
        "3650",
        "--metrics-daily-retention-days",
        "3650",
    ])
    .await
}

/// Percentile fields: the new histogram reads them differently (finer bins,
/// interpolation), so they are checked against the exact values instead.
fn is_percentile(key: &str) -> bool {
    key.starts_with("p50")
        || key.starts_with("p95")
        || key.starts_with("p99")
        || key == "percentile_relative_error"
}

/// `actual` equals `expected` but for percentiles, and floats up to the
/// order in which sums were added.
fn same(actual: &Value, expected: &Value, at: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let keys: Vec<&String> = e.keys().filter(|k| !is_percentile(k)).collect();
            for key in keys {
                same(&a[key.as_str()], &e[key.as_str()], &format!("{at}.{key}"));
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.len(), e.len(), "{at}: lengths");
            for (i, (x, y)) in a.iter().zip(e).enumerate() {
                same(x, y, &format!("{at}[{i}]"));
            }
        }
        (Value::Number(a), Value::Number(e)) => {
            let (a, e) = (a.as_f64().unwrap(), e.as_f64().unwrap());
            assert!(
                (a - e).abs() <= 1e-9 * e.abs().max(1.0) + 1e-3,
                "{at}: {a} vs {e}"
            );
        }
        _ => assert_eq!(actual, expected, "{at}"),
    }
}

fn ms(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_millis()
}

/// Timestamps of the fixture's executions, and of the mapped ones.
fn execution_times(events: &Value) -> Vec<(i64, u64)> {
    let mut times: Vec<(i64, u64)> = events["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (ms(e["created_at"].as_str().unwrap()), 1))
        .collect();
    times.push((ms(MAPPED_AT), MAPPED));
    times
}

#[tokio::test]
async fn a_database_of_the_previous_release_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("legacy.db");
    std::fs::write(&db, fixture("metrics.db.gz")).unwrap();
    let answers: Value = serde_json::from_slice(&fixture("answers.json")).unwrap();
    let events: Value = serde_json::from_slice(&fixture("events.json.gz")).unwrap();
    let app = start(&db).await;

    // Every view answers as the previous release did.
    for (name, query) in [
        ("summary", RANGE.to_owned()),
        ("languages", format!("{RANGE}&stack_by_api_key=true")),
        ("api-keys", RANGE.to_owned()),
        ("top-languages", RANGE.to_owned()),
        ("requests", RANGE.to_owned()),
        ("pool", RANGE.to_owned()),
        ("by-language", RANGE.to_owned()),
        ("time-series-utc-days", format!("{RANGE}&granularity=day")),
        (
            "time-series-hours",
            "start_date=2026-11-24T00:00:00Z&end_date=2026-11-26T00:00:00Z".to_owned(),
        ),
        ("heatmap-utc", RANGE.to_owned()),
    ] {
        let view = name
            .trim_end_matches("-utc-days")
            .trim_end_matches("-hours");
        let view = view.trim_end_matches("-utc");
        let now = app
            .admin_get(&format!("/api/v1/admin/metrics/{view}?{query}"))
            .await;
        same(&now, &answers[name], name);
    }

    // Percentiles against the exact values of the raw events (the 8 mapped
    // executions carry no times): data from before the upgrade keeps the old
    // histogram's accuracy (9.1 %), read through the new bins (2.2 %).
    let (from, to) = (ms("2026-11-21T00:00:00Z"), ms("2026-12-01T00:00:00Z"));
    let mut times: Vec<f64> = events["executions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| (from..to).contains(&ms(e["created_at"].as_str().unwrap())))
        .map(|e| e["execution_time_ms"].as_f64().unwrap())
        .collect();
    times.sort_by(f64::total_cmp);
    let summary = app
        .admin_get(&format!("/api/v1/admin/metrics/summary?{RANGE}"))
        .await;
    for (field, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
        let exact = times[((q * times.len() as f64).ceil() as usize).max(1) - 1];
        let read = summary[format!("{field}_execution_time_ms")]
            .as_f64()
            .unwrap();
        assert!(
            (read - exact).abs() / exact < 0.1,
            "{field}: {read} vs {exact}"
        );
    }

    // Local days of Asia/Kolkata (+5:30) and hours of Asia/Kathmandu (+5:45)
    // are exact: the quarter-hour grain was rebuilt from the raw rows.
    let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
    let series = app
        .admin_get(&format!(
            "/api/v1/admin/metrics/time-series?{RANGE}&granularity=day&tz=Asia/Kolkata"
        ))
        .await;
    // The series covers whole local days, from the one holding the start.
    let first = DateTime::parse_from_rfc3339(series["timestamps"][0].as_str().unwrap())
        .unwrap()
        .date_naive();
    let mut days = vec![0u64; series["executions"].as_array().unwrap().len()];
    for (t, n) in execution_times(&events) {
        let date = Utc
            .timestamp_millis_opt(t)
            .unwrap()
            .with_timezone(&kolkata)
            .date_naive();
        if let Ok(i) = usize::try_from((date - first).num_days())
            && i < days.len()
        {
            days[i] += n;
        }
    }
    assert!(
        days.iter().sum::<u64>() > 3000 - 400,
        "the range holds most events"
    );
    assert_eq!(series["executions"], json!(days), "Kolkata days");

    let kathmandu: Tz = "Asia/Kathmandu".parse().unwrap();
    let heatmap = app
        .admin_get(&format!(
            "/api/v1/admin/metrics/heatmap?{RANGE}&tz=Asia/Kathmandu"
        ))
        .await;
    let mut cells = vec![vec![0u64; 24]; 7];
    for (t, n) in execution_times(&events)
        .into_iter()
        .filter(|(t, _)| (from..to).contains(t))
    {
        let local = Utc
            .timestamp_millis_opt(t)
            .unwrap()
            .with_timezone(&kathmandu);
        cells[local.weekday().num_days_from_monday() as usize][local.hour() as usize] += n;
    }
    assert_eq!(heatmap["matrix"], json!(cells), "Kathmandu heatmap");

    // The custom gauge's hourly rollups (3, 5, 2, 8, 1 from midnight).
    let rollups = app
        .admin_get("/api/v1/admin/metrics/custom/queue.depth/rollups?start_date=2026-11-20T00:00:00Z&end_date=2026-11-21T00:00:00Z")
        .await;
    let buckets = rollups["series"][0]["buckets"].as_array().unwrap();
    let sums: Vec<f64> = buckets.iter().map(|b| b["sum"].as_f64().unwrap()).collect();
    assert_eq!(sums, [3.0, 5.0, 2.0, 8.0, 1.0], "{rollups}");

    // Raw rows were kept: the old ids still count once, new ones are stored.
    let old: Vec<Value> = events["executions"].as_array().unwrap()[..3].to_vec();
    let resent: Value = app.post_events_json("executions", &json!(old)).await;
    assert_eq!(resent, json!({"accepted": 0, "duplicates": 3}));
    let mut new = events["executions"][0].clone();
    new["execution_id"] = json!("after-the-upgrade");
    new["created_at"] = json!(Utc::now().to_rfc3339());
    let response = app.post_events("executions", &json!([new])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["accepted"], 1);

    // Nothing of the old schema is left, and a second start changes nothing.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", db.display()))
        .await
        .unwrap();
    let legacy: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'legacy_%'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(legacy, 0);
    let raw: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM executions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(raw, 3001);
    pool.close().await;
    app.stop().await.unwrap();
    let again = start(&db).await;
    let summary_again = again
        .admin_get(&format!("/api/v1/admin/metrics/summary?{RANGE}"))
        .await;
    same(
        &summary_again,
        &answers["summary"],
        "summary after a second start",
    );
}
