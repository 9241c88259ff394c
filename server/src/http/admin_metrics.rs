//! The admin metrics API, `GET /api/v1/admin/metrics/*`: JSON by default,
//! CSV with `format=csv`, and the Prometheus export. Master key in
//! `x-api-key` (or `Authorization: Bearer`).

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use app::types::MetricsQuery;

use super::{
    error::ApiError,
    routes::{Access, Routes},
};
use crate::{
    export::{csv::CsvTable, influx::InfluxLines, prometheus},
    query::{self, QueryError, params::Filter},
    state::AppState,
};

pub fn routes(routes: Routes) -> Routes {
    let admin = Access::Admin;
    routes
        .get("/api/v1/admin/metrics/summary", admin, summary)
        .get("/api/v1/admin/metrics/languages", admin, languages)
        .get("/api/v1/admin/metrics/time-series", admin, time_series)
        .get("/api/v1/admin/metrics/heatmap", admin, heatmap)
        .get("/api/v1/admin/metrics/api-keys", admin, api_keys)
        .get("/api/v1/admin/metrics/top-languages", admin, top_languages)
        .get("/api/v1/admin/metrics/requests", admin, requests)
        .get("/api/v1/admin/metrics/pool", admin, pool)
        .get("/api/v1/admin/metrics/by-language", admin, by_language)
        .get("/api/v1/admin/metrics/prometheus", admin, prometheus_export)
        .get("/api/v1/admin/health", admin, health)
        .get("/api/v1/admin/system", admin, system)
}

/// `format` parameter of the admin views.
#[derive(Debug, Default, Deserialize)]
pub struct FormatParam {
    #[serde(default)]
    pub format: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Influx,
}

impl Format {
    fn parse(param: &FormatParam) -> Result<Self, ApiError> {
        match param.format.as_deref().map(str::trim) {
            None | Some("" | "json") => Ok(Self::Json),
            Some("csv") => Ok(Self::Csv),
            Some("influx") => Ok(Self::Influx),
            Some(other) => Err(ApiError::BadRequest(format!(
                "format: unknown format `{other}`: use json, csv or influx"
            ))),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> Self {
        match error {
            QueryError::Param(e) => Self::BadRequest(e.to_string()),
            QueryError::Storage(e) => Self::Internal(e.into()),
            QueryError::Unanswerable(e) => Self::Internal(anyhow::anyhow!(e)),
        }
    }
}

/// Checks the parameters of a view request.
fn prepare(
    state: &AppState,
    query: Result<Query<MetricsQuery>, QueryRejection>,
    format: &FormatParam,
) -> Result<(query::Context, Filter, Format), ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let format = Format::parse(format)?;
    let context = state.query_context();
    let filter = context.filter(&query).map_err(QueryError::from)?;
    Ok((context, filter, format))
}

fn render<T: Serialize + CsvTable + InfluxLines>(format: Format, view: &T, name: &str) -> Response {
    match format {
        Format::Json => Json(view).into_response(),
        Format::Influx => {
            let now_ns = crate::clock::now_ms().saturating_mul(1_000_000);
            let mut response = view.lines(now_ns).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        }
        Format::Csv => {
            let mut response = view.to_csv().into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            if let Ok(value) =
                HeaderValue::from_str(&format!("attachment; filename=\"tally-{name}.csv\""))
            {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
    }
}

macro_rules! view_handler {
    ($name:ident, $query:path, $file:literal) => {
        async fn $name(
            State(state): State<AppState>,
            Query(format): Query<FormatParam>,
            query: Result<Query<MetricsQuery>, QueryRejection>,
        ) -> Result<Response, ApiError> {
            let (context, filter, format) = prepare(&state, query, &format)?;
            let started = std::time::Instant::now();
            let view = $query(&context, &filter).await?;
            state
                .self_metrics
                .query_duration
                .record(started.elapsed().as_secs_f64());
            Ok(render(format, &view, $file))
        }
    };
}

view_handler!(summary, query::summary, "summary");
view_handler!(languages, query::languages, "languages");
view_handler!(time_series, query::time_series, "time-series");
view_handler!(heatmap, query::heatmap, "heatmap");
view_handler!(api_keys, query::api_keys, "api-keys");
view_handler!(top_languages, query::top_languages, "top-languages");
view_handler!(requests, query::requests, "requests");
view_handler!(pool, query::pool, "pool");
view_handler!(by_language, query::language_stats, "by-language");

async fn prometheus_export(State(state): State<AppState>) -> Result<Response, ApiError> {
    prometheus_response(&state).await
}

/// The Prometheus exposition of the whole instance.
/// `GET /api/v1/admin/health`: the score of the last five minutes, what
/// it was computed from, and the latest host sample.
#[derive(Serialize)]
struct HealthResponse {
    #[serde(flatten)]
    health: crate::health::Health,
    system: Option<crate::system::SystemSample>,
}

async fn health(State(state): State<AppState>) -> Result<Json<HealthResponse>, ApiError> {
    let health = state.health().await?;
    let system = state
        .system
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Ok(Json(HealthResponse { health, system }))
}

#[derive(Deserialize)]
struct RangeParam {
    range: Option<String>,
}

/// `GET /api/v1/admin/system?range=1h|6h|24h|7d`: the host's metrics.
async fn system(
    State(state): State<AppState>,
    params: Result<Query<RangeParam>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<app::types::SystemView>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let range = params.range.unwrap_or_else(|| "1h".to_owned());
    Ok(Json(app::backend::Backend::system(&state, &range).await?))
}

pub async fn prometheus_response(state: &AppState) -> Result<Response, ApiError> {
    let mut gauges = state.gauges();
    gauges.health_score = state.health().await.ok().map(|h| h.overall_score);
    gauges.open_incidents = state.storage.open_incidents().await.ok().map(|i| i.len());
    let text = prometheus::render(&state.storage, &gauges).await?;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}
