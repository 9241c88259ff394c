//! The oracle test of the query layer: a known event set (several keys,
//! languages, statuses and sources over 40 days, across the European and
//! American DST changes) goes in through HTTP, and every admin endpoint's
//! numbers are checked against values computed here from the same events.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tally::histogram::RELATIVE_ERROR;
use tally_tests::{MASTER_KEY, TestApp, spawn_app};

pub(crate) const HOUR_MS: i64 = 3_600_000;
pub(crate) const DAY_MS: i64 = 24 * HOUR_MS;
const KEYS: [&str; 4] = ["sk-oracle-a", "sk-oracle-b", "sk-oracle-c", "sk-oracle-d"];
pub(crate) const LANGUAGES: [&str; 5] = ["python", "javascript", "go", "rust", "java"];
const STATUSES: [&str; 6] = [
    "completed",
    "completed",
    "completed",
    "completed",
    "failed",
    "timeout",
];

#[derive(Clone, Debug)]
pub(crate) struct Event {
    pub(crate) id: String,
    pub(crate) ts: i64,
    pub(crate) key: usize,
    pub(crate) language: &'static str,
    pub(crate) status: &'static str,
    pub(crate) time_ms: f64,
    pub(crate) cpu_ms: f64,
    pub(crate) memory_mb: f64,
    pub(crate) pool_hit: bool,
    pub(crate) files_generated: u64,
    pub(crate) output_bytes: u64,
}

/// A small deterministic generator, so the event set is the same every run.
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub(crate) fn unit(&mut self) -> f64 {
        self.next() as f64 / (1u64 << 31) as f64
    }
}

pub(crate) fn events(now: i64) -> Vec<Event> {
    let mut rng = Lcg(7);
    (0..2400)
        .map(|i| {
            let status = STATUSES[rng.below(6) as usize];
            // One error in 25, to have all four statuses.
            let status = if rng.below(25) == 0 { "error" } else { status };
            let time_ms = (0.4 + 40.0 * rng.unit()).powf(2.2);
            Event {
                id: format!("oracle-{i}"),
                ts: now - 40 * DAY_MS + (rng.unit() * (40 * DAY_MS - 2 * HOUR_MS) as f64) as i64,
                key: rng.below(4) as usize,
                language: LANGUAGES[rng.below(5) as usize],
                status,
                time_ms: (time_ms * 1000.0).round() / 1000.0,
                cpu_ms: (rng.unit() * 500.0).round(),
                memory_mb: 8.0 + rng.below(120) as f64,
                pool_hit: rng.below(5) != 0,
                files_generated: rng.below(4),
                output_bytes: rng.below(100_000),
            }
        })
        .collect()
}

pub(crate) fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) fn key_hash(i: usize) -> String {
    tally::model::KeyHash::of_raw_key(KEYS[i])
        .prefix()
        .to_owned()
}

pub(crate) async fn ingest(app: &TestApp, events: &[Event]) {
    for chunk in events.chunks(500) {
        let body: Vec<Value> = chunk
            .iter()
            .map(|e| {
                json!({
                    "execution_id": e.id, "api_key": KEYS[e.key], "language": e.language,
                    "status": e.status, "execution_time_ms": e.time_ms, "cpu_time_ms": e.cpu_ms,
                    "memory_peak_mb": e.memory_mb, "files_generated": e.files_generated,
                    "output_size_bytes": e.output_bytes,
                    "container_source": if e.pool_hit { "pool_hit" } else { "pool_miss" },
                    "created_at": rfc3339(e.ts),
                })
            })
            .collect();
        let response = app.post_events("executions", &json!(body)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
}

pub(crate) async fn get(app: &TestApp, path: &str, params: &[(&str, &str)]) -> Value {
    let response = app
        .client
        .get(app.url(path))
        .header("x-api-key", MASTER_KEY)
        .query(params)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{path} {params:?}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Nearest-rank percentile.
pub(crate) fn exact_percentile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).max(1);
    values[rank - 1]
}

fn close(actual: &Value, expected: f64, what: &str) {
    let actual = actual
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {actual}"));
    assert!(
        (actual - expected).abs() <= 1e-3 * expected.abs().max(1.0),
        "{what}: {actual} vs {expected}"
    );
}

fn within_histogram_error(actual: &Value, exact: f64, what: &str) {
    let actual = actual
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: {actual}"));
    let error = (actual - exact).abs() / exact;
    assert!(
        error <= RELATIVE_ERROR + 1e-4,
        "{what}: {actual} vs exact {exact} ({error:.4})"
    );
}

/// Checks a summary against the events it should cover.
fn check_summary(summary: &Value, events: &[&Event], what: &str) {
    let n = events.len() as f64;
    let count = |status: &str| events.iter().filter(|e| e.status == status).count() as f64;
    assert_eq!(summary["total_executions"], json!(events.len()), "{what}");
    assert_eq!(
        summary["success_count"].as_f64().unwrap(),
        count("completed"),
        "{what}"
    );
    assert_eq!(
        summary["failure_count"].as_f64().unwrap(),
        count("failed") + count("error"),
        "{what}"
    );
    assert_eq!(
        summary["timeout_count"].as_f64().unwrap(),
        count("timeout"),
        "{what}"
    );
    assert_eq!(
        summary["error_count"].as_f64().unwrap(),
        count("error"),
        "{what}"
    );
    close(
        &summary["success_rate"],
        100.0 * count("completed") / n,
        what,
    );
    close(
        &summary["avg_execution_time_ms"],
        events.iter().map(|e| e.time_ms).sum::<f64>() / n,
        what,
    );
    close(
        &summary["pool_hit_rate"],
        100.0 * events.iter().filter(|e| e.pool_hit).count() as f64 / n,
        what,
    );
    let mut keys: Vec<usize> = events.iter().map(|e| e.key).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(summary["active_api_keys"], json!(keys.len()), "{what}");
    close(
        &summary["total_cpu_time_ms"],
        events.iter().map(|e| e.cpu_ms).sum(),
        what,
    );
    close(
        &summary["total_memory_mb_seconds"],
        events
            .iter()
            .map(|e| e.memory_mb * e.time_ms / 1000.0)
            .sum(),
        what,
    );
    assert_eq!(
        summary["files_generated"].as_u64().unwrap(),
        events.iter().map(|e| e.files_generated).sum::<u64>(),
        "{what}"
    );
    assert_eq!(
        summary["output_bytes"].as_u64().unwrap(),
        events.iter().map(|e| e.output_bytes).sum::<u64>(),
        "{what}"
    );
    let max = events.iter().map(|e| e.time_ms).fold(0.0, f64::max);
    close(&summary["max_execution_time_ms"], max, what);
    let mut times: Vec<f64> = events.iter().map(|e| e.time_ms).collect();
    for (field, q) in [
        ("p50_execution_time_ms", 0.5),
        ("p95_execution_time_ms", 0.95),
        ("p99_execution_time_ms", 0.99),
    ] {
        within_histogram_error(
            &summary[field],
            exact_percentile(&mut times, q),
            &format!("{what} {field}"),
        );
    }
}

#[tokio::test]
async fn every_view_matches_an_independent_computation() {
    let app = spawn_app().await;
    let now = tally::clock::now_ms();
    let all = events(now);
    ingest(&app, &all).await;

    // A custom range with edges inside hours: raw rows + hourly + daily rollups.
    let from = now - 33 * DAY_MS + 17 * 60_000 + 123;
    let to = now - 2 * DAY_MS - 29 * 60_000;
    let range = [("start_date", rfc3339(from)), ("end_date", rfc3339(to))];
    let params: Vec<(&str, &str)> = range.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let in_range: Vec<&Event> = all.iter().filter(|e| e.ts >= from && e.ts < to).collect();
    assert!(in_range.len() > 1500, "the range holds most events");

    let summary = get(&app, "/api/v1/admin/metrics/summary", &params).await;
    check_summary(&summary, &in_range, "summary");
    assert_eq!(summary["period"], "custom");

    // Filters: two keys and one language.
    let (ka, kc) = (key_hash(0), key_hash(2));
    let keys_param = format!("{ka},{kc}");
    let mut filtered_params = params.clone();
    filtered_params.push(("api_key_hash", &keys_param));
    filtered_params.push(("language", "python"));
    let filtered: Vec<&Event> = in_range
        .iter()
        .copied()
        .filter(|e| (e.key == 0 || e.key == 2) && e.language == "python")
        .collect();
    let summary = get(&app, "/api/v1/admin/metrics/summary", &filtered_params).await;
    check_summary(&summary, &filtered, "filtered summary");

    // Comparison with the preceding period of equal length.
    let mut compare_params = params.clone();
    compare_params.push(("compare", "previous"));
    let summary = get(&app, "/api/v1/admin/metrics/summary", &compare_params).await;
    let previous: Vec<&Event> = all
        .iter()
        .filter(|e| e.ts >= from - (to - from) && e.ts < from)
        .collect();
    check_summary(&summary["previous"], &previous, "previous summary");
    check_summary(&summary, &in_range, "summary with comparison");

    // Languages, stacked by key.
    let mut stacked = params.clone();
    stacked.push(("stack_by_api_key", "true"));
    let languages = get(&app, "/api/v1/admin/metrics/languages", &stacked).await;
    let mut by_language: BTreeMap<&str, u64> = BTreeMap::new();
    let mut matrix: BTreeMap<&str, BTreeMap<String, u64>> = BTreeMap::new();
    for e in &in_range {
        *by_language.entry(e.language).or_default() += 1;
        *matrix
            .entry(e.language)
            .or_default()
            .entry(key_hash(e.key))
            .or_default() += 1;
    }
    assert_eq!(languages["by_language"], json!(by_language));
    assert_eq!(languages["matrix"], json!(matrix));

    // Top languages for one key.
    let key_b = key_hash(1);
    let mut top_params = params.clone();
    top_params.push(("api_key_hash", &key_b));
    top_params.push(("limit", "3"));
    let top = get(&app, "/api/v1/admin/metrics/top-languages", &top_params).await;
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for e in in_range.iter().filter(|e| e.key == 1) {
        *counts.entry(e.language).or_default() += 1;
    }
    let mut expected: Vec<(&str, u64)> = counts.into_iter().collect();
    expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    expected.truncate(3);
    let expected: Vec<Value> = expected
        .iter()
        .map(|(l, c)| json!({"language": l, "count": c}))
        .collect();
    assert_eq!(top["languages"], json!(expected));

    // API keys: usage and resources per key.
    let keys = get(&app, "/api/v1/admin/metrics/api-keys", &params).await;
    for (i, _) in KEYS.iter().enumerate() {
        let row = keys
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key_hash"] == key_hash(i))
            .unwrap();
        let mine: Vec<&&Event> = in_range.iter().filter(|e| e.key == i).collect();
        assert_eq!(row["usage_count"], json!(mine.len()));
        close(
            &row["cpu_time_ms"],
            mine.iter().map(|e| e.cpu_ms).sum(),
            "key cpu",
        );
        close(
            &row["memory_mb_seconds"],
            mine.iter().map(|e| e.memory_mb * e.time_ms / 1000.0).sum(),
            "key mem",
        );
    }

    // Time series by local day in New York, across the end of DST (Nov 1).
    let ny: Tz = "America/New_York".parse().unwrap();
    let series = get(
        &app,
        "/api/v1/admin/metrics/time-series",
        &[
            ("start_date", "2026-10-25"),
            ("end_date", "2026-11-08"),
            ("tz", "America/New_York"),
            ("granularity", "day"),
        ],
    )
    .await;
    let stamps: Vec<&str> = series["timestamps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(stamps.len(), 15);
    assert_eq!(stamps[0], "2026-10-25T00:00:00-04:00");
    assert_eq!(stamps[8], "2026-11-02T00:00:00-05:00");
    let mut per_day = vec![0u64; 15];
    let mut errors = vec![0u64; 15];
    let first = chrono::NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
    for e in &all {
        let local = Utc
            .timestamp_millis_opt(e.ts)
            .unwrap()
            .with_timezone(&ny)
            .date_naive();
        let index = (local - first).num_days();
        if (0..15).contains(&index) {
            per_day[index as usize] += 1;
            errors[index as usize] += u64::from(e.status != "completed");
        }
    }
    assert_eq!(series["executions"], json!(per_day));
    assert_eq!(series["errors"], json!(errors));
    assert_eq!(series["granularity"], "day");

    // Time series by hour (UTC) over two days.
    let h_from = (now - 5 * DAY_MS) / HOUR_MS * HOUR_MS;
    let h_to = h_from + 2 * DAY_MS;
    let hourly = get(
        &app,
        "/api/v1/admin/metrics/time-series",
        &[
            ("start_date", &rfc3339(h_from)),
            ("end_date", &rfc3339(h_to)),
        ],
    )
    .await;
    assert_eq!(hourly["granularity"], "hour");
    let mut per_hour = vec![0u64; 48];
    for e in all.iter().filter(|e| e.ts >= h_from && e.ts < h_to) {
        per_hour[((e.ts - h_from) / HOUR_MS) as usize] += 1;
    }
    assert_eq!(hourly["executions"], json!(per_hour));

    // Heatmap in Berlin over whole hours spanning the end of CEST (Oct 25).
    let heat_from = (now - 38 * DAY_MS) / HOUR_MS * HOUR_MS;
    let heat_to = (now - DAY_MS) / HOUR_MS * HOUR_MS;
    let heatmap = get(
        &app,
        "/api/v1/admin/metrics/heatmap",
        &[
            ("start_date", &rfc3339(heat_from)),
            ("end_date", &rfc3339(heat_to)),
            ("tz", "Europe/Berlin"),
        ],
    )
    .await;
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    let mut cells = vec![vec![0u64; 24]; 7];
    for e in all.iter().filter(|e| e.ts >= heat_from && e.ts < heat_to) {
        let local = Utc
            .timestamp_millis_opt(e.ts)
            .unwrap()
            .with_timezone(&berlin);
        cells[local.weekday().num_days_from_monday() as usize][local.hour() as usize] += 1;
    }
    assert_eq!(heatmap["matrix"], json!(cells));
    assert_eq!(
        heatmap["max_value"],
        json!(cells.iter().flatten().max().unwrap())
    );
    assert_eq!(heatmap["days"][0], "Monday");

    // CSV of the same views.
    let csv = app
        .client
        .get(app.url("/api/v1/admin/metrics/time-series"))
        .header("x-api-key", MASTER_KEY)
        .query(&[
            ("start_date", "2026-10-25"),
            ("end_date", "2026-11-08"),
            ("tz", "America/New_York"),
            ("granularity", "day"),
            ("format", "csv"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
    assert_eq!(
        lines[0],
        "timestamp,executions,errors,success_rate,avg_duration,p95_duration"
    );
    assert_eq!(lines.len(), 16);
    assert!(
        lines[1].starts_with(&format!("2026-10-25T00:00:00-04:00,{},", per_day[0])),
        "{}",
        lines[1]
    );
}

#[tokio::test]
async fn bad_parameters_get_a_400_naming_them() {
    let app = spawn_app().await;
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[("period", "fortnight")], "period"),
        (&[("start_date", "yesterday")], "start_date"),
        (&[("tz", "Atlantis/Capital")], "tz"),
        (
            &[("start_date", "2026-11-10"), ("end_date", "2026-11-01")],
            "end_date",
        ),
        (&[("start_date", "2001-01-01")], "start_date"),
        (&[("limit", "abc")], "limit"),
        (&[("format", "xml")], "format"),
    ];
    for (params, name) in cases {
        let response = app
            .client
            .get(app.url("/api/v1/admin/metrics/summary"))
            .header("x-api-key", MASTER_KEY)
            .query(params)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{params:?}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains(name),
            "{params:?}: {body}"
        );
    }
    let anonymous = app
        .client
        .get(app.url("/api/v1/admin/metrics/summary"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn requests_pool_and_public_endpoints() {
    let app = spawn_app().await;
    let now = tally::clock::now_ms();
    let mut durations: Vec<f64> = Vec::new();
    let requests: Vec<Value> = (0..400)
        .map(|i| {
            let duration = 1.0 + (i % 97) as f64 * 3.3;
            if i % 2 == 0 {
                durations.push(duration);
            }
            json!({
                "id": format!("q{i}"), "ts": rfc3339(now - (i as i64 % 20) * 60_000 - 1000),
                "method": "GET", "endpoint": if i % 2 == 0 { "/a" } else { "/b/{id}" },
                "status_code": if i % 10 == 0 { 503 } else if i % 10 == 1 { 404 } else { 200 },
                "duration_ms": duration, "api_key": KEYS[i % 2],
            })
        })
        .collect();
    assert!(
        app.post_events("requests", &json!(requests))
            .await
            .status()
            .is_success()
    );
    let pool: Vec<Value> = (0..50)
        .map(|i| json!({"id": format!("p{i}"), "kind": if i < 40 { "hit" } else if i < 48 { "miss" } else { "exhausted" },
                        "language": "python", "acquire_time_ms": if i < 40 { 2.0 } else { 900.0 }}))
        .collect();
    assert!(
        app.post_events("pool", &json!(pool))
            .await
            .status()
            .is_success()
    );

    let stats = get(
        &app,
        "/api/v1/admin/metrics/requests",
        &[("period", "hour")],
    )
    .await;
    assert_eq!(stats["total_requests"], 400);
    close(&stats["error_rate"], 10.0, "5xx rate");
    close(&stats["client_error_rate"], 10.0, "4xx rate");
    assert_eq!(
        stats["status_classes"],
        json!({"2xx": 320, "4xx": 40, "5xx": 40})
    );
    let a = stats["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["endpoint"] == "/a")
        .unwrap();
    assert_eq!(a["requests"], 200);
    within_histogram_error(
        &a["p95_ms"],
        exact_percentile(&mut durations, 0.95),
        "/a p95",
    );
    within_histogram_error(
        &a["p50_ms"],
        exact_percentile(&mut durations, 0.5),
        "/a p50",
    );

    let pool = get(&app, "/api/v1/admin/metrics/pool", &[("period", "hour")]).await;
    assert_eq!(
        (
            pool["hits"].as_u64(),
            pool["cold_starts"].as_u64(),
            pool["exhausted"].as_u64()
        ),
        (Some(40), Some(8), Some(2))
    );
    close(&pool["hit_rate"], 100.0 * 40.0 / 48.0, "pool hit rate");

    // Public aggregates are open; per-key data needs the master key.
    let public = app
        .client
        .get(app.url("/metrics/api?hours=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::OK);
    let body: Value = public.json().await.unwrap();
    assert_eq!(body["total_requests"], 400);
    let per_key = app
        .client
        .get(app.url(&format!("/metrics/by-api-key/{}", key_hash(0))))
        .send()
        .await
        .unwrap();
    assert_eq!(per_key.status(), StatusCode::UNAUTHORIZED);
    let per_key = get(&app, &format!("/metrics/by-api-key/{}", key_hash(0)), &[]).await;
    assert_eq!(per_key["key"]["api_requests"], 200);
    let hours = app
        .client
        .get(app.url("/metrics?hours=500"))
        .send()
        .await
        .unwrap();
    assert_eq!(hours.status(), StatusCode::BAD_REQUEST);
    for path in [
        "/metrics",
        "/metrics/execution",
        "/metrics/detailed",
        "/metrics/by-language",
        "/metrics/pool",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn histogram_bins_in_sql_match_the_rust_edges() {
    let app = spawn_app().await;
    let db = sqlx::SqlitePool::connect(&format!("sqlite:{}", app.db_path().display()))
        .await
        .unwrap();
    let edges: Vec<(i64, f64)> =
        sqlx::query_as("SELECT bin, lower_ms FROM histogram_bins ORDER BY bin")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(edges.len(), tally::histogram::BINS);
    for (bin, lower) in edges {
        assert_eq!(
            lower.to_bits(),
            tally::histogram::lower_edge(bin as usize).to_bits(),
            "bin {bin}"
        );
    }
}

#[tokio::test]
async fn prometheus_export_passes_promtool_and_adds_up() {
    let app = spawn_app().await;
    let now = tally::clock::now_ms();
    let some: Vec<Event> = events(now).into_iter().take(300).collect();
    ingest(&app, &some).await;
    let requests: Vec<Value> = (0..20)
        .map(|i| {
            json!({"id": format!("pr{i}"), "method": "POST", "endpoint": "/api/v1/exec",
                        "status_code": if i == 0 { 500 } else { 200 }, "duration_ms": 10 + i})
        })
        .collect();
    app.post_events("requests", &json!(requests)).await;

    let response = app
        .client
        .get(app.url("/metrics"))
        .header("accept", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    let same = app.admin_text("/api/v1/admin/metrics/prometheus").await;
    // The data series agree; Tally's own request counters moved in between.
    let data = |t: &str| {
        t.lines()
            .filter(|l| {
                l.starts_with("tally_execution")
                    || l.starts_with("tally_api_")
                    || l.starts_with("tally_pool")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(data(&text) == data(&same), "the two exports differ");

    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is missing: run scripts/bootstrap.sh");
    use std::io::Write;
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = promtool.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    let total: f64 = text
        .lines()
        .filter(|l| l.starts_with("tally_executions_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(total, 300.0);
    let count: f64 = text
        .lines()
        .filter(|l| l.starts_with("tally_execution_duration_seconds_count{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(count, 300.0);
    assert!(text.contains("tally_api_requests_total{endpoint=\"/api/v1/exec\",method=\"POST\",status_class=\"5xx\"} 1\n"), "{text}");
    let key_labels: std::collections::HashSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("tally_executions_total{"))
        .filter_map(|l| l.split("api_key=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(key_labels.len(), 4, "{key_labels:?}");
}

#[tokio::test]
async fn late_events_for_a_cached_day_are_counted() {
    let app = spawn_app().await;
    let now = tally::clock::now_ms();
    let day_ago = |d: i64, id: &str| {
        json!({"execution_id": id, "language": "go", "status": "completed", "execution_time_ms": 5,
               "created_at": rfc3339(now - d * DAY_MS)})
    };
    app.post_events("executions", &json!([day_ago(3, "a"), day_ago(4, "b")]))
        .await;
    let week = [("period", "week")];
    // The first query caches the closed days; a late event must still show up.
    assert_eq!(
        get(&app, "/api/v1/admin/metrics/summary", &week).await["total_executions"],
        2
    );
    app.post_events("executions", &json!([day_ago(3, "late")]))
        .await;
    assert_eq!(
        get(&app, "/api/v1/admin/metrics/summary", &week).await["total_executions"],
        3
    );
    let languages = get(&app, "/api/v1/admin/metrics/languages", &week).await;
    assert_eq!(languages["by_language"]["go"], 3);
}

#[tokio::test]
async fn influx_line_protocol_of_the_views() {
    let app = spawn_app().await;
    let now = tally::clock::now_ms();
    let some: Vec<Event> = events(now).into_iter().take(200).collect();
    ingest(&app, &some).await;
    let fetch = |view: &'static str, query: &'static str| {
        let request = app
            .client
            .get(app.url(&format!(
                "/api/v1/admin/metrics/{view}?{query}&format=influx"
            )))
            .header("x-api-key", MASTER_KEY);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                response.headers()["content-type"],
                "text/plain; charset=utf-8"
            );
            response.text().await.unwrap()
        }
    };
    let series = get(
        &app,
        "/api/v1/admin/metrics/time-series",
        &[("period", "month"), ("granularity", "day")],
    )
    .await;
    let text = fetch("time-series", "period=month&granularity=day").await;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), series["timestamps"].as_array().unwrap().len());
    let total: u64 = lines
        .iter()
        .map(|l| {
            l.split("executions=")
                .nth(1)
                .unwrap()
                .split('i')
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(
        total,
        series["executions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>()
    );
    for line in &lines {
        let parts: Vec<&str> = line.rsplitn(2, ' ').collect();
        assert!(
            parts[0].parse::<i64>().unwrap() > 1_700_000_000_000_000_000,
            "{line}"
        );
        assert!(
            line.starts_with("tally_time_series,granularity=day "),
            "{line}"
        );
    }
    let summary = fetch("summary", "period=month").await;
    assert!(summary.starts_with("tally_summary,"), "{summary}");
    let month = get(
        &app,
        "/api/v1/admin/metrics/summary",
        &[("period", "month")],
    )
    .await;
    assert!(
        summary.contains(&format!("total_executions={}i", month["total_executions"])),
        "{summary}"
    );
    let keys = fetch("api-keys", "period=month").await;
    assert_eq!(keys.lines().count(), 4);
}
