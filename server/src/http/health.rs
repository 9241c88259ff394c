//! Liveness and readiness probes.

use axum::{Json, extract::State};
use serde_json::{Value, json};

use super::{
    error::ApiError,
    routes::{Access, Routes},
};
use crate::{ingest::writer::WriteError, state::AppState};

pub fn routes(routes: Routes) -> Routes {
    routes
        .get("/healthz", Access::Public, healthz)
        .get("/readyz", Access::Public, readyz)
}

/// The process is up and serving HTTP.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can do its work: the database answers and the last
/// commit (if any failed since the last success) did not fail.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    if let Err(error) = state.storage.ping().await {
        tracing::warn!(%error, "Readiness check: database unavailable.");
        return Err(ApiError::Unavailable {
            message: "not ready: the database is unavailable".to_owned(),
            retry_after_secs: 5,
        });
    }
    // A busy database or a full buffer pass; a full, read-only or failing
    // database does not.
    if let Some(failure) = state.writer.last_failure().filter(|f| {
        matches!(
            f,
            WriteError::DiskFull | WriteError::ReadOnly | WriteError::Storage
        )
    }) {
        return Err(ApiError::Unavailable {
            message: format!("not ready: the last commit failed: {failure}"),
            retry_after_secs: 5,
        });
    }
    Ok(Json(json!({
        "status": "ready",
        "database": "ok",
        "counters": state.counters.backend(),
        "counters_fresh": state.counters.is_fresh(),
    })))
}
