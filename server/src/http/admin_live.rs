//! `GET /api/v1/admin/metrics/live`: the hot counters (this minute, the
//! last minute, this hour, today; UTC).

use axum::{Json, Router, extract::State, http::HeaderMap, routing::get};

use super::error::ApiError;
use crate::{auth, counters::service::LiveCounters, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/admin/metrics/live", get(live))
}

async fn live(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<LiveCounters>, ApiError> {
    auth::require_master_key(&state, &headers)?;
    state.counters.live().await.map(Json).map_err(|error| {
        tracing::warn!(%error, "Live counters unavailable.");
        ApiError::Unavailable {
            message: format!(
                "the {} counters are unavailable right now",
                state.counters.backend()
            ),
            retry_after_secs: 2,
        }
    })
}
