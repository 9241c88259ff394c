//! The Prometheus text exposition format (version 0.0.4).
//!
//! Counters come from the all-time rollups, so they only ever go up (also
//! across restarts and retention runs). Durations are `_seconds` histograms
//! with one bucket per octave of the stored histogram. Label cardinality is
//! bounded: the [`TOP_KEYS`] most used API keys keep their own label, the
//! rest are `api_key="other"`; likewise for endpoints.

mod process;
mod series;
mod text;

use crate::storage::Storage;

/// API keys with a label of their own; the rest are `other`.
pub const TOP_KEYS: usize = 10;
/// Endpoints with a label of their own; the rest are `other`.
pub const TOP_ENDPOINTS: usize = 30;

/// Process figures exported as gauges.
#[derive(Clone, Debug, Default)]
pub struct Gauges {
    pub version: &'static str,
    pub uptime_seconds: f64,
    pub buffered_events: usize,
    pub buffer_capacity: usize,
    pub counters_backend: &'static str,
    pub counters_fresh: bool,
    /// Bytes held by the query layer's cache of decoded rollups.
    pub query_cache_bytes: usize,
    /// Tally's own metrics.
    pub readings: Vec<crate::self_metrics::Reading>,
    /// The latest sample of the host.
    pub system: Option<crate::system::SystemSample>,
    /// The health score, when it was computed for this export.
    pub health_score: Option<u32>,
    /// Alert incidents not resolved yet, when counted for this export.
    pub open_incidents: Option<usize>,
}

pub async fn render(storage: &Storage, gauges: &Gauges) -> Result<String, sqlx::Error> {
    let mut out = String::with_capacity(16 * 1024);
    series::data(storage, &mut out).await?;
    process::gauges(&mut out, gauges);
    Ok(out)
}
