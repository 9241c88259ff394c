//! The health score and the host's own metrics.

use serde::{Deserialize, Serialize};

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
