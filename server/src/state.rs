//! State shared by every handler and server function.

use std::{sync::Arc, time::Instant};

use secrecy::SecretString;

use crate::{config::Config, counters::Counters, ingest::writer::Writer, storage::Storage};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub storage: Storage,
    pub writer: Writer,
    pub counters: Counters,
    pub sessions: Arc<crate::sessions::Sessions>,
    /// Tally's own metrics (exported over OTLP and to Prometheus).
    pub self_metrics: Arc<crate::self_metrics::SelfMetrics>,
    /// The latest sample of the host (CPU, memory, disk, network).
    pub system: crate::system::Latest,
    /// Alert rules in force and their file.
    pub alerts: crate::alerts::AlertRules,
    /// Sends webhook messages (the outbox, and test messages).
    pub webhooks: crate::alerts::webhooks::Sender,
    /// The master key in force (configured or generated at start-up).
    pub master_key: SecretString,
    pub started_at: Instant,
}

impl AppState {
    /// What the query layer needs, as of now.
    pub fn query_context(&self) -> crate::query::Context {
        let now_ms = crate::clock::now_ms();
        let day_ms = 86_400_000;
        crate::query::Context {
            storage: self.storage.clone(),
            now_ms,
            detail_oldest_ms: now_ms
                - i64::from(self.config.metrics_execution_retention_days) * day_ms,
            daily_oldest_ms: now_ms - i64::from(self.config.metrics_daily_retention_days) * day_ms,
        }
    }

    /// Process figures for the Prometheus export and `/metrics`.
    pub fn gauges(&self) -> crate::export::prometheus::Gauges {
        crate::export::prometheus::Gauges {
            version: env!("CARGO_PKG_VERSION"),
            uptime_seconds: self.started_at.elapsed().as_secs_f64(),
            buffered_events: self.writer.buffered(),
            buffer_capacity: self.writer.capacity(),
            counters_backend: self.counters.backend(),
            counters_fresh: self.counters.is_fresh(),
            readings: self.self_metrics.readings(self.writer.buffered()),
            system: self
                .system
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            health_score: None,
            open_incidents: None,
        }
    }

    /// The health score of the last five minutes.
    pub async fn health(&self) -> Result<crate::health::Health, crate::query::QueryError> {
        let context = self.query_context();
        let now = context.now_ms;
        let query = app::types::MetricsQuery {
            // Up to now: no end date (a formatted one drops the milliseconds).
            start_date: Some(crate::query::params::format_date(now - 5 * 60_000)),
            ..Default::default()
        };
        let filter = context.filter(&query)?;
        let requests = crate::query::requests(&context, &filter).await?;
        let summary = crate::query::summary(&context, &filter).await?;
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
        let config = &self.config;
        let thresholds = crate::health::Thresholds {
            slow_seconds: config.health_slow_seconds,
            error_rate_percent: config.health_error_rate_percent,
            cpu_percent: config.health_cpu_percent,
            memory_percent: config.health_memory_percent,
            pool_hit_rate_percent: config.health_pool_hit_rate_percent,
        };
        let inputs = crate::health::HealthInputs {
            avg_response_seconds: (total > 0.0).then(|| weighted / total / 1000.0),
            error_rate_percent: requests.error_rate,
            cpu_percent: sample.as_ref().map(|s| s.cpu_percent),
            memory_percent: sample.as_ref().map(|s| s.memory_percent),
            pool_hit_rate_percent: (summary.total_executions > 0).then_some(summary.pool_hit_rate),
            slowest_endpoint: slowest,
            counters_down: !self.counters.is_fresh(),
        };
        Ok(crate::health::score(inputs, &thresholds))
    }
}
