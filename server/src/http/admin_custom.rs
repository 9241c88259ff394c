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
    routes::{Access, Routes},
};
use crate::{
    model::time::{DAY_MS, HOUR_MS},
    query::{params::TimeRange, plan::floor_to},
    state::AppState,
};

pub fn routes(routes: Routes) -> Routes {
    routes
        .get("/api/v1/admin/metrics/custom", Access::Admin, catalog)
        .get("/api/v1/admin/metrics/custom/{name}", Access::Admin, series)
        .get(
            "/api/v1/admin/metrics/custom/{name}/rollups",
            Access::Admin,
            rollups,
        )
}

async fn catalog(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "metrics": state.storage.metric_catalog().await? }),
    ))
}

/// Points per series are capped so one request stays small.
const MAX_POINTS: i64 = 10_000;

async fn series(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let request = SeriesRequest::read(&state, pairs)?;
    let range = request.range;
    let series = state
        .storage
        .metric_points(
            &name,
            &request.attributes,
            range.from_ms,
            range.to_ms,
            MAX_POINTS,
        )
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
    let from = floor_to(request.range.from_ms, if daily { DAY_MS } else { HOUR_MS });
    let series = state
        .storage
        .metric_rollups(&name, &request.attributes, daily, from, request.range.to_ms)
        .await?;
    Ok(Json(json!({
        "name": name,
        "granularity": if daily { "day" } else { "hour" },
        "series": series,
    })))
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
