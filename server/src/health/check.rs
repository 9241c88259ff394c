//! Gathering the health score's inputs: the last five minutes of requests
//! and executions from the query layer, the latest host sample, and whether
//! the hot counters are current.

use super::{Health, HealthInputs, Thresholds, score};
use crate::{
    counters::Counters,
    model::time::MINUTE_MS,
    query::{self, QueryError, params::Filter},
    system::Latest,
};

/// Everything the health score reads; cheap to clone.
#[derive(Clone)]
pub struct HealthCheck {
    pub source: query::Source,
    pub system: Latest,
    pub counters: Counters,
    pub thresholds: Thresholds,
}

impl HealthCheck {
    /// The health score of the last five minutes.
    pub async fn assess(&self) -> Result<Health, QueryError> {
        let context = self.source.context();
        let now = context.now_ms;
        let filter = Filter::between(now - 5 * MINUTE_MS, now);
        let requests = query::requests(&context, &filter).await?;
        let summary = query::summary(&context, &filter).await?;
        let total: f64 = requests.endpoints.iter().map(|e| e.requests as f64).sum();
        let weighted: f64 = requests
            .endpoints
            .iter()
            .map(|e| e.avg_ms * e.requests as f64)
            .sum();
        let slowest = requests
            .endpoints
            .iter()
            .filter_map(|e| Some((format!("{} {}", e.method, e.endpoint), e.p95_ms? / 1000.0)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let sample = self
            .system
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let inputs = HealthInputs {
            avg_response_seconds: (total > 0.0).then(|| weighted / total / 1000.0),
            error_rate_percent: requests.error_rate,
            cpu_percent: sample.as_ref().map(|s| s.cpu_percent),
            memory_percent: sample.as_ref().map(|s| s.memory_percent),
            pool_hit_rate_percent: (summary.total_executions > 0).then_some(summary.pool_hit_rate),
            slowest_endpoint: slowest,
            counters_down: !self.counters.is_fresh(),
        };
        Ok(score(inputs, &self.thresholds))
    }
}
