//! The admin API around the views: the Prometheus export, the health score
//! and the host's metrics. Master key in `x-api-key` (or `Authorization:
//! Bearer`), or a dashboard session.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{
    error::ApiError,
    extract::ApiQuery,
    openapi::Doc,
    routes::{Access, Routes},
};
use crate::{service::status::HealthWithHost, state::AppState};

pub fn routes(routes: Routes) -> Routes {
    let admin = Access::Admin;
    routes
        .get("/api/v1/admin/metrics/prometheus", admin, prometheus_export)
        .doc(Doc::new("The Prometheus exposition of the instance").text("text/plain"))
        .get("/api/v1/admin/health", admin, health)
        .doc(Doc::new("The health score of the last five minutes").json::<HealthWithHost>())
        .get("/api/v1/admin/system", admin, system)
        .doc(
            Doc::new("The host's metrics over a range")
                .query::<RangeParam>()
                .json::<app::types::SystemView>(),
        )
}

async fn prometheus_export(State(state): State<AppState>) -> Result<Response, ApiError> {
    prometheus_response(&state).await
}

/// `GET /api/v1/admin/health`: the score of the last five minutes, what
/// it was computed from, and the latest host sample.
async fn health(State(state): State<AppState>) -> Result<Json<HealthWithHost>, ApiError> {
    Ok(Json(state.health_with_host().await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct RangeParam {
    range: Option<String>,
}

/// `GET /api/v1/admin/system?range=1h|6h|24h|7d`: the host's metrics.
async fn system(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<RangeParam>,
) -> Result<Json<app::types::SystemView>, ApiError> {
    let range = params.range.unwrap_or_else(|| "1h".to_owned());
    Ok(Json(app::backend::Backend::system(&state, &range).await?))
}

/// The Prometheus exposition of the whole instance.
pub async fn prometheus_response(state: &AppState) -> Result<Response, ApiError> {
    let mut response = state.prometheus_text().await?.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}
