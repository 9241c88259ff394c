//! Server functions called by the dashboard. Each body only finds the
//! [`Backend`](crate::backend::Backend) in context and delegates to it, so the
//! logic is testable without a browser and shared with the REST API.

use leptos::prelude::*;

use crate::types::ServerStatus;

/// All server functions live under this prefix, apart from the REST API.
pub const SERVER_FN_PREFIX: &str = "/api/fn";

#[cfg(feature = "ssr")]
fn backend() -> Result<crate::backend::SharedBackend, ServerFnError> {
    use_context::<crate::backend::SharedBackend>()
        .ok_or_else(|| ServerFnError::new("server misconfigured: no backend in context"))
}

#[cfg(feature = "ssr")]
fn to_server_error(error: crate::backend::BackendError) -> ServerFnError {
    ServerFnError::new(error.to_string())
}

/// Version, uptime and counter backend of the server.
#[server(prefix = "/api/fn")]
pub async fn get_server_status() -> Result<ServerStatus, ServerFnError> {
    backend()?.status().await.map_err(to_server_error)
}
