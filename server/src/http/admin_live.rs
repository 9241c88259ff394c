//! `GET /api/v1/admin/metrics/live`: the hot counters (this minute, the
//! last minute, this hour, today; UTC).

use app::backend::Backend;
use axum::{Json, extract::State, http::HeaderMap, routing::get};

use super::auth;
use super::{
    error::ApiError,
    routes::{Access, Routes},
};
use crate::{counters::LiveCounters, state::AppState};

pub fn routes(routes: Routes) -> Routes {
    routes.route(
        "/api/v1/admin/metrics/live",
        &["GET"],
        Access::Admin,
        get(live),
    )
}

async fn live(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<LiveCounters>, ApiError> {
    auth::require_admin(&state, &headers)?;
    Ok(Json(state.live().await?))
}
