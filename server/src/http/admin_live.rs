//! `GET /api/v1/admin/metrics/live`: the hot counters (this minute, the
//! last minute, this hour, today; UTC).

use app::backend::Backend;
use axum::{Json, extract::State};

use super::{
    error::ApiError,
    openapi::Doc,
    routes::{Access, Routes},
};
use crate::{counters::LiveCounters, state::AppState};

pub fn routes(routes: Routes) -> Routes {
    routes
        .get("/api/v1/admin/metrics/live", Access::Admin, live)
        .doc(
            Doc::new("The hot counters: this minute, the last, this hour, today")
                .json::<LiveCounters>(),
        )
}

async fn live(State(state): State<AppState>) -> Result<Json<LiveCounters>, ApiError> {
    Ok(Json(state.live().await?))
}
