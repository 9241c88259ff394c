//! The admin metrics API, `GET /api/v1/admin/metrics/*`: JSON by default,
//! CSV with `format=csv`, and the Prometheus export. Master key in
//! `x-api-key` (or `Authorization: Bearer`).

use axum::{
    Json,
    extract::{FromRequestParts, State},
    http::{HeaderValue, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use app::types::{
    ApiKeyUsage, Heatmap, LanguageStats, Languages, MetricsQuery, PoolStats, RequestStats, Summary,
    TimeSeries, TopLanguages,
};

use super::{
    error::ApiError,
    extract::ApiQuery,
    openapi::Doc,
    routes::{Access, Routes},
};
use crate::{
    export::{csv::CsvTable, influx::InfluxLines},
    query,
    service::status::HealthWithHost,
    state::AppState,
};

pub fn routes(routes: Routes) -> Routes {
    let admin = Access::Admin;
    routes
        .get("/api/v1/admin/metrics/summary", admin, summary)
        .doc(view("Executions: counts, rates, percentiles, resources").json::<Summary>())
        .get("/api/v1/admin/metrics/languages", admin, languages)
        .doc(view("Executions per language, optionally per key").json::<Languages>())
        .get("/api/v1/admin/metrics/time-series", admin, time_series)
        .doc(view("Executions, errors and times per bucket").json::<TimeSeries>())
        .get("/api/v1/admin/metrics/heatmap", admin, heatmap)
        .doc(view("Executions per weekday and hour").json::<Heatmap>())
        .get("/api/v1/admin/metrics/api-keys", admin, api_keys)
        .doc(view("Usage per API key").json_list::<ApiKeyUsage>())
        .get("/api/v1/admin/metrics/top-languages", admin, top_languages)
        .doc(view("The most used languages").json::<TopLanguages>())
        .get("/api/v1/admin/metrics/requests", admin, requests)
        .doc(view("API requests: rates, latencies, endpoints").json::<RequestStats>())
        .get("/api/v1/admin/metrics/pool", admin, pool)
        .doc(view("Container pool: hit rate, cold starts, waits").json::<PoolStats>())
        .get("/api/v1/admin/metrics/by-language", admin, by_language)
        .doc(view("Figures per language").json_list::<LanguageStats>())
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

/// The document entry of a view: its query; JSON, CSV or Influx lines.
fn view(summary: &'static str) -> Doc {
    Doc::new(summary)
        .query::<MetricsQuery>()
        .query::<FormatParam>()
        .or_text("text/csv")
        .or_text("text/plain")
}

/// `format` parameter of the admin views.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
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

/// What every view request carries: the view's query and `format`.
struct ViewParams {
    query: MetricsQuery,
    format: Format,
}

impl<S: Send + Sync> FromRequestParts<S> for ViewParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let ApiQuery(query) = ApiQuery::<MetricsQuery>::from_request_parts(parts, state).await?;
        let ApiQuery(format) = ApiQuery::<FormatParam>::from_request_parts(parts, state).await?;
        Ok(Self {
            query,
            format: Format::parse(&format)?,
        })
    }
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

async fn summary(State(state): State<AppState>, params: ViewParams) -> Result<Response, ApiError> {
    let view = state
        .view_request(&params.query)?
        .run(query::summary)
        .await?;
    Ok(render(params.format, &view, "summary"))
}

async fn languages(
    State(state): State<AppState>,
    params: ViewParams,
) -> Result<Response, ApiError> {
    let view = state
        .view_request(&params.query)?
        .run(query::languages)
        .await?;
    Ok(render(params.format, &view, "languages"))
}

async fn time_series(
    State(state): State<AppState>,
    params: ViewParams,
) -> Result<Response, ApiError> {
    let view = state
        .view_request(&params.query)?
        .run(query::time_series)
        .await?;
    Ok(render(params.format, &view, "time-series"))
}

async fn heatmap(State(state): State<AppState>, params: ViewParams) -> Result<Response, ApiError> {
    let view = state
        .view_request(&params.query)?
        .run(query::heatmap)
        .await?;
    Ok(render(params.format, &view, "heatmap"))
}

async fn api_keys(State(state): State<AppState>, params: ViewParams) -> Result<Response, ApiError> {
    let view = state
        .view_request(&params.query)?
        .run(query::api_keys)
        .await?;
    Ok(render(params.format, &view, "api-keys"))
}

async fn top_languages(
    State(state): State<AppState>,
    params: ViewParams,
) -> Result<Response, ApiError> {
    let view = state
        .view_request(&params.query)?
        .run(query::top_languages)
        .await?;
    Ok(render(params.format, &view, "top-languages"))
}

async fn requests(State(state): State<AppState>, params: ViewParams) -> Result<Response, ApiError> {
    let view = state
        .view_request(&params.query)?
        .run(query::requests)
        .await?;
    Ok(render(params.format, &view, "requests"))
}

async fn pool(State(state): State<AppState>, params: ViewParams) -> Result<Response, ApiError> {
    let view = state.view_request(&params.query)?.run(query::pool).await?;
    Ok(render(params.format, &view, "pool"))
}

async fn by_language(
    State(state): State<AppState>,
    params: ViewParams,
) -> Result<Response, ApiError> {
    let view = state
        .view_request(&params.query)?
        .run(query::language_stats)
        .await?;
    Ok(render(params.format, &view, "by-language"))
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
