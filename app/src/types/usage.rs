//! What was used: executions by time, language, key and hour.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
