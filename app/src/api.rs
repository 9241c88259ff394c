//! Server functions called by the dashboard. Each body checks the caller
//! and hands the work to the [`Backend`](crate::backend::Backend) in
//! context, which runs the same query layer as the REST API.

use leptos::prelude::*;

use crate::types::{
    ApiKeyUsage, Heatmap, Languages, LiveCounters, MetricsQuery, PoolStats, RequestStats,
    ServerStatus, Summary, TimeSeries, TopLanguages,
};

/// All server functions live under this prefix, apart from the REST API.
pub const SERVER_FN_PREFIX: &str = "/api/fn";

#[cfg(feature = "ssr")]
fn backend() -> Result<crate::backend::SharedBackend, ServerFnError> {
    use_context::<crate::backend::SharedBackend>()
        .ok_or_else(|| ServerFnError::new("server misconfigured: no backend in context"))
}

/// The backend, for admin callers only; others get a 401.
#[cfg(feature = "ssr")]
fn admin_backend() -> Result<crate::backend::SharedBackend, ServerFnError> {
    let caller = use_context::<crate::backend::Caller>().unwrap_or_default();
    if !caller.is_admin {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::UNAUTHORIZED);
        }
        return Err(ServerFnError::new(
            crate::backend::BackendError::Unauthorized.to_string(),
        ));
    }
    backend()
}

#[cfg(feature = "ssr")]
fn to_server_error(error: crate::backend::BackendError) -> ServerFnError {
    ServerFnError::new(error.to_string())
}

/// Version, uptime and counter backend of the server. Open to anyone.
#[server(prefix = "/api/fn")]
pub async fn get_server_status() -> Result<ServerStatus, ServerFnError> {
    backend()?.status().await.map_err(to_server_error)
}

#[server(prefix = "/api/fn")]
pub async fn get_summary(query: MetricsQuery) -> Result<Summary, ServerFnError> {
    admin_backend()?
        .summary(&query)
        .await
        .map_err(to_server_error)
}

#[server(prefix = "/api/fn")]
pub async fn get_languages(query: MetricsQuery) -> Result<Languages, ServerFnError> {
    admin_backend()?
        .languages(&query)
        .await
        .map_err(to_server_error)
}

#[server(prefix = "/api/fn")]
pub async fn get_time_series(query: MetricsQuery) -> Result<TimeSeries, ServerFnError> {
    admin_backend()?
        .time_series(&query)
        .await
        .map_err(to_server_error)
}

#[server(prefix = "/api/fn")]
pub async fn get_heatmap(query: MetricsQuery) -> Result<Heatmap, ServerFnError> {
    admin_backend()?
        .heatmap(&query)
        .await
        .map_err(to_server_error)
}

#[server(prefix = "/api/fn")]
pub async fn get_api_keys(query: MetricsQuery) -> Result<Vec<ApiKeyUsage>, ServerFnError> {
    admin_backend()?
        .api_keys(&query)
        .await
        .map_err(to_server_error)
}

#[server(prefix = "/api/fn")]
pub async fn get_top_languages(query: MetricsQuery) -> Result<TopLanguages, ServerFnError> {
    admin_backend()?
        .top_languages(&query)
        .await
        .map_err(to_server_error)
}

#[server(prefix = "/api/fn")]
pub async fn get_requests(query: MetricsQuery) -> Result<RequestStats, ServerFnError> {
    admin_backend()?
        .requests(&query)
        .await
        .map_err(to_server_error)
}

#[server(prefix = "/api/fn")]
pub async fn get_pool(query: MetricsQuery) -> Result<PoolStats, ServerFnError> {
    admin_backend()?.pool(&query).await.map_err(to_server_error)
}

#[server(prefix = "/api/fn")]
pub async fn get_live() -> Result<LiveCounters, ServerFnError> {
    admin_backend()?.live().await.map_err(to_server_error)
}
