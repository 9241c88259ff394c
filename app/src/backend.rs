//! The interface the server functions call. The server crate implements it
//! over its query layer and provides it as Leptos context, so the SQL and
//! Redis code stays in the server and the dashboard never depends on them.

use std::sync::Arc;

use crate::types::{
    ApiKeyUsage, Heatmap, Languages, LiveCounters, MetricsQuery, PoolStats, RequestStats,
    ServerStatus, Summary, TimeSeries, TopLanguages,
};

/// An error the backend reports to a server function. Its message is shown
/// to the dashboard user, so it never carries database text.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{0}")]
    BadRequest(String),
    #[error("not logged in")]
    Unauthorized,
    #[error("{0}")]
    Unavailable(String),
    #[error("the server could not answer; see its log")]
    Internal,
}

/// Who is calling, as the server established it from the request (master
/// key or dashboard session). Provided as context next to the backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    pub is_admin: bool,
}

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    async fn status(&self) -> Result<ServerStatus, BackendError>;
    async fn summary(&self, query: &MetricsQuery) -> Result<Summary, BackendError>;
    async fn languages(&self, query: &MetricsQuery) -> Result<Languages, BackendError>;
    async fn time_series(&self, query: &MetricsQuery) -> Result<TimeSeries, BackendError>;
    async fn heatmap(&self, query: &MetricsQuery) -> Result<Heatmap, BackendError>;
    async fn api_keys(&self, query: &MetricsQuery) -> Result<Vec<ApiKeyUsage>, BackendError>;
    async fn top_languages(&self, query: &MetricsQuery) -> Result<TopLanguages, BackendError>;
    async fn requests(&self, query: &MetricsQuery) -> Result<RequestStats, BackendError>;
    async fn pool(&self, query: &MetricsQuery) -> Result<PoolStats, BackendError>;
    async fn live(&self) -> Result<LiveCounters, BackendError>;
}

/// How the backend is provided as context to server functions.
pub type SharedBackend = Arc<dyn Backend>;
