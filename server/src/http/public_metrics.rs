//! The public read-only metrics of the reference platform: `GET /metrics`,
//! `/metrics/execution`, `/metrics/api`, `/metrics/detailed`,
//! `/metrics/by-language`, `/metrics/by-api-key/{hash16}`, `/metrics/pool`,
//! over the last `hours` (1–168, default 24).
//!
//! `PUBLIC_METRICS` decides who may read them: `true` (default) opens the
//! aggregate ones and keeps per-key data behind the master key, `all` opens
//! per-key data too, `false` puts everything behind the master key.
//! `/metrics` answers Prometheus text for `format=prometheus` or
//! `Accept: text/plain`.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use app::types::MetricsQuery;

use super::{
    admin_metrics::prometheus_response,
    error::ApiError,
    routes::{Access, Routes},
};
use crate::{
    query::{self, QueryError, params::Filter},
    state::AppState,
};

pub fn routes(routes: Routes) -> Routes {
    let aggregate = Access::PublicAggregate;
    routes
        .get("/metrics", aggregate, overview)
        .get("/metrics/execution", aggregate, execution)
        .get("/metrics/api", aggregate, api)
        .get("/metrics/detailed", aggregate, detailed)
        .get("/metrics/by-language", aggregate, by_language)
        .get(
            "/metrics/by-api-key/{key}",
            Access::PublicPerKey,
            by_api_key,
        )
        .get("/metrics/pool", aggregate, pool)
}

#[derive(Debug, Default, Deserialize)]
struct PublicParams {
    hours: Option<u32>,
    format: Option<String>,
}

/// The context and a filter over the last `hours` (plus an optional key).
fn prepare(
    state: &AppState,
    params: Result<Query<PublicParams>, QueryRejection>,
    key: Option<String>,
) -> Result<(query::Context, Filter, PublicParams), ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let hours = params.hours.unwrap_or(24);
    if !(1..=168).contains(&hours) {
        return Err(ApiError::BadRequest(
            "hours: must be between 1 and 168".to_owned(),
        ));
    }
    let context = state.query_context();
    let end = context.now_ms;
    let query = MetricsQuery {
        start_date: Some(crate::model::time::format_ms(
            end - i64::from(hours) * crate::model::time::HOUR_MS,
        )),
        end_date: Some(crate::model::time::format_ms(end)),
        api_key_hash: key,
        ..MetricsQuery::default()
    };
    let filter = context.filter(&query).map_err(QueryError::from)?;
    Ok((context, filter, params))
}

async fn overview(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<PublicParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (context, filter, params) = prepare(&state, params, None)?;
    if wants_prometheus(&headers, params.format.as_deref())? {
        return prometheus_response(&state).await;
    }
    let gauges = state.gauges();
    Ok(Json(json!({
        "system": {
            "version": gauges.version,
            "uptime_seconds": gauges.uptime_seconds,
            "ingest_buffer_events": gauges.buffered_events,
            "ingest_buffer_capacity": gauges.buffer_capacity,
            "counters_backend": gauges.counters_backend,
            "counters_fresh": gauges.counters_fresh,
        },
        "execution": query::summary(&context, &filter).await?,
        "api": query::requests(&context, &filter).await?,
        "hours": params.hours.unwrap_or(24),
    }))
    .into_response())
}

/// JSON unless `format=prometheus` or the client asks for `text/plain` (and not JSON).
fn wants_prometheus(headers: &HeaderMap, format: Option<&str>) -> Result<bool, ApiError> {
    match format.map(str::trim) {
        Some("prometheus") => return Ok(true),
        Some("json") => return Ok(false),
        Some("") | None => {}
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "format: unknown format `{other}`: use json or prometheus"
            )));
        }
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    Ok(accept.contains("text/plain") && !accept.contains("application/json"))
}

async fn execution(
    State(state): State<AppState>,
    params: Result<Query<PublicParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let (context, filter, _) = prepare(&state, params, None)?;
    Ok(Json(json!(query::summary(&context, &filter).await?)))
}

async fn api(
    State(state): State<AppState>,
    params: Result<Query<PublicParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let (context, filter, _) = prepare(&state, params, None)?;
    Ok(Json(json!(query::requests(&context, &filter).await?)))
}

async fn detailed(
    State(state): State<AppState>,
    params: Result<Query<PublicParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let (context, filter, _) = prepare(&state, params, None)?;
    Ok(Json(json!({
        "summary": query::summary(&context, &filter).await?,
        "languages": query::language_stats(&context, &filter).await?,
    })))
}

async fn by_language(
    State(state): State<AppState>,
    params: Result<Query<PublicParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let (context, filter, _) = prepare(&state, params, None)?;
    Ok(Json(
        json!({ "languages": query::language_stats(&context, &filter).await? }),
    ))
}

async fn by_api_key(
    State(state): State<AppState>,
    Path(key): Path<String>,
    params: Result<Query<PublicParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let prefix = query::params::key_prefix(&key)
        .map_err(|m| ApiError::BadRequest(format!("key: `{key}` {m}")))?;
    let (context, filter, _) = prepare(&state, params, Some(prefix.clone()))?;
    let usage = query::api_keys(&context, &filter).await?;
    let Some(usage) = usage.into_iter().next() else {
        return Err(ApiError::NotFound(format!(
            "no API key starts with {prefix}"
        )));
    };
    Ok(Json(json!({
        "key": usage,
        "summary": query::summary(&context, &filter).await?,
        "languages": query::language_stats(&context, &filter).await?,
    })))
}

async fn pool(
    State(state): State<AppState>,
    params: Result<Query<PublicParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let (context, filter, _) = prepare(&state, params, None)?;
    Ok(Json(json!(query::pool(&context, &filter).await?)))
}
