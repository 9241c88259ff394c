//! How close the rollups' answers come to the raw events: local days and
//! hours in zones at :30 and :45, percentiles against their exact values.

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::json;
use tally_tests::spawn_app;

use super::queries::{
    DAY_MS, Event, HOUR_MS, LANGUAGES, Lcg, events, exact_percentile, get, ingest, key_hash,
    rfc3339,
};

/// Local days and hours in zones at :30 and :45 (Asia/Kolkata, UTC+5:30;
/// Asia/Kathmandu, UTC+5:45) come out exact, with and without a key filter.
#[tokio::test]
async fn half_and_quarter_hour_zones_get_exact_days_and_hours() {
    let app = spawn_app().await;
    let now = tally::clock::now_ms();
    let mut all = events(now);
    // Events on the minutes around the zones' midnights and hour edges.
    for (i, e) in all.iter_mut().enumerate().filter(|(i, _)| i % 3 == 0) {
        let day = e.ts.div_euclid(DAY_MS) * DAY_MS;
        let edge = [18 * HOUR_MS + 30 * 60_000, 18 * HOUR_MS + 15 * 60_000][i % 2];
        e.ts = (day + edge + (i as i64 % 7 - 3) * 60_000).min(now - HOUR_MS);
    }
    ingest(&app, &all).await;
    for zone in ["Asia/Kolkata", "Asia/Kathmandu"] {
        let tz: Tz = zone.parse().unwrap();
        for key in [None, Some(2usize)] {
            let mut params = vec![
                ("period", "month".to_owned()),
                ("tz", zone.to_owned()),
                ("granularity", "day".to_owned()),
            ];
            if let Some(k) = key {
                params.push(("api_key_hash", key_hash(k)));
            }
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let series = get(&app, "/api/v1/admin/metrics/time-series", &params).await;
            let stamps: Vec<i64> = series["timestamps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    DateTime::parse_from_rfc3339(s.as_str().unwrap())
                        .unwrap()
                        .timestamp_millis()
                })
                .collect();
            let mut expected = vec![0u64; stamps.len()];
            for e in all.iter().filter(|e| key.is_none_or(|k| e.key == k)) {
                let i = stamps.partition_point(|s| *s <= e.ts);
                if i > 0 {
                    let local = Utc.timestamp_millis_opt(e.ts).unwrap().with_timezone(&tz);
                    let start = Utc
                        .timestamp_millis_opt(stamps[i - 1])
                        .unwrap()
                        .with_timezone(&tz);
                    if local.date_naive() == start.date_naive() {
                        expected[i - 1] += 1;
                    }
                }
            }
            assert_eq!(
                series["executions"],
                json!(expected),
                "{zone} days, key {key:?}"
            );
            assert!(
                expected.iter().sum::<u64>() > 100,
                "{zone}: the month holds events"
            );

            let mut params = params.clone();
            params.retain(|(k, _)| *k != "granularity");
            let heatmap = get(&app, "/api/v1/admin/metrics/heatmap", &params).await;
            let (from, to) = (
                DateTime::parse_from_rfc3339(heatmap["start_date"].as_str().unwrap())
                    .unwrap()
                    .timestamp_millis(),
                DateTime::parse_from_rfc3339(heatmap["end_date"].as_str().unwrap())
                    .unwrap()
                    .timestamp_millis(),
            );
            let mut cells = vec![vec![0u64; 24]; 7];
            for e in all
                .iter()
                .filter(|e| e.ts >= from && e.ts < to && key.is_none_or(|k| e.key == k))
            {
                let local = Utc.timestamp_millis_opt(e.ts).unwrap().with_timezone(&tz);
                cells[local.weekday().num_days_from_monday() as usize][local.hour() as usize] += 1;
            }
            assert_eq!(
                heatmap["matrix"],
                json!(cells),
                "{zone} heatmap, key {key:?}"
            );
        }
    }
}

/// Percentiles read from the rollups are within 3 % of the exact values of
/// a lognormal set, over every rollup a filter can choose.
#[tokio::test]
async fn percentiles_are_within_three_percent_on_a_lognormal_set() {
    let app = spawn_app().await;
    let now = tally::clock::now_ms();
    let mut rng = Lcg(11);
    let mut all = events(now);
    all.truncate(0);
    for i in 0..4000 {
        // Box–Muller: a lognormal around 120 ms with σ = 1.
        let (u, v) = (rng.unit().max(1e-12), rng.unit());
        let normal = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
        all.push(Event {
            id: format!("lognormal-{i}"),
            ts: now - 20 * DAY_MS + (rng.unit() * 19.0 * DAY_MS as f64) as i64,
            key: rng.below(4) as usize,
            language: LANGUAGES[rng.below(5) as usize],
            status: "completed",
            time_ms: ((120f64.ln() + normal).exp() * 1000.0).round() / 1000.0,
            cpu_ms: 1.0,
            memory_mb: 8.0,
            pool_hit: true,
            files_generated: 0,
            output_bytes: 0,
        });
    }
    ingest(&app, &all).await;
    let from = rfc3339(now - 21 * DAY_MS);
    let cases: [(&str, Option<usize>, Option<&str>); 4] = [
        ("everything", None, None),
        ("one key", Some(1), None),
        ("one language", None, Some("go")),
        ("a key and a language", Some(3), Some("python")),
    ];
    for (what, key, language) in cases {
        let mut params = vec![("start_date", from.clone())];
        if let Some(k) = key {
            params.push(("api_key_hash", key_hash(k)));
        }
        if let Some(l) = language {
            params.push(("language", l.to_owned()));
        }
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let summary = get(&app, "/api/v1/admin/metrics/summary", &params).await;
        let mut times: Vec<f64> = all
            .iter()
            .filter(|e| key.is_none_or(|k| e.key == k) && language.is_none_or(|l| e.language == l))
            .map(|e| e.time_ms)
            .collect();
        assert!(times.len() > 150, "{what}: {} values", times.len());
        for (field, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
            let exact = exact_percentile(&mut times, q);
            let read = summary[format!("{field}_execution_time_ms")]
                .as_f64()
                .unwrap();
            let error = (read - exact).abs() / exact;
            assert!(
                error <= 0.03,
                "{what} {field}: {read} vs exact {exact} ({error:.4})"
            );
        }
    }
}
