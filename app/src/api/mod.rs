//! Server functions called by the dashboard. Each body checks the caller
//! and hands the work to the [`Backend`](crate::backend::Backend) in
//! context, which runs the same query layer as the REST API.
//!
//! Each function is declared once, in [`server_fns!`], with its endpoint: the
//! server build gets a Leptos `#[server]` function at `/api/fn/{endpoint}`;
//! the browser build gets a function of the same signature that posts its
//! arguments there through one shared, non-generic call path
//! ([`browser`]), instead of a client monomorphised per function (about
//! 6 KB of WASM each).

#[cfg(not(feature = "ssr"))]
mod browser;

#[cfg(feature = "ssr")]
use leptos::prelude::*;

use crate::error::AppError;
use crate::types::{
    AlertIncident, AlertRulesDoc, ApiKeyUsage, CustomMetric, CustomSeries, HealthReport, Heatmap,
    Languages, LiveCounters, MetricsQuery, PoolStats, RequestStats, ServerStatus, Summary,
    SystemView, TimeSeries, TopLanguages, WebhookTest,
};

/// All server functions live under this prefix, apart from the REST API.
pub const SERVER_FN_PREFIX: &str = "/api/fn";

/// Declares server functions: `"endpoint" => fn name(args) -> Output { body }`.
/// The body runs on the server; both builds share the signature. The
/// endpoint is the function's name: a fixed URL, the same from every
/// checkout (Leptos's default appends a hash of the build path).
macro_rules! server_fns {
    ($(
        $(#[$meta:meta])*
        $endpoint:literal => fn $name:ident($($arg:ident: $ty:ty),*) -> $out:ty $body:block
    )*) => {$(
        $(#[$meta])*
        #[cfg(feature = "ssr")]
        #[server(prefix = "/api/fn", endpoint = $endpoint)]
        pub async fn $name($($arg: $ty),*) -> Result<$out, AppError> $body

        $(#[$meta])*
        #[cfg(not(feature = "ssr"))]
        pub async fn $name($($arg: $ty),*) -> Result<$out, AppError> {
            let args = [$((stringify!($arg), browser::arg(&$arg)?)),*];
            browser::call(concat!("/api/fn/", $endpoint), &args).await
        }
    )*};
}

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

server_fns! {
    /// Logs in with the master key: sets the HttpOnly session cookie. Wrong
    /// keys get a 401, and a client that keeps trying a 429.
    "login" => fn login(key: String) -> () {
        let cookie = backend()?.login(&key, &request_info()).await?;
        set_cookie(&cookie);
        Ok(())
    }

    /// Ends the session and clears the cookie.
    "logout" => fn logout() -> () {
        let cookie = backend()?.logout(&request_info()).await;
        set_cookie(&cookie);
        Ok(())
    }

    /// Whether the caller is logged in (session cookie or master key).
    "whoami" => fn whoami() -> bool {
        Ok(use_context::<crate::backend::Caller>()
            .unwrap_or_default()
            .is_admin)
    }

    /// Version, uptime and counter backend of the server. Open to anyone.
    "get_server_status" => fn get_server_status() -> ServerStatus {
        backend()?.status().await
    }

    "get_summary" => fn get_summary(query: MetricsQuery) -> Summary {
        admin_backend()?.summary(&query).await
    }

    "get_languages" => fn get_languages(query: MetricsQuery) -> Languages {
        admin_backend()?.languages(&query).await
    }

    "get_time_series" => fn get_time_series(query: MetricsQuery) -> TimeSeries {
        admin_backend()?.time_series(&query).await
    }

    "get_heatmap" => fn get_heatmap(query: MetricsQuery) -> Heatmap {
        admin_backend()?.heatmap(&query).await
    }

    "get_api_keys" => fn get_api_keys(query: MetricsQuery) -> Vec<ApiKeyUsage> {
        admin_backend()?.api_keys(&query).await
    }

    "get_top_languages" => fn get_top_languages(query: MetricsQuery) -> TopLanguages {
        admin_backend()?.top_languages(&query).await
    }

    "get_requests" => fn get_requests(query: MetricsQuery) -> RequestStats {
        admin_backend()?.requests(&query).await
    }

    "get_pool" => fn get_pool(query: MetricsQuery) -> PoolStats {
        admin_backend()?.pool(&query).await
    }

    "get_live" => fn get_live() -> LiveCounters {
        admin_backend()?.live().await
    }

    "get_health" => fn get_health() -> HealthReport {
        admin_backend()?.health_report().await
    }

    /// The host's metrics over `range` (`1h`, `6h`, `24h` or `7d`).
    "get_system" => fn get_system(range: String) -> SystemView {
        admin_backend()?.system(&range).await
    }

    "get_alert_rules" => fn get_alert_rules() -> AlertRulesDoc {
        admin_backend()?.alert_rules().await
    }

    /// Checks and saves the alert rules file (TOML), unless the rules changed
    /// since `base_version` was read (empty: no check).
    "save_alert_rules" => fn save_alert_rules(text: String, base_version: String)
        -> AlertRulesDoc {
        admin_backend()?
            .save_alert_rules(&text, Some(base_version.as_str()).filter(|v| !v.is_empty()))
            .await
    }

    /// Sends a test message to every webhook target and says how each answered.
    "test_alert_webhooks" => fn test_alert_webhooks() -> Vec<WebhookTest> {
        admin_backend()?.test_webhooks().await
    }

    "get_alert_history" => fn get_alert_history() -> Vec<AlertIncident> {
        admin_backend()?.alert_history(50).await
    }

    /// Puts an API key into a tenant; an empty `tenant` takes it out of its tenant.
    "set_key_tenant" => fn set_key_tenant(key: String, tenant: String) -> String {
        let tenant = tenant.trim();
        admin_backend()?
            .set_key_tenant(&key, (!tenant.is_empty()).then_some(tenant))
            .await
    }

    "get_custom_metrics" => fn get_custom_metrics() -> Vec<CustomMetric> {
        admin_backend()?.custom_metrics().await
    }

    /// The series of a custom metric; `attributes` are `key:value` filters,
    /// comma-separated (a plain string: an empty list would not survive the
    /// URL encoding of server-function arguments).
    "get_custom_series" => fn get_custom_series(
        name: String,
        query: MetricsQuery,
        attributes: String
    ) -> Vec<CustomSeries> {
        let attributes: Vec<(String, String)> = attributes
            .split(',')
            .filter_map(|a| a.trim().split_once(':'))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        admin_backend()?
            .custom_series(&name, &query, &attributes)
            .await
    }
}
