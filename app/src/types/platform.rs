//! How the platform behaves: API requests, the container pool, live counters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
