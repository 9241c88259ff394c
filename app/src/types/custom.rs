//! Custom metrics received over OTLP.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
