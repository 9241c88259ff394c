//! State shared by every handler and server function.

use std::{sync::Arc, time::Instant};

use secrecy::SecretString;

use crate::{config::Config, counters::Counters, ingest::writer::Writer, storage::Storage};

/// Handlers, guards and middleware each take a copy per request, so a copy
/// is one reference count: the parts live behind one [`Arc`].
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What every handler shares.
pub struct Shared {
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

impl Shared {
    /// Where the query layer reads from, with the configured retention.
    pub fn query_source(&self) -> crate::query::Source {
        crate::query::Source {
            storage: self.storage.clone(),
            execution_retention_days: self.config.metrics_execution_retention_days,
            daily_retention_days: self.config.metrics_daily_retention_days,
        }
    }

    /// What the query layer needs, as of now.
    pub fn query_context(&self) -> crate::query::Context {
        self.query_source().context()
    }

    /// What the health score reads.
    pub fn health_check(&self) -> crate::health::HealthCheck {
        let config = &self.config;
        crate::health::HealthCheck {
            source: self.query_source(),
            system: self.system.clone(),
            counters: self.counters.clone(),
            thresholds: crate::health::Thresholds {
                slow_seconds: config.health_slow_seconds,
                error_rate_percent: config.health_error_rate_percent,
                cpu_percent: config.health_cpu_percent,
                memory_percent: config.health_memory_percent,
                pool_hit_rate_percent: config.health_pool_hit_rate_percent,
            },
        }
    }
}
