//! Types exchanged between the dashboard and the server, and returned by the
//! REST API. Field names of the reference platform's responses are kept;
//! Tally's additions are extra fields, never renames.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the server says about itself: shown in the dashboard footer and
/// used by health checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServerStatus {
    /// Version of the running server binary.
    pub version: String,
    /// Seconds since the server started.
    pub uptime_seconds: u64,
    /// Where the hot counters live: `"redis"` or `"in-process"`.
    pub counters: String,
}

/// Query parameters of every admin view, as they arrive (strings are
/// checked by the server, which answers 400 naming the bad one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct MetricsQuery {
    /// `hour`, `day`, `week`, `month`, `quarter` or `year` back from now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    /// Start of a custom range (`YYYY-MM-DD` in `tz`, or RFC 3339);
    /// overrides `period`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// End of a custom range; a date includes that whole day. Default: now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// One or more API keys (16-hex prefixes or 64-hex hashes), comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_hash: Option<String>,
    /// One or more tenants, comma-separated: their keys, added up (with
    /// `api_key_hash` too: only the listed keys of these tenants).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// One or more languages, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// IANA time zone for day buckets and the heatmap. Default `UTC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// `previous`: also return the figures of the preceding period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<String>,
    /// Languages view: also break down by API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_by_api_key: Option<bool>,
    /// Top-languages view: how many (1–20, default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Time-series view: `minute`, `hour` or `day` instead of the automatic choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<String>,
}

/// `GET /api/v1/admin/metrics/summary`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Summary {
    pub total_executions: u64,
    /// Executions with status `completed`.
    pub success_count: u64,
    /// Executions with status `failed` or `error`.
    pub failure_count: u64,
    pub timeout_count: u64,
    /// Percent of executions that completed.
    pub success_rate: f64,
    pub avg_execution_time_ms: f64,
    /// Percent of executions with a known container source served from the pool.
    pub pool_hit_rate: f64,
    pub active_api_keys: u64,
    pub period: String,
    pub start_date: String,
    pub end_date: String,
    // Tally's additions.
    pub failed_count: u64,
    pub error_count: u64,
    pub p50_execution_time_ms: Option<f64>,
    pub p95_execution_time_ms: Option<f64>,
    pub p99_execution_time_ms: Option<f64>,
    /// Bound on the relative error of the percentiles (read from histograms).
    pub percentile_relative_error: f64,
    pub max_execution_time_ms: f64,
    pub total_cpu_time_ms: f64,
    /// Peak memory × run time, summed: MB·s.
    pub total_memory_mb_seconds: f64,
    pub avg_memory_peak_mb: f64,
    pub max_memory_peak_mb: f64,
    pub files_uploaded: u64,
    pub files_generated: u64,
    pub output_bytes: u64,
    pub avg_queue_wait_ms: f64,
    pub timezone: String,
    /// The same figures for the preceding period of equal length (`compare=previous`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(no_recursion))]
    pub previous: Option<Box<Summary>>,
}

/// `GET /api/v1/admin/metrics/languages`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Languages {
    pub by_language: BTreeMap<String, u64>,
    /// With `stack_by_api_key=true`: executions per key (16-hex prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_api_key: Option<BTreeMap<String, u64>>,
    /// With `stack_by_api_key=true`: language → key → executions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<BTreeMap<String, BTreeMap<String, u64>>>,
    pub period: String,
    pub start_date: String,
    pub end_date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<BTreeMap<String, u64>>,
}

/// `GET /api/v1/admin/metrics/time-series`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TimeSeries {
    /// Bucket starts, RFC 3339 in the requested time zone.
    pub timestamps: Vec<String>,
    pub executions: Vec<u64>,
    /// Percent completed per bucket (0 for empty buckets).
    pub success_rate: Vec<f64>,
    /// Average execution time per bucket, ms (0 for empty buckets).
    pub avg_duration: Vec<f64>,
    /// `minute`, `hour` or `day`.
    pub granularity: String,
    // Tally's additions.
    /// Executions not completed (failed, timeout, error) per bucket.
    pub errors: Vec<u64>,
    /// 95th percentile of execution time per bucket, ms (null when empty).
    pub p95_duration: Vec<Option<f64>>,
    pub period: String,
    pub start_date: String,
    pub end_date: String,
    pub timezone: String,
    /// The preceding period, bucket by bucket (`compare=previous`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(no_recursion))]
    pub previous: Option<Box<TimeSeries>>,
}

/// `GET /api/v1/admin/metrics/heatmap`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Heatmap {
    /// 7 rows (Monday first) × 24 hours of executions, in `timezone`.
    pub matrix: Vec<Vec<u64>>,
    pub max_value: u64,
    pub days: Vec<String>,
    pub hours: Vec<u32>,
    pub period: String,
    pub start_date: String,
    pub end_date: String,
    pub timezone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Vec<Vec<u64>>>,
}

/// One row of `GET /api/v1/admin/metrics/api-keys`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiKeyUsage {
    /// First 16 hex characters of the key's SHA-256.
    pub key_hash: String,
    pub name: Option<String>,
    /// Tenant the key belongs to.
    #[serde(default)]
    pub tenant: Option<String>,
    /// What to show for the key: its name, or the hash prefix.
    pub key_prefix: String,
    /// Executions in the period.
    pub usage_count: u64,
    /// `events` (seen in traffic) or `admin` (only named so far).
    pub source: String,
    // Tally's additions: resource consumption in the period.
    pub success_count: u64,
    pub error_count: u64,
    pub cpu_time_ms: f64,
    pub memory_mb_seconds: f64,
    pub execution_time_ms: f64,
    pub files_uploaded: u64,
    pub files_generated: u64,
    pub output_bytes: u64,
    pub api_requests: u64,
}

/// `GET /api/v1/admin/metrics/top-languages`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TopLanguages {
    pub languages: Vec<LanguageCount>,
    pub period: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Vec<LanguageCount>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LanguageCount {
    pub language: String,
    pub count: u64,
}

/// `GET /api/v1/admin/metrics/requests`: API requests by endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RequestStats {
    pub total_requests: u64,
    /// Requests per second over the period.
    pub requests_per_second: f64,
    /// Percent of requests answered 5xx.
    pub error_rate: f64,
    /// Percent of requests answered 4xx.
    pub client_error_rate: f64,
    pub cache_hit_rate: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub status_classes: BTreeMap<String, u64>,
    pub endpoints: Vec<EndpointStats>,
    pub period: String,
    pub start_date: String,
    pub end_date: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EndpointStats {
    pub endpoint: String,
    pub method: String,
    pub requests: u64,
    pub requests_per_second: f64,
    pub error_rate: f64,
    pub errors_5xx: u64,
    pub errors_4xx: u64,
    pub avg_ms: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: f64,
}

/// `GET /api/v1/admin/metrics/pool`: the container pool and cold starts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PoolStats {
    /// Percent of pool events that were hits.
    pub hit_rate: f64,
    pub hits: u64,
    /// Misses: each is a cold start.
    pub cold_starts: u64,
    pub exhausted: u64,
    pub avg_acquire_ms_hit: f64,
    pub avg_acquire_ms_miss: f64,
    /// Execution time split by container source, per language.
    pub cold_start_cost: Vec<ColdStartCost>,
    pub period: String,
    pub start_date: String,
    pub end_date: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ColdStartCost {
    pub language: String,
    pub pool_hit_executions: u64,
    pub pool_miss_executions: u64,
    pub avg_ms_pool_hit: f64,
    pub avg_ms_pool_miss: f64,
    /// `avg_ms_pool_miss − avg_ms_pool_hit`: what a cold start costs.
    pub cold_start_penalty_ms: f64,
}

/// Hot counters of one window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WindowCounts {
    pub executions: i64,
    pub errors: i64,
    pub time_ms: i64,
    pub by_language: BTreeMap<String, i64>,
    pub by_key: BTreeMap<String, i64>,
    pub by_status: BTreeMap<String, i64>,
}

/// `GET /api/v1/admin/metrics/live`: the hot counters (UTC windows).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LiveCounters {
    /// `redis` or `in-process`.
    pub backend: String,
    /// False while the counters are being rebuilt or unreachable.
    pub fresh: bool,
    pub this_minute: WindowCounts,
    pub last_minute: WindowCounts,
    pub this_hour: WindowCounts,
    pub today: WindowCounts,
}

/// Per-language execution statistics (`GET /metrics/by-language`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LanguageStats {
    pub language: String,
    pub executions: u64,
    pub success_count: u64,
    pub failure_count: u64,
    pub timeout_count: u64,
    /// Percent of executions that did not complete.
    pub error_rate: f64,
    pub avg_execution_time_ms: f64,
    pub p95_execution_time_ms: Option<f64>,
    pub avg_memory_peak_mb: f64,
}

/// A custom metric received over OTLP (`GET /api/v1/admin/metrics/custom`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CustomMetric {
    pub name: String,
    /// `sum`, `gauge`, `histogram` or `summary`.
    pub kind: String,
    pub unit: String,
    pub series: i64,
    pub points: i64,
    pub attribute_keys: Vec<String>,
}

/// One series of a custom metric with its points.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CustomSeries {
    pub attributes: BTreeMap<String, String>,
    pub kind: String,
    pub monotonic: bool,
    pub points: Vec<CustomPoint>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CustomPoint {
    pub ts_ms: i64,
    /// Number points: the value; histograms and summaries: the sum.
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounds: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Vec<u64>>,
}

/// The four 25-point factors of the health score.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HealthFactors {
    pub response_time: u32,
    pub error_rate: u32,
    pub cpu_usage: u32,
    pub memory_usage: u32,
}

/// The health score of the last five minutes, as the dashboard shows it
/// (`GET /api/v1/admin/health` adds its inputs and the host sample).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HealthReport {
    /// 0–100.
    pub overall_score: u32,
    /// `excellent`, `good`, `fair`, `poor` or `critical`.
    pub status: String,
    pub factors: HealthFactors,
    pub recommendations: Vec<String>,
}

/// `GET /api/v1/admin/alerts/rules`: the rules file and what is in force.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertRulesDoc {
    /// Where the file lives on the server.
    pub path: String,
    /// The file's text (TOML), as last loaded or saved.
    pub text: String,
    /// Names this text: send it back when saving (`If-Match`) so an edit
    /// made meanwhile (in the file or another browser) is not overwritten.
    pub version: String,
    /// Set when the file on disk was changed and does not parse: the rules
    /// in force are still the previous ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_error: Option<String>,
    pub rules: Vec<AlertRuleSummary>,
    /// Number of webhook targets (the URLs stay in the text).
    pub webhooks: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertRuleSummary {
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    pub cooldown_seconds: u64,
}

/// One alert incident, newest first in `GET /api/v1/admin/alerts/history`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertIncident {
    pub id: i64,
    pub rule: String,
    pub kind: String,
    /// The key's 16-hex prefix for key rules.
    pub subject: Option<String>,
    /// `firing` or `resolved`.
    pub status: String,
    /// The latest reading while firing (the last one when resolved).
    pub value: f64,
    pub threshold: f64,
    pub message: String,
    pub started_at: String,
    pub resolved_at: Option<String>,
    pub deliveries: Vec<AlertDelivery>,
}

/// One webhook message of an incident.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertDelivery {
    /// `firing` or `resolved`.
    pub event: String,
    /// The target's host (the full URL may hold a token).
    pub target: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
}

/// `GET /api/v1/admin/system?range=`: the host's metrics over a range,
/// averaged per bucket (network as bytes per second).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SystemView {
    /// `1h`, `6h`, `24h` or `7d`.
    pub range: String,
    pub bucket_seconds: u64,
    pub series: Vec<SystemSeries>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SystemSeries {
    /// The stored metric, e.g. `system.cpu.utilization`.
    pub metric: String,
    /// `%`, `MiB`, `B/s` or `connections`.
    pub unit: String,
    pub points: Vec<SystemPoint>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SystemPoint {
    /// Bucket start, unix ms.
    pub ts_ms: i64,
    pub value: f64,
}

/// `POST /api/v1/admin/alerts/test`: one test message per webhook target.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookTest {
    /// The target's host.
    pub target: String,
    pub delivered: bool,
    /// `answered 200 OK`, `could not connect`, …
    pub detail: String,
}
