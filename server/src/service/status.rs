//! How the instance is doing: the health score, the process gauges of the
//! Prometheus export and `/metrics`, and the exposition itself.

use app::error::AppError;
use serde::Serialize;

use crate::{
    export::prometheus, health::Health, ingest::writer::WriteError, state::AppState,
    system::SystemSample,
};

/// The health score of the last five minutes and the latest host sample.
#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthWithHost {
    #[serde(flatten)]
    pub health: Health,
    pub system: Option<SystemSample>,
}

impl AppState {
    /// The health score of the last five minutes.
    pub async fn health(&self) -> Result<Health, AppError> {
        Ok(self.health_check().assess().await?)
    }

    /// The health score with what the host looks like now.
    pub async fn health_with_host(&self) -> Result<HealthWithHost, AppError> {
        Ok(HealthWithHost {
            health: self.health().await?,
            system: self.latest_system_sample(),
        })
    }

    fn latest_system_sample(&self) -> Option<SystemSample> {
        self.system
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether the process can do its work: the database answers and the
    /// last commit (if one failed since the last success) did not fail for
    /// want of disk or database. A busy database or a full buffer pass.
    pub async fn readiness(&self) -> Result<(), String> {
        if let Err(error) = self.storage.ping().await {
            tracing::warn!(%error, "Readiness check: database unavailable.");
            return Err("the database is unavailable".to_owned());
        }
        match self.writer.last_failure() {
            Some(failure @ (WriteError::DiskFull | WriteError::ReadOnly | WriteError::Storage)) => {
                Err(format!("the last commit failed: {failure}"))
            }
            _ => Ok(()),
        }
    }

    /// Process figures for the Prometheus export and `/metrics`.
    pub fn gauges(&self) -> prometheus::Gauges {
        prometheus::Gauges {
            version: env!("CARGO_PKG_VERSION"),
            uptime_seconds: self.started_at.elapsed().as_secs_f64(),
            buffered_events: self.writer.buffered(),
            buffer_capacity: self.writer.capacity(),
            counters_backend: self.counters.backend(),
            counters_fresh: self.counters.is_fresh(),
            query_cache_bytes: self.storage.cache_bytes(),
            readings: self.self_metrics.readings(self.writer.buffered()),
            system: self.latest_system_sample(),
            health_score: None,
            open_incidents: None,
        }
    }

    /// The Prometheus text exposition of the whole instance. The health
    /// score and open incidents are left out if they cannot be read.
    pub async fn prometheus_text(&self) -> Result<String, AppError> {
        let mut gauges = self.gauges();
        gauges.health_score = self.health().await.ok().map(|h| h.overall_score);
        gauges.open_incidents = self.storage.open_incidents().await.ok().map(|i| i.len());
        prometheus::render(&self.storage, &gauges)
            .await
            .map_err(super::storage)
    }
}
