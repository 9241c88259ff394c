//! Server functions called by the dashboard. Each body checks the caller
//! and hands the work to the [`Backend`](crate::backend::Backend) in
//! context, which runs the same query layer as the REST API.

use leptos::prelude::*;

use crate::types::{
    AlertIncident, AlertRulesDoc, ApiKeyUsage, CustomMetric, CustomSeries, HealthReport, Heatmap,
    Languages, LiveCounters, MetricsQuery, PoolStats, RequestStats, ServerStatus, Summary,
    SystemView, TimeSeries, TopLanguages, WebhookTest,
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
pub async fn login(key: String) -> Result<(), ServerFnError> {
    use crate::backend::BackendError;
    match backend()?.login(&key, &request_info()).await {
        Ok(cookie) => {
            set_cookie(&cookie);
            Ok(())
        }
        Err(error) => {
            let status = match error {
                BackendError::TooManyAttempts(_) => http::StatusCode::TOO_MANY_REQUESTS,
                BackendError::Unauthorized => http::StatusCode::UNAUTHORIZED,
                _ => http::StatusCode::BAD_REQUEST,
            };
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(status);
            }
            let message = match error {
                BackendError::Unauthorized => "wrong master key".to_owned(),
                other => other.to_string(),
            };
            Err(ServerFnError::new(message))
        }
    }
}

/// Ends the session and clears the cookie.
#[server(prefix = "/api/fn")]
pub async fn logout() -> Result<(), ServerFnError> {
    let cookie = backend()?.logout(&request_info()).await;
    set_cookie(&cookie);
    Ok(())
}

/// Whether the caller is logged in (session cookie or master key).
#[server(prefix = "/api/fn")]
pub async fn whoami() -> Result<bool, ServerFnError> {
    Ok(use_context::<crate::backend::Caller>()
        .unwrap_or_default()
        .is_admin)
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

#[server(prefix = "/api/fn")]
pub async fn get_health() -> Result<HealthReport, ServerFnError> {
    admin_backend()?
        .health_report()
        .await
        .map_err(to_server_error)
}

/// The host's metrics over `range` (`1h`, `6h`, `24h` or `7d`).
#[server(prefix = "/api/fn")]
pub async fn get_system(range: String) -> Result<SystemView, ServerFnError> {
    admin_backend()?
        .system(&range)
        .await
        .map_err(to_server_error)
}

#[server(prefix = "/api/fn")]
pub async fn get_alert_rules() -> Result<AlertRulesDoc, ServerFnError> {
    admin_backend()?
        .alert_rules()
        .await
        .map_err(to_server_error)
}

/// Checks and saves the alert rules file (TOML), unless the rules changed
/// since `base_version` was read (empty: no check).
#[server(prefix = "/api/fn")]
pub async fn save_alert_rules(
    text: String,
    base_version: String,
) -> Result<AlertRulesDoc, ServerFnError> {
    admin_backend()?
        .save_alert_rules(&text, Some(base_version.as_str()).filter(|v| !v.is_empty()))
        .await
        .map_err(to_server_error)
}

/// Sends a test message to every webhook target and says how each answered.
#[server(prefix = "/api/fn")]
pub async fn test_alert_webhooks() -> Result<Vec<WebhookTest>, ServerFnError> {
    admin_backend()?
        .test_webhooks()
        .await
        .map_err(to_server_error)
}

#[server(prefix = "/api/fn")]
pub async fn get_alert_history() -> Result<Vec<AlertIncident>, ServerFnError> {
    admin_backend()?
        .alert_history(50)
        .await
        .map_err(to_server_error)
}

/// Puts an API key into a tenant; an empty `tenant` takes it out of its tenant.
#[server(prefix = "/api/fn")]
pub async fn set_key_tenant(key: String, tenant: String) -> Result<String, ServerFnError> {
    let tenant = tenant.trim();
    admin_backend()?
        .set_key_tenant(&key, (!tenant.is_empty()).then_some(tenant))
        .await
        .map_err(to_server_error)
}

#[server(prefix = "/api/fn")]
pub async fn get_custom_metrics() -> Result<Vec<CustomMetric>, ServerFnError> {
    admin_backend()?
        .custom_metrics()
        .await
        .map_err(to_server_error)
}

/// The series of a custom metric; `attributes` are `key:value` filters,
/// comma-separated (a plain string: an empty list would not survive the
/// URL encoding of server-function arguments).
#[server(prefix = "/api/fn")]
pub async fn get_custom_series(
    name: String,
    query: MetricsQuery,
    attributes: String,
) -> Result<Vec<CustomSeries>, ServerFnError> {
    let attributes: Vec<(String, String)> = attributes
        .split(',')
        .filter_map(|a| a.trim().split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    admin_backend()?
        .custom_series(&name, &query, &attributes)
        .await
        .map_err(to_server_error)
}
