//! A traffic simulator for a code-execution API: several named API keys,
//! ten languages with realistic shares and latencies, daily and weekly
//! rhythms, failures and timeouts, pool misses with cold starts, slow tails,
//! and the API requests and pool events around each execution.
//!
//! It sends everything through Tally's real HTTP ingest API. It can backfill
//! history (each hour's events and ids are derived from the seed, so a
//! second backfill counts nothing twice) and then keep sending live traffic. Used by `tally --demo` and by
//! the `tally-simulate` binary.

use std::{f64::consts::TAU, time::Duration};

use anyhow::Context;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};

use crate::{
    clock,
    model::time::{DAY_MS, HOUR_MS, MINUTE_MS},
};

const BATCH: usize = 500;

/// API keys of the simulated platform: (name, raw key, share of traffic).
pub const KEYS: [(&str, &str, f64); 6] = [
    ("acme-prod", "sk-demo-acme-prod", 0.34),
    ("globex", "sk-demo-globex", 0.22),
    ("initech-ci", "sk-demo-initech-ci", 0.16),
    ("umbrella-labs", "sk-demo-umbrella-labs", 0.12),
    ("acme-staging", "sk-demo-acme-staging", 0.09),
    ("hooli-edu", "sk-demo-hooli-edu", 0.07),
];

/// (language, share, median execution ms, typical peak memory MB).
const LANGUAGES: [(&str, f64, f64, f64); 10] = [
    ("python", 0.41, 180.0, 64.0),
    ("javascript", 0.17, 90.0, 48.0),
    ("typescript", 0.10, 260.0, 72.0),
    ("go", 0.07, 140.0, 24.0),
    ("rust", 0.06, 420.0, 32.0),
    ("java", 0.06, 650.0, 180.0),
    ("bash", 0.05, 40.0, 8.0),
    ("ruby", 0.04, 160.0, 40.0),
    ("c", 0.02, 120.0, 6.0),
    ("cpp", 0.02, 300.0, 10.0),
];

const TIMEOUT_MS: f64 = 30_000.0;

#[derive(Clone, Debug)]
pub struct SimulatorConfig {
    /// Tally's base URL, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// Key sent with events (ingest or master key).
    pub ingest_key: String,
    /// Master key, to name the API keys; naming is skipped without it.
    pub master_key: Option<String>,
    /// Days of history to send first (0: none).
    pub backfill_days: u32,
    /// Executions per hour at the daily peak on a weekday.
    pub peak_per_hour: f64,
    /// Keep sending live traffic after the backfill.
    pub live: bool,
    pub seed: u64,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:8080".to_owned(),
            ingest_key: String::new(),
            master_key: None,
            backfill_days: 90,
            peak_per_hour: 600.0,
            live: true,
            seed: 42,
        }
    }
}

/// Runs the simulator until the backfill is done and, when `live`, forever.
pub async fn run(config: SimulatorConfig) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let sender = Sender {
        client,
        config: config.clone(),
    };
    let now = clock::now_ms();
    let mut traffic = Traffic::new(config.seed, config.peak_per_hour);

    if config.backfill_days > 0 {
        let start = (now - i64::from(config.backfill_days) * DAY_MS).div_euclid(HOUR_MS) * HOUR_MS;
        let mut hour = start;
        let mut sent = 0usize;
        let mut batch = Events::default();
        while hour < now {
            let end = (hour + HOUR_MS).min(now);
            // One seed per hour: a second backfill regenerates the same events.
            traffic.rng = StdRng::seed_from_u64(config.seed ^ hour.unsigned_abs());
            traffic.generate(hour, end, &mut batch, &format!("bf{hour}"));
            if batch.executions.len() >= BATCH {
                sent += sender.send(&mut batch).await?;
            }
            hour = end;
        }
        sent += sender.send(&mut batch).await?;
        tracing::info!(
            executions = sent,
            days = config.backfill_days,
            "Simulator: history sent."
        );
    }
    sender.name_keys().await?;

    if !config.live {
        return Ok(());
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut from = clock::now_ms();
    let mut batch = Events::default();
    let mut live_rng = StdRng::from_os_rng();
    loop {
        tick.tick().await;
        let to = clock::now_ms();
        let salt: u64 = live_rng.random();
        traffic.generate(from, to, &mut batch, &format!("lv{salt:x}"));
        if let Err(error) = sender.send(&mut batch).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "Simulator: send failed; will continue."
            );
            batch = Events::default();
        }
        from = to;
    }
}

#[derive(Default)]
struct Events {
    executions: Vec<Value>,
    requests: Vec<Value>,
    pool: Vec<Value>,
}

struct Sender {
    client: reqwest::Client,
    config: SimulatorConfig,
}

impl Sender {
    /// Sends and clears the events; returns the executions sent.
    async fn send(&self, events: &mut Events) -> anyhow::Result<usize> {
        let n = events.executions.len();
        for (path, list) in [
            ("executions", &mut events.executions),
            ("requests", &mut events.requests),
            ("pool", &mut events.pool),
        ] {
            for chunk in list.chunks(BATCH * 4) {
                self.post(path, chunk).await?;
            }
            list.clear();
        }
        Ok(n)
    }

    async fn post(&self, kind: &str, events: &[Value]) -> anyhow::Result<()> {
        let url = format!("{}/api/v1/events/{kind}", self.config.base_url);
        // A full buffer answers 503: back off and retry, as a producer should.
        for attempt in 0..20u32 {
            let response = self
                .client
                .post(&url)
                .header("x-api-key", &self.config.ingest_key)
                .json(events)
                .send()
                .await
                .with_context(|| format!("POST {url}"))?;
            let status = response.status();
            if status.is_success() {
                return Ok(());
            }
            let body = response.text().await.unwrap_or_default();
            if status != reqwest::StatusCode::SERVICE_UNAVAILABLE {
                anyhow::bail!("POST {url}: {status}: {body}");
            }
            tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt + 1))).await;
        }
        anyhow::bail!("POST {url}: still unavailable after 20 attempts")
    }

    async fn name_keys(&self) -> anyhow::Result<()> {
        let Some(master) = &self.config.master_key else {
            return Ok(());
        };
        for (name, raw, _) in KEYS {
            let hash = crate::model::KeyHash::of_raw_key(raw);
            let url = format!(
                "{}/api/v1/admin/api-keys/{}",
                self.config.base_url,
                hash.as_str()
            );
            let response = self
                .client
                .put(&url)
                .header("x-api-key", master)
                .json(&json!({ "name": name }))
                .send()
                .await?;
            anyhow::ensure!(
                response.status().is_success(),
                "naming {name}: {}",
                response.status()
            );
        }
        Ok(())
    }
}

/// The traffic model.
struct Traffic {
    rng: StdRng,
    peak_per_hour: f64,
}

impl Traffic {
    fn new(seed: u64, peak_per_hour: f64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            peak_per_hour,
        }
    }

    /// Expected executions per hour at `ts_ms`: a daily curve peaking mid
    /// afternoon UTC, quieter weekends, slow growth over time.
    fn rate_per_hour(&self, ts_ms: i64) -> f64 {
        let hour_of_day = (ts_ms.div_euclid(MINUTE_MS) % 1440) as f64 / 60.0;
        let daily = 0.18 + 0.82 * (0.5 + 0.5 * ((hour_of_day - 15.0) / 24.0 * TAU).cos()).powf(1.6);
        // 1970-01-01 was a Thursday: day 0 → Thursday, so Saturday is 2, Sunday 3.
        let weekday = ts_ms.div_euclid(DAY_MS).rem_euclid(7);
        let weekly = if weekday == 2 || weekday == 3 {
            0.45
        } else {
            1.0
        };
        let growth = 1.0 + 0.25 * ((ts_ms as f64 / DAY_MS as f64) % 365.0) / 365.0;
        self.peak_per_hour * daily * weekly * growth
    }

    /// Adds the events of `[from_ms, to_ms)` to `out`. With a fixed seed the
    /// same window gives the same events and ids.
    fn generate(&mut self, from_ms: i64, to_ms: i64, out: &mut Events, id_prefix: &str) {
        let span_hours = (to_ms - from_ms) as f64 / HOUR_MS as f64;
        let expected = self.rate_per_hour(from_ms) * span_hours;
        let count = poisson(&mut self.rng, expected);
        for i in 0..count {
            let ts = from_ms + self.rng.random_range(0..(to_ms - from_ms).max(1));
            self.execution(
                ts,
                &format!("{id_prefix}-{i}"),
                expected / span_hours.max(1e-9),
                out,
            );
        }
    }

    fn execution(&mut self, ts_ms: i64, id: &str, load_per_hour: f64, out: &mut Events) {
        let rng = &mut self.rng;
        let (_, raw_key, _) = KEYS[pick(rng, KEYS.iter().map(|k| k.2))];
        let (language, _, median_ms, memory_mb) =
            LANGUAGES[pick(rng, LANGUAGES.iter().map(|l| l.1))];

        // Busy hours run the pool dry more often.
        let busy = (load_per_hour / self.peak_per_hour).clamp(0.0, 1.5);
        let pool_hit = rng.random_bool((0.93 - 0.12 * busy).clamp(0.5, 0.97));
        let exhausted = !pool_hit && busy > 0.8 && rng.random_bool(0.15);
        let cold_start_ms = if pool_hit {
            0.0
        } else {
            700.0 + rng.random_range(0.0..2500.0)
        };

        let roll: f64 = rng.random();
        let status = if roll < 0.012 {
            "timeout"
        } else if roll < 0.055 {
            "failed"
        } else if roll < 0.065 {
            "error"
        } else {
            "completed"
        };
        // Log-normal run time with a 1 % slow tail.
        let mut run_ms = median_ms * (0.55 * normal(rng)).exp();
        if rng.random_bool(0.01) {
            run_ms *= 8.0 + rng.random_range(0.0..20.0);
        }
        let execution_ms = if status == "timeout" {
            TIMEOUT_MS
        } else {
            (run_ms + cold_start_ms).min(TIMEOUT_MS - 1.0)
        };
        let queue_wait_ms = (busy * 40.0 * (0.8 * normal(rng)).exp()).max(0.0);
        let created_at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ts_ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default();

        out.executions.push(json!({
            "execution_id": format!("sim-{id}"),
            "api_key": raw_key,
            "language": language,
            "status": status,
            "execution_time_ms": round2(execution_ms),
            "memory_peak_mb": round2(memory_mb * (0.35 * normal(rng)).exp()),
            "cpu_time_ms": round2(execution_ms * rng.random_range(0.55..0.95)),
            "container_source": if pool_hit { "pool_hit" } else { "pool_miss" },
            "files_uploaded": rng.random_range(0..3),
            "files_generated": if rng.random_bool(0.3) { rng.random_range(1..5) } else { 0 },
            "output_size_bytes": rng.random_range(20..40_000),
            "state_size_bytes": if rng.random_bool(0.2) { rng.random_range(1_000..500_000) } else { 0 },
            "queue_wait_ms": round2(queue_wait_ms),
            "repl_mode": rng.random_bool(0.15),
            "session_id": format!("sess-{}", rng.random_range(0..5000)),
            "created_at": created_at,
        }));

        out.pool.push(json!({
            "id": format!("simpool-{id}"),
            "ts": created_at,
            "kind": if pool_hit { "hit" } else { "miss" },
            "language": language,
            "acquire_time_ms": round2(if pool_hit { 2.0 + rng.random_range(0.0..6.0) } else { cold_start_ms }),
        }));
        if exhausted {
            out.pool.push(json!({
                "id": format!("simexh-{id}"), "ts": created_at, "kind": "exhausted",
                "language": language, "acquire_time_ms": round2(cold_start_ms),
            }));
        }

        let (exec_code, error) = match status {
            "completed" | "failed" => (200, None),
            "timeout" => (200, None),
            _ => (500, Some("sandbox crashed")),
        };
        out.requests.push(json!({
            "id": format!("simreq-{id}"), "ts": created_at, "method": "POST",
            "endpoint": "/api/v1/exec", "status_code": exec_code,
            "duration_ms": round2(execution_ms + queue_wait_ms + 4.0),
            "api_key": raw_key, "cache_hit": false, "error": error,
            "client_ip": format!("10.0.{}.{}", rng.random_range(0..8), rng.random_range(1..250)),
            "user_agent": "tally-simulator/1.0",
        }));
        // Surrounding API traffic: file downloads, session look-ups, bad requests.
        if rng.random_bool(0.35) {
            let (endpoint, method, code, ms, cache) = match rng.random_range(0..10) {
                0..=4 => ("/api/v1/files/{id}", "GET", 200, 12.0, rng.random_bool(0.6)),
                5..=6 => (
                    "/api/v1/sessions/{id}",
                    "GET",
                    200,
                    6.0,
                    rng.random_bool(0.8),
                ),
                7 => ("/api/v1/files", "POST", 201, 35.0, false),
                8 => ("/api/v1/exec", "POST", 429, 1.5, false),
                _ => ("/api/v1/exec", "POST", 422, 2.0, false),
            };
            out.requests.push(json!({
                "id": format!("simreq2-{id}"), "ts": created_at, "method": method,
                "endpoint": endpoint, "status_code": code,
                "duration_ms": round2(ms * (0.5 * normal(rng)).exp()),
                "api_key": raw_key, "cache_hit": cache,
            }));
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Index drawn with the given (not necessarily normalised) weights.
fn pick(rng: &mut StdRng, weights: impl Iterator<Item = f64> + Clone) -> usize {
    let total: f64 = weights.clone().sum();
    let mut x = rng.random_range(0.0..total);
    let mut last = 0;
    for (i, w) in weights.enumerate() {
        if x < w {
            return i;
        }
        x -= w;
        last = i;
    }
    last
}

/// A standard normal sample (Box–Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
}

/// A Poisson sample; normal approximation for large means.
fn poisson(rng: &mut StdRng, mean: f64) -> usize {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 50.0 {
        return (mean + mean.sqrt() * normal(rng)).round().max(0.0) as usize;
    }
    let limit = (-mean).exp();
    let mut product: f64 = rng.random();
    let mut count = 0;
    while product > limit {
        product *= rng.random::<f64>();
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_window_same_events() {
        let mut a = Traffic::new(7, 600.0);
        let mut b = Traffic::new(7, 600.0);
        let (mut ea, mut eb) = (Events::default(), Events::default());
        let t = 1_763_000_000_000 / HOUR_MS * HOUR_MS;
        a.generate(t, t + HOUR_MS, &mut ea, "x");
        b.generate(t, t + HOUR_MS, &mut eb, "x");
        assert!(!ea.executions.is_empty());
        assert_eq!(ea.executions, eb.executions);
        assert_eq!(
            ea.executions.len(),
            ea.pool.iter().filter(|p| p["kind"] != "exhausted").count()
        );
    }

    #[test]
    fn weekends_and_nights_are_quieter() {
        let traffic = Traffic::new(1, 1000.0);
        // 2026-11-18 is a Wednesday, 2026-11-21 a Saturday.
        let wednesday_15h = chrono::DateTime::parse_from_rfc3339("2026-11-18T15:00:00Z")
            .unwrap()
            .timestamp_millis();
        let wednesday_03h = wednesday_15h - 12 * HOUR_MS;
        let saturday_15h = wednesday_15h + 3 * 24 * HOUR_MS;
        assert!(traffic.rate_per_hour(wednesday_15h) > 3.0 * traffic.rate_per_hour(wednesday_03h));
        assert!(traffic.rate_per_hour(wednesday_15h) > 1.8 * traffic.rate_per_hour(saturday_15h));
    }

    #[test]
    fn generated_events_cover_every_language_and_status() {
        let mut traffic = Traffic::new(3, 20_000.0);
        let mut events = Events::default();
        let t = 1_763_000_000_000 / HOUR_MS * HOUR_MS;
        traffic.generate(t, t + HOUR_MS, &mut events, "y");
        for (language, ..) in LANGUAGES {
            assert!(
                events.executions.iter().any(|e| e["language"] == language),
                "{language}"
            );
        }
        for status in ["completed", "failed", "timeout", "error"] {
            assert!(
                events.executions.iter().any(|e| e["status"] == status),
                "{status}"
            );
        }
        assert!(
            events
                .executions
                .iter()
                .any(|e| e["container_source"] == "pool_miss")
        );
    }
}
