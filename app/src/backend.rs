//! The interface the server functions call. The server crate implements it
//! over its query layer and provides it as Leptos context, so the SQL and
//! Redis code stays in the server and the dashboard never depends on them.

use std::sync::Arc;

use crate::error::AppError;
use crate::types::{
    AlertIncident, AlertRulesDoc, ApiKeyUsage, CustomMetric, CustomSeries, HealthReport, Heatmap,
    Languages, LiveCounters, MetricsQuery, PoolStats, RequestStats, ServerStatus, Summary,
    SystemView, TimeSeries, TopLanguages, WebhookTest,
};

/// Who is calling, as the server established it from the request (master
/// key or dashboard session). Provided as context next to the backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    pub is_admin: bool,
}

/// What the server knows about the request a server function answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// The session cookie's token, if any.
    pub session_token: Option<String>,
    pub client_ip: Option<std::net::IpAddr>,
    /// Served over HTTPS (directly or behind a proxy saying so).
    pub https: bool,
}

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Checks the master key (throttled per client) and starts a session;
    /// returns the `Set-Cookie` header value.
    async fn login(&self, key: &str, request: &RequestInfo) -> Result<String, AppError>;
    /// Ends the request's session; returns the `Set-Cookie` value that clears it.
    async fn logout(&self, request: &RequestInfo) -> String;
    async fn status(&self) -> Result<ServerStatus, AppError>;
    async fn summary(&self, query: &MetricsQuery) -> Result<Summary, AppError>;
    async fn languages(&self, query: &MetricsQuery) -> Result<Languages, AppError>;
    async fn time_series(&self, query: &MetricsQuery) -> Result<TimeSeries, AppError>;
    async fn heatmap(&self, query: &MetricsQuery) -> Result<Heatmap, AppError>;
    async fn api_keys(&self, query: &MetricsQuery) -> Result<Vec<ApiKeyUsage>, AppError>;
    async fn top_languages(&self, query: &MetricsQuery) -> Result<TopLanguages, AppError>;
    async fn requests(&self, query: &MetricsQuery) -> Result<RequestStats, AppError>;
    async fn pool(&self, query: &MetricsQuery) -> Result<PoolStats, AppError>;
    async fn live(&self) -> Result<LiveCounters, AppError>;
    /// The health score of the last five minutes.
    async fn health_report(&self) -> Result<HealthReport, AppError>;
    /// Puts the key (64-hex hash, or the 16-hex prefix of one known key)
    /// into `tenant`, or out of its tenant with `None`; returns its prefix.
    async fn set_key_tenant(&self, key: &str, tenant: Option<&str>) -> Result<String, AppError>;
    /// The host's metrics over `range` (`1h`, `6h`, `24h` or `7d`).
    async fn system(&self, range: &str) -> Result<SystemView, AppError>;
    /// The alert rules file and the rules in force.
    async fn alert_rules(&self) -> Result<AlertRulesDoc, AppError>;
    /// Checks and saves a new rules file; it is in force from the next tick.
    /// With `base_version`, refuses (conflict) when the rules in force are no
    /// longer the ones that version names.
    async fn save_alert_rules(
        &self,
        text: &str,
        base_version: Option<&str>,
    ) -> Result<AlertRulesDoc, AppError>;
    /// Sends one test message to every webhook target now (not through the
    /// outbox: no retries, no incident).
    async fn test_webhooks(&self) -> Result<Vec<WebhookTest>, AppError>;
    /// The latest `limit` incidents (1–500), newest first.
    async fn alert_history(&self, limit: u32) -> Result<Vec<AlertIncident>, AppError>;
    async fn custom_metrics(&self) -> Result<Vec<CustomMetric>, AppError>;
    /// The series of `name` whose attributes include every `key:value` of
    /// `attributes`, with their points in the query's range.
    async fn custom_series(
        &self,
        name: &str,
        query: &MetricsQuery,
        attributes: &[(String, String)],
    ) -> Result<Vec<CustomSeries>, AppError>;
}

/// How the backend is provided as context to server functions.
pub type SharedBackend = Arc<dyn Backend>;
