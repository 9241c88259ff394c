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
    routing::get,
};
use serde::Deserialize;
use serde_json::{Value, json};

use app::types::MetricsQuery;

use super::auth;
use super::{
    admin_metrics::prometheus_response,
    error::ApiError,
    routes::{Access, Routes},
};
use crate::{
    config::PublicMetrics,
    query::{self, QueryError, params::Filter},
    state::AppState,
};

pub fn routes(routes: Routes) -> Routes {
    let aggregate = Access::PublicAggregate;
    routes
        .route("/metrics", &["GET"], aggregate, get(overview))
        .route("/metrics/execution", &["GET"], aggregate, get(execution))
        .route("/metrics/api", &["GET"], aggregate, get(api))
        .route("/metrics/detailed", &["GET"], aggregate, get(detailed))
        .route(
            "/metrics/by-language",
            &["GET"],
            aggregate,
            get(by_language),
        )
        .route(
            "/metrics/by-api-key/{key}",
            &["GET"],
            Access::PublicPerKey,
            get(by_api_key),
        )
        .route("/metrics/pool", &["GET"], aggregate, get(pool))
}

#[derive(Debug, Default, Deserialize)]
struct PublicParams {
    hours: Option<u32>,
    format: Option<String>,
}

/// Who may read: `per_key` views need more than aggregate ones.
fn authorize(state: &AppState, headers: &HeaderMap, per_key: bool) -> Result<(), ApiError> {
    let open = match state.config.public_metrics {
        PublicMetrics::All => true,
        PublicMetrics::Aggregate => !per_key,
        PublicMetrics::Closed => false,
    };
    if open {
        Ok(())
    } else {
        auth::require_admin(state, headers)
    }
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
        start_date: Some(query::params::format_date(
            end - i64::from(hours) * 3_600_000,
        )),
        end_date: Some(query::params::format_date(end)),
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
    authorize(&state, &headers, false)?;
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
    headers: HeaderMap,
    params: Result<Query<PublicParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, false)?;
    let (context, filter, _) = prepare(&state, params, None)?;
    Ok(Json(json!(query::summary(&context, &filter).await?)))
}

async fn api(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<PublicParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, false)?;
    let (context, filter, _) = prepare(&state, params, None)?;
    Ok(Json(json!(query::requests(&context, &filter).await?)))
}

async fn detailed(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<PublicParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, false)?;
    let (context, filter, _) = prepare(&state, params, None)?;
    Ok(Json(json!({
        "summary": query::summary(&context, &filter).await?,
        "languages": query::language_stats(&context, &filter).await?,
    })))
}

async fn by_language(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<PublicParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, false)?;
    let (context, filter, _) = prepare(&state, params, None)?;
    Ok(Json(
        json!({ "languages": query::language_stats(&context, &filter).await? }),
    ))
}

async fn by_api_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(key): Path<String>,
    params: Result<Query<PublicParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, true)?;
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
    headers: HeaderMap,
    params: Result<Query<PublicParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, false)?;
    let (context, filter, _) = prepare(&state, params, None)?;
    Ok(Json(json!(query::pool(&context, &filter).await?)))
}
