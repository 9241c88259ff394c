//! The interface the server functions call. The server crate implements it
//! over its query layer and provides it as Leptos context, so the SQL and
//! Redis code stays in the server and the dashboard never depends on them.

use std::sync::Arc;

use crate::types::ServerStatus;

/// An error the backend reports to a server function. Its message is shown
/// to the dashboard user, so it never carries database text.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{0}")]
    BadRequest(String),
    #[error("not logged in")]
    Unauthorized,
    #[error("the server could not answer; see its log")]
    Internal,
}

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    async fn status(&self) -> Result<ServerStatus, BackendError>;
}

/// How the backend is provided as context to server functions.
pub type SharedBackend = Arc<dyn Backend>;
