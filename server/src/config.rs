//! Configuration from the environment, with a command-line flag for each
//! variable (`tally --help` lists them).

use std::{net::SocketAddr, path::PathBuf};

use clap::{ArgAction, Parser, builder::BoolishValueParser};
use secrecy::{ExposeSecret, SecretString};

use crate::telemetry::LogFormat;

#[derive(Clone, Debug, Parser)]
#[command(
    name = "tally",
    version,
    about = "Usage metrics and admin dashboard for API platforms",
    args_override_self = true
)]
pub struct Config {
    /// Address the HTTP server listens on.
    #[arg(long, env = "TALLY_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Key that unlocks the admin API and the dashboard. When unset, a random
    /// key is generated at start-up and printed once.
    #[arg(long, env = "MASTER_API_KEY", hide_env_values = true, value_parser = parse_secret)]
    pub master_api_key: Option<SecretString>,

    /// Key producers use to send events (the master key works too).
    #[arg(long, env = "INGEST_API_KEY", hide_env_values = true, value_parser = parse_secret)]
    pub ingest_api_key: Option<SecretString>,

    /// Keep events in the SQLite file. `false` keeps them in memory only
    /// (lost at exit): for trials, never for production.
    #[arg(long, env = "SQLITE_METRICS_ENABLED", default_value_t = true, value_parser = BoolishValueParser::new(), action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub sqlite_metrics_enabled: bool,

    /// Path of the SQLite database (created if missing).
    #[arg(
        long,
        env = "SQLITE_METRICS_DB_PATH",
        default_value = "data/metrics.db"
    )]
    pub sqlite_metrics_db_path: PathBuf,

    /// Keep per-event detail (session, user and entity ids; client IP and
    /// user agent). `false` stores only what the rollups and ids need.
    #[arg(long, env = "DETAILED_METRICS_ENABLED", default_value_t = true, value_parser = BoolishValueParser::new(), action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub detailed_metrics_enabled: bool,

    /// Events accepted but not yet committed; beyond it ingest answers 503.
    #[arg(long, env = "METRICS_BUFFER_SIZE", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub metrics_buffer_size: u32,

    /// Largest request body accepted by ingest, in bytes.
    #[arg(long, env = "TALLY_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Most events in one ingest request.
    #[arg(long, env = "TALLY_MAX_BATCH_EVENTS", default_value_t = 10_000)]
    pub max_batch_events: usize,

    /// How far ahead of the server clock an event's timestamp may be.
    #[arg(long, env = "TALLY_MAX_CLOCK_SKEW_SECONDS", default_value_t = 300)]
    pub max_clock_skew_seconds: u32,

    /// Days raw executions, requests and pool events (and hourly rollups)
    /// are kept. Also the oldest timestamp ingest accepts.
    #[arg(long, env = "METRICS_EXECUTION_RETENTION_DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub metrics_execution_retention_days: u32,

    /// Days daily rollups are kept.
    #[arg(long, env = "METRICS_DAILY_RETENTION_DAYS", default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub metrics_daily_retention_days: u32,

    /// Minutes between maintenance runs (retention, archive).
    #[arg(long, env = "METRICS_AGGREGATION_INTERVAL_MINUTES", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub metrics_aggregation_interval_minutes: u32,

    /// Write expired raw rows to compressed NDJSON files before deleting them.
    #[arg(long, env = "METRICS_ARCHIVE_ENABLED", default_value_t = true, value_parser = BoolishValueParser::new(), action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub metrics_archive_enabled: bool,

    /// Days archive files are kept.
    #[arg(long, env = "METRICS_ARCHIVE_RETENTION_DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub metrics_archive_retention_days: u32,

    /// Directory of the archive files.
    #[arg(long, env = "METRICS_ARCHIVE_DIR", default_value = "data/archive")]
    pub metrics_archive_dir: PathBuf,

    /// Redis for the hot counters (e.g. `redis://127.0.0.1:6379/0`). Unset:
    /// in-process counters.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key Tally writes.
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "tally")]
    pub redis_key_prefix: String,

    /// Longest wait for one Redis call, in milliseconds.
    #[arg(long, env = "REDIS_TIMEOUT_MS", default_value_t = 250)]
    pub redis_timeout_ms: u64,

    /// Who may read the public `/metrics*` endpoints: `true` (aggregates
    /// open, per-key data needs the master key), `all` or `false` (all
    /// need the master key).
    #[arg(long, env = "PUBLIC_METRICS", default_value = "true", value_parser = parse_public_metrics)]
    pub public_metrics: PublicMetrics,

    /// Most custom metric series (OTLP name × attributes) kept; a request
    /// that would create more is refused with 400.
    #[arg(long, env = "TALLY_MAX_METRIC_SERIES", default_value_t = 10_000)]
    pub max_metric_series: u32,

    /// Export Tally's own metrics over OTLP when an endpoint is set.
    #[arg(long, env = "ENABLE_TRACING", default_value_t = true, value_parser = BoolishValueParser::new(), action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub enable_tracing: bool,

    /// OTLP/HTTP endpoint for Tally's own metrics (`/v1/metrics` is appended
    /// to a base URL). Unset: no export.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otel_exporter_otlp_endpoint: Option<String>,

    /// Headers for the OTLP export, `key=value,key2=value2`.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_HEADERS", hide_env_values = true)]
    pub otel_exporter_otlp_headers: Option<String>,

    /// `service.name` of Tally's own metrics.
    #[arg(long, env = "TRACING_SERVICE_NAME", default_value = "tally")]
    pub tracing_service_name: String,

    /// Milliseconds between OTLP exports.
    #[arg(long, env = "TALLY_OTLP_EXPORT_INTERVAL_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..))]
    pub otlp_export_interval_ms: u64,

    /// Seconds between samples of the host's CPU, memory, disk and network.
    #[arg(long, env = "SYSTEM_METRICS_INTERVAL_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub system_metrics_interval_seconds: u64,

    /// Health: average API response time (s) above which it is "slow".
    #[arg(long, env = "HEALTH_SLOW_SECONDS", default_value_t = 1.0)]
    pub health_slow_seconds: f64,

    /// Health: 5xx rate (%) above which errors are "high".
    #[arg(long, env = "HEALTH_ERROR_RATE_PERCENT", default_value_t = 5.0)]
    pub health_error_rate_percent: f64,

    /// Health: CPU (%) above which it is "high".
    #[arg(long, env = "HEALTH_CPU_PERCENT", default_value_t = 80.0)]
    pub health_cpu_percent: f64,

    /// Health: memory (%) above which it is "high".
    #[arg(long, env = "HEALTH_MEMORY_PERCENT", default_value_t = 85.0)]
    pub health_memory_percent: f64,

    /// Health: pool hit rate (%) below which it is "low".
    #[arg(long, env = "HEALTH_POOL_HIT_RATE_PERCENT", default_value_t = 30.0)]
    pub health_pool_hit_rate_percent: f64,

    /// Alert rules and webhook targets (TOML). Default: `alerts.toml` next
    /// to the database. A missing file means no rules until one is saved.
    #[arg(long, env = "ALERT_RULES_FILE")]
    pub alert_rules_file: Option<PathBuf>,

    /// Seconds between evaluations of the alert rules.
    #[arg(long, env = "ALERT_EVAL_INTERVAL_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub alert_eval_interval_seconds: u64,

    /// Attempts per webhook message before it is given up.
    #[arg(long, env = "ALERT_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub alert_webhook_max_attempts: u32,

    /// Milliseconds before the first webhook retry; doubled per retry (at most 15 min).
    #[arg(long, env = "ALERT_WEBHOOK_BACKOFF_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub alert_webhook_backoff_ms: u64,

    /// Seconds one webhook attempt may take.
    #[arg(long, env = "ALERT_WEBHOOK_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    pub alert_webhook_timeout_seconds: u64,

    /// Signs every webhook message: `X-Tally-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    #[arg(long, env = "ALERT_WEBHOOK_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub alert_webhook_secret: Option<SecretString>,

    /// Memory for decoded rollups of closed days and hours (MiB): repeated
    /// views are added up from it instead of SQL.
    #[arg(long, env = "TALLY_QUERY_CACHE_MB", default_value_t = 128, value_parser = clap::value_parser!(u64).range(0..=65_536))]
    pub query_cache_mb: u64,

    /// Seconds a dashboard login lasts.
    #[arg(long, env = "TALLY_SESSION_TTL_SECONDS", default_value_t = 43_200, value_parser = clap::value_parser!(u64).range(1..=30 * 86_400))]
    pub session_ttl_seconds: u64,

    /// How long a database statement waits for a lock before giving up
    /// (ingest then answers 503 with Retry-After).
    #[arg(long, env = "TALLY_SQLITE_BUSY_TIMEOUT_MS", default_value_t = 5_000)]
    pub sqlite_busy_timeout_ms: u64,

    /// Cap on the database size, in 4 KiB pages (0: no cap). Beyond it
    /// ingest answers 503 "out of disk space", as on a full disk.
    #[arg(long, env = "TALLY_SQLITE_MAX_PAGES", default_value_t = 0)]
    pub sqlite_max_pages: u64,

    /// SQLite page cache of the ingest writer (MiB): the working set of the
    /// idempotency index, whose pages an insert touches at random.
    #[arg(long, env = "TALLY_SQLITE_INGEST_CACHE_MB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub sqlite_ingest_cache_mb: u64,

    /// When a commit is durable: `full` (the default) syncs every commit to
    /// disk, so an acknowledged event survives a power loss; `normal` syncs
    /// at checkpoints only: it survives a crash of Tally, not of the machine.
    /// The group commit already shares one sync among every request waiting,
    /// so the gain is modest (single-event requests ~1.3× in BENCHMARKS.md).
    #[arg(long, env = "TALLY_SQLITE_SYNCHRONOUS", default_value = "full", value_parser = ["full", "normal"])]
    pub sqlite_synchronous: String,

    /// Demo mode: send simulated traffic (90 days of history, then live
    /// events) through this server's own ingest API.
    #[arg(long, env = "TALLY_DEMO", default_value_t = false, value_parser = BoolishValueParser::new(), action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub demo: bool,

    /// Directory with the built dashboard (`trunk build --release` output).
    #[arg(long, env = "TALLY_ASSETS_DIR", default_value = "dist")]
    pub assets_dir: PathBuf,

    /// Log output: `text` or `json`.
    #[arg(long, env = "TALLY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Who may read the public metrics endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicMetrics {
    /// Every `/metrics*` endpoint is open, per-key ones too.
    All,
    /// Aggregates are open; per-key data needs the master key.
    Aggregate,
    /// Everything needs the master key.
    Closed,
}

fn parse_public_metrics(value: &str) -> Result<PublicMetrics, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "all" => Ok(PublicMetrics::All),
        "true" | "yes" | "1" | "aggregate" => Ok(PublicMetrics::Aggregate),
        "false" | "no" | "0" | "none" => Ok(PublicMetrics::Closed),
        _ => Err("use true (aggregates open), all, or false".to_owned()),
    }
}

fn parse_secret(value: &str) -> Result<SecretString, String> {
    if value.trim().is_empty() {
        return Err("must not be empty".to_owned());
    }
    Ok(SecretString::from(value.to_owned()))
}

impl Config {
    /// Returns the configured master key, or generates a random one, which
    /// the caller must show to the operator (it is the only way in).
    pub fn master_key_or_generate(&self) -> (SecretString, bool) {
        match &self.master_api_key {
            Some(key) => (key.clone(), false),
            None => {
                let bytes: [u8; 24] = rand::random();
                (SecretString::from(hex::encode(bytes)), true)
            }
        }
    }
}

/// Compares a presented key with the master key in constant time.
pub fn key_matches(presented: &str, master: &SecretString) -> bool {
    use subtle::ConstantTimeEq;
    let master = master.expose_secret().as_bytes();
    let presented = presented.as_bytes();
    // `ct_eq` on slices of different lengths returns false without a data-dependent branch.
    bool::from(presented.ct_eq(master))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_comparison_accepts_only_the_exact_key() {
        let master = SecretString::from("s3cret-key".to_owned());
        assert!(key_matches("s3cret-key", &master));
        assert!(!key_matches("s3cret-kez", &master));
        assert!(!key_matches("s3cret", &master));
        assert!(!key_matches("", &master));
    }

    #[test]
    fn generated_keys_are_random_and_long() {
        let config = Config::parse_from(["tally"]);
        let (a, generated) = config.master_key_or_generate();
        let (b, _) = config.master_key_or_generate();
        assert!(generated);
        assert_eq!(a.expose_secret().len(), 48);
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn empty_master_key_is_rejected() {
        let error = Config::try_parse_from(["tally", "--master-api-key", " "]).unwrap_err();
        assert!(error.to_string().contains("must not be empty"), "{error}");
    }

    #[test]
    fn defaults_follow_the_design() {
        let c = Config::parse_from(["tally"]);
        assert!(
            c.detailed_metrics_enabled && c.sqlite_metrics_enabled && c.metrics_archive_enabled
        );
        assert_eq!(c.metrics_buffer_size, 10_000);
        assert_eq!(c.metrics_execution_retention_days, 90);
        assert_eq!(c.metrics_daily_retention_days, 365);
        assert_eq!(c.metrics_aggregation_interval_minutes, 60);
        assert_eq!(c.metrics_archive_retention_days, 90);
        assert_eq!(c.sqlite_metrics_db_path, PathBuf::from("data/metrics.db"));
        assert_eq!(c.redis_url, None);
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn booleans_accept_the_usual_spellings() {
        let c = Config::parse_from([
            "tally",
            "--detailed-metrics-enabled",
            "false",
            "--demo",
            "yes",
        ]);
        assert!(!c.detailed_metrics_enabled);
        assert!(c.demo);
    }

    #[test]
    fn debug_output_hides_the_master_key() {
        let config = Config::parse_from(["tally", "--master-api-key", "do-not-print-me"]);
        assert!(!format!("{config:?}").contains("do-not-print-me"));
    }
}
