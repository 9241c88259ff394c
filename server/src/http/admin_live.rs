//! `GET /api/v1/admin/metrics/live`: the hot counters (this minute, the
//! last minute, this hour, today; UTC).

use app::backend::Backend;
use axum::{Json, Router, extract::State, http::HeaderMap, routing::get};

use super::error::ApiError;
use crate::{auth, counters::LiveCounters, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/admin/metrics/live", get(live))
}

async fn live(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<LiveCounters>, ApiError> {
    auth::require_admin(&state, &headers)?;
    Ok(Json(state.live().await?))
}
