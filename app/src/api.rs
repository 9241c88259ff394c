//! Server functions called by the dashboard. Each body checks the caller
//! and hands the work to the [`Backend`](crate::backend::Backend) in
//! context, which runs the same query layer as the REST API.

use leptos::prelude::*;

use crate::error::AppError;
use crate::types::{
    AlertIncident, AlertRulesDoc, ApiKeyUsage, CustomMetric, CustomSeries, HealthReport, Heatmap,
    Languages, LiveCounters, MetricsQuery, PoolStats, RequestStats, ServerStatus, Summary,
    SystemView, TimeSeries, TopLanguages, WebhookTest,
};

/// All server functions live under this prefix, apart from the REST API.
pub const SERVER_FN_PREFIX: &str = "/api/fn";

#[cfg(feature = "ssr")]
fn backend() -> Result<crate::backend::SharedBackend, AppError> {
    use_context::<crate::backend::SharedBackend>().ok_or(AppError::Internal)
}

/// The backend, for admin callers only; others are `Unauthenticated`.
#[cfg(feature = "ssr")]
fn admin_backend() -> Result<crate::backend::SharedBackend, AppError> {
    let caller = use_context::<crate::backend::Caller>().unwrap_or_default();
    if !caller.is_admin {
        return Err(AppError::Unauthenticated);
    }
    backend()
}

#[cfg(feature = "ssr")]
fn set_cookie(value: &str) {
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(value),
    ) {
        response.append_header(http::header::SET_COOKIE, value);
    }
}

#[cfg(feature = "ssr")]
fn request_info() -> crate::backend::RequestInfo {
    use_context::<crate::backend::RequestInfo>().unwrap_or_default()
}

/// Logs in with the master key: sets the HttpOnly session cookie. Wrong
/// keys get a 401, and a client that keeps trying a 429.
#[server(prefix = "/api/fn")]
pub async fn login(key: String) -> Result<(), AppError> {
    let cookie = backend()?.login(&key, &request_info()).await?;
    set_cookie(&cookie);
    Ok(())
}

/// Ends the session and clears the cookie.
#[server(prefix = "/api/fn")]
pub async fn logout() -> Result<(), AppError> {
    let cookie = backend()?.logout(&request_info()).await;
    set_cookie(&cookie);
    Ok(())
}

/// Whether the caller is logged in (session cookie or master key).
#[server(prefix = "/api/fn")]
pub async fn whoami() -> Result<bool, AppError> {
    Ok(use_context::<crate::backend::Caller>()
        .unwrap_or_default()
        .is_admin)
}

/// Version, uptime and counter backend of the server. Open to anyone.
#[server(prefix = "/api/fn")]
pub async fn get_server_status() -> Result<ServerStatus, AppError> {
    backend()?.status().await
}

#[server(prefix = "/api/fn")]
pub async fn get_summary(query: MetricsQuery) -> Result<Summary, AppError> {
    admin_backend()?.summary(&query).await
}

#[server(prefix = "/api/fn")]
pub async fn get_languages(query: MetricsQuery) -> Result<Languages, AppError> {
    admin_backend()?.languages(&query).await
}

#[server(prefix = "/api/fn")]
pub async fn get_time_series(query: MetricsQuery) -> Result<TimeSeries, AppError> {
    admin_backend()?.time_series(&query).await
}

#[server(prefix = "/api/fn")]
pub async fn get_heatmap(query: MetricsQuery) -> Result<Heatmap, AppError> {
    admin_backend()?.heatmap(&query).await
}

#[server(prefix = "/api/fn")]
pub async fn get_api_keys(query: MetricsQuery) -> Result<Vec<ApiKeyUsage>, AppError> {
    admin_backend()?.api_keys(&query).await
}

#[server(prefix = "/api/fn")]
pub async fn get_top_languages(query: MetricsQuery) -> Result<TopLanguages, AppError> {
    admin_backend()?.top_languages(&query).await
}

#[server(prefix = "/api/fn")]
pub async fn get_requests(query: MetricsQuery) -> Result<RequestStats, AppError> {
    admin_backend()?.requests(&query).await
}

#[server(prefix = "/api/fn")]
pub async fn get_pool(query: MetricsQuery) -> Result<PoolStats, AppError> {
    admin_backend()?.pool(&query).await
}

#[server(prefix = "/api/fn")]
pub async fn get_live() -> Result<LiveCounters, AppError> {
    admin_backend()?.live().await
}

#[server(prefix = "/api/fn")]
pub async fn get_health() -> Result<HealthReport, AppError> {
    admin_backend()?.health_report().await
}

/// The host's metrics over `range` (`1h`, `6h`, `24h` or `7d`).
#[server(prefix = "/api/fn")]
pub async fn get_system(range: String) -> Result<SystemView, AppError> {
    admin_backend()?.system(&range).await
}

#[server(prefix = "/api/fn")]
pub async fn get_alert_rules() -> Result<AlertRulesDoc, AppError> {
    admin_backend()?.alert_rules().await
}

/// Checks and saves the alert rules file (TOML), unless the rules changed
/// since `base_version` was read (empty: no check).
#[server(prefix = "/api/fn")]
pub async fn save_alert_rules(
    text: String,
    base_version: String,
) -> Result<AlertRulesDoc, AppError> {
    admin_backend()?
        .save_alert_rules(&text, Some(base_version.as_str()).filter(|v| !v.is_empty()))
        .await
}

/// Sends a test message to every webhook target and says how each answered.
#[server(prefix = "/api/fn")]
pub async fn test_alert_webhooks() -> Result<Vec<WebhookTest>, AppError> {
    admin_backend()?.test_webhooks().await
}

#[server(prefix = "/api/fn")]
pub async fn get_alert_history() -> Result<Vec<AlertIncident>, AppError> {
    admin_backend()?.alert_history(50).await
}

/// Puts an API key into a tenant; an empty `tenant` takes it out of its tenant.
#[server(prefix = "/api/fn")]
pub async fn set_key_tenant(key: String, tenant: String) -> Result<String, AppError> {
    let tenant = tenant.trim();
    admin_backend()?
        .set_key_tenant(&key, (!tenant.is_empty()).then_some(tenant))
        .await
}

#[server(prefix = "/api/fn")]
pub async fn get_custom_metrics() -> Result<Vec<CustomMetric>, AppError> {
    admin_backend()?.custom_metrics().await
}

/// The series of a custom metric; `attributes` are `key:value` filters,
/// comma-separated (a plain string: an empty list would not survive the
/// URL encoding of server-function arguments).
#[server(prefix = "/api/fn")]
pub async fn get_custom_series(
    name: String,
    query: MetricsQuery,
    attributes: String,
) -> Result<Vec<CustomSeries>, AppError> {
    let attributes: Vec<(String, String)> = attributes
        .split(',')
        .filter_map(|a| a.trim().split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    admin_backend()?
        .custom_series(&name, &query, &attributes)
        .await
}
