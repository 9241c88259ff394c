//! Liveness and readiness probes.

use axum::{Json, extract::State};
use serde_json::{Value, json};

use super::{
    error::ApiError,
    openapi::Doc,
    routes::{Access, Routes},
};
use crate::state::AppState;

pub fn routes(routes: Routes) -> Routes {
    routes
        .get("/healthz", Access::Public, healthz)
        .doc(Doc::new("Liveness: the process serves HTTP"))
        .get("/readyz", Access::Public, readyz)
        .doc(
            Doc::new("Readiness: the database answers and commits succeed").error(503, "not ready"),
        )
}

/// The process is up and serving HTTP.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can do its work: the database answers and the last
/// commit (if any failed since the last success) did not fail.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    if let Err(reason) = state.readiness().await {
        return Err(ApiError::Unavailable {
            message: format!("not ready: {reason}"),
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
