//! Custom metrics received over OTLP: the catalog, the points of a metric's
//! series and their hourly or daily rollups.

use std::collections::BTreeMap;

use app::{
    error::AppError,
    types::{CustomMetric, CustomSeries},
};

use crate::{
    model::time::{DAY_MS, HOUR_MS},
    query::{params::TimeRange, plan::floor_to},
    state::AppState,
};

impl AppState {
    /// Every custom metric, with its series and point counts.
    pub async fn custom_catalog(&self) -> Result<Vec<CustomMetric>, AppError> {
        self.storage.metric_catalog().await.map_err(super::storage)
    }

    /// The series of `name` whose attributes include every one of
    /// `attributes`, with at most `max_points` points each in `range`.
    pub async fn custom_points(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        range: &TimeRange,
        max_points: i64,
    ) -> Result<Vec<CustomSeries>, AppError> {
        self.storage
            .metric_points(name, attributes, range.from_ms, range.to_ms, max_points)
            .await
            .map_err(super::storage)
    }

    /// Hourly (or `daily`) rollups of those series over `range`, from the
    /// start of its first bucket.
    pub async fn custom_rollups(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        daily: bool,
        range: &TimeRange,
    ) -> Result<Vec<serde_json::Value>, AppError> {
        let from = floor_to(range.from_ms, if daily { DAY_MS } else { HOUR_MS });
        self.storage
            .metric_rollups(name, attributes, daily, from, range.to_ms)
            .await
            .map_err(super::storage)
    }
}
