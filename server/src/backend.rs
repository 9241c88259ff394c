//! The dashboard's [`Backend`]: what the server functions in `app` call.

use app::{
    backend::{Backend, BackendError},
    types::ServerStatus,
};

use crate::state::AppState;

#[async_trait::async_trait]
impl Backend for AppState {
    async fn status(&self) -> Result<ServerStatus, BackendError> {
        Ok(ServerStatus {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_seconds: self.started_at.elapsed().as_secs(),
            counters: self.counters.backend().to_owned(),
        })
    }
}
