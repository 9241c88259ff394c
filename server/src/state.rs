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
        }
    }
}
