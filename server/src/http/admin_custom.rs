//! Custom metrics received over OTLP: `GET /api/v1/admin/metrics/custom`
//! lists them, `GET /api/v1/admin/metrics/custom/{name}` returns the
//! points of its series (`period` or `start_date`/`end_date` as for every
//! view; `attr=key:value` filters, repeatable).

use std::collections::BTreeMap;

use axum::{
    Json,
    extract::{Path, State},
};
use serde_json::{Value, json};

use app::types::MetricsQuery;

use super::{
    error::ApiError,
    extract::ApiQuery,
    openapi::Doc,
    routes::{Access, Routes},
};
use crate::{query::params::TimeRange, state::AppState};

pub fn routes(routes: Routes) -> Routes {
    routes
        .get("/api/v1/admin/metrics/custom", Access::Admin, catalog)
        .doc(Doc::new("Every custom metric received over OTLP"))
        .get("/api/v1/admin/metrics/custom/{name}", Access::Admin, series)
        .doc(
            Doc::new("The points of a custom metric's series")
                .query::<SeriesParams>()
                .error(404, "no series of that metric match"),
        )
        .get(
            "/api/v1/admin/metrics/custom/{name}/rollups",
            Access::Admin,
            rollups,
        )
        .doc(
            Doc::new("Hourly or daily rollups of a custom metric's series").query::<SeriesParams>(),
        )
}

async fn catalog(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "metrics": state.custom_catalog().await? })))
}

/// Points per series are capped so one request stays small.
const MAX_POINTS: i64 = 10_000;

async fn series(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let request = SeriesRequest::read(&state, pairs)?;
    let series = state
        .custom_points(&name, &request.attributes, &request.range, MAX_POINTS)
        .await?;
    if series.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no series of metric `{name}` match"
        )));
    }
    Ok(Json(json!({ "name": name, "series": series })))
}

/// Hourly (`granularity=hour`, default) or daily rollups of a metric's
/// series over the range: they outlive the raw points.
async fn rollups(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let request = SeriesRequest::read(&state, pairs)?;
    let daily = request.daily;
    let series = state
        .custom_rollups(&name, &request.attributes, daily, &request.range)
        .await?;
    Ok(Json(json!({
        "name": name,
        "granularity": if daily { "day" } else { "hour" },
        "series": series,
    })))
}

/// The parameters of the series views, as the document describes them
/// (the handlers read them as pairs: `attr` repeats).
#[derive(utoipa::IntoParams)]
#[allow(dead_code)]
struct SeriesParams {
    /// `hour`, `day`, `week`, `month`, `quarter` or `year` back from now.
    period: Option<String>,
    /// Start of a custom range (`YYYY-MM-DD` or RFC 3339).
    start_date: Option<String>,
    /// End of a custom range.
    end_date: Option<String>,
    /// `key:value` attribute filters; repeatable.
    attr: Option<Vec<String>>,
    /// `hour` (default) or `day` (rollups).
    granularity: Option<String>,
}

/// A request of the series views, its parameters checked.
struct SeriesRequest {
    range: TimeRange,
    attributes: BTreeMap<String, String>,
    daily: bool,
}

impl SeriesRequest {
    fn read(state: &AppState, pairs: Vec<(String, String)>) -> Result<Self, ApiError> {
        let (query, attributes, daily) = parse(pairs)?;
        let range = state.view_request(&query)?.filter.range;
        Ok(Self {
            range,
            attributes,
            daily,
        })
    }
}

/// The parameters of the series views: the range (`period` or
/// `start_date`/`end_date`), `attr=key:value` filters (repeatable) and
/// `granularity` (`hour`, the default, or `day`: true for day).
fn parse(
    pairs: Vec<(String, String)>,
) -> Result<(MetricsQuery, BTreeMap<String, String>, bool), ApiError> {
    let mut query = MetricsQuery::default();
    let mut filter = BTreeMap::new();
    let mut daily = false;
    for (key, value) in pairs {
        match key.as_str() {
            "period" => query.period = Some(value),
            "start_date" => query.start_date = Some(value),
            "end_date" => query.end_date = Some(value),
            "granularity" => {
                daily = match value.as_str() {
                    "hour" => false,
                    "day" => true,
                    other => {
                        return Err(ApiError::BadRequest(format!(
                            "granularity: unknown granularity `{other}`: use hour or day"
                        )));
                    }
                }
            }
            "attr" => {
                let (k, v) = value.split_once(':').ok_or_else(|| {
                    ApiError::BadRequest(format!("attr: `{value}` is not key:value"))
                })?;
                filter.insert(k.to_owned(), v.to_owned());
            }
            _ => {}
        }
    }
    Ok((query, filter, daily))
}
