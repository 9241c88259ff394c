//! Liveness and readiness probes.

use axum::{Json, Router, extract::State, routing::get};
use serde_json::{Value, json};

use super::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is up and serving HTTP.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can do its work: the database answers.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    if let Err(error) = state.storage.ping().await {
        tracing::warn!(%error, "Readiness check: database unavailable.");
        return Err(ApiError::Unavailable {
            message: "database unavailable".to_owned(),
            retry_after_secs: 5,
        });
    }
    Ok(Json(json!({ "status": "ready", "database": "ok" })))
}
