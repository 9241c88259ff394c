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
    extract::{Path, State},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use app::types::{PoolStats, RequestStats, Summary};

use super::{
    admin_metrics::prometheus_response,
    error::ApiError,
    extract::ApiQuery,
    openapi::Doc,
    routes::{Access, Routes},
};
use crate::{
    model::time::HOUR_MS,
    query::{self, params::Filter},
    service::ViewRequest,
    state::AppState,
};

pub fn routes(routes: Routes) -> Routes {
    let aggregate = Access::PublicAggregate;
    let doc = |summary| Doc::new(summary).query::<PublicParams>();
    routes
        .get("/metrics", aggregate, overview)
        .doc(
            doc("The instance, its executions and requests (or Prometheus text)")
                .or_text("text/plain"),
        )
        .get("/metrics/execution", aggregate, execution)
        .doc(doc("Executions of the last hours").json::<Summary>())
        .get("/metrics/api", aggregate, api)
        .doc(doc("API requests of the last hours").json::<RequestStats>())
        .get("/metrics/detailed", aggregate, detailed)
        .doc(doc("Executions with figures per language"))
        .get("/metrics/by-language", aggregate, by_language)
        .doc(doc("Figures per language"))
        .get(
            "/metrics/by-api-key/{key}",
            Access::PublicPerKey,
            by_api_key,
        )
        .doc(
            doc("One API key's usage (16-hex prefix)")
                .error(404, "no API key starts with that prefix"),
        )
        .get("/metrics/pool", aggregate, pool)
        .doc(doc("The container pool of the last hours").json::<PoolStats>())
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
struct PublicParams {
    hours: Option<u32>,
    format: Option<String>,
}

impl PublicParams {
    fn hours(&self) -> Result<u32, ApiError> {
        let hours = self.hours.unwrap_or(24);
        if !(1..=168).contains(&hours) {
            return Err(ApiError::BadRequest(
                "hours: must be between 1 and 168".to_owned(),
            ));
        }
        Ok(hours)
    }

    /// Every key (or the one `key`) over the last `hours`, never before the
    /// oldest data kept.
    fn view(&self, state: &AppState, key: Option<String>) -> Result<ViewRequest, ApiError> {
        let context = state.query_context();
        let to_ms = context.now_ms;
        let from_ms = (to_ms - i64::from(self.hours()?) * HOUR_MS).max(context.daily_oldest_ms);
        let filter = Filter {
            keys: key.map(|key| vec![key]),
            ..Filter::between(from_ms, to_ms)
        };
        Ok(state.view_over(context, filter))
    }
}

async fn overview(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<PublicParams>,
) -> Result<Response, ApiError> {
    let view = params.view(&state, None)?;
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
        "execution": view.run(query::summary).await?,
        "api": view.run(query::requests).await?,
        "hours": params.hours()?,
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
    ApiQuery(params): ApiQuery<PublicParams>,
) -> Result<Json<Value>, ApiError> {
    let view = params.view(&state, None)?;
    Ok(Json(json!(view.run(query::summary).await?)))
}

async fn api(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<PublicParams>,
) -> Result<Json<Value>, ApiError> {
    let view = params.view(&state, None)?;
    Ok(Json(json!(view.run(query::requests).await?)))
}

async fn detailed(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<PublicParams>,
) -> Result<Json<Value>, ApiError> {
    let view = params.view(&state, None)?;
    Ok(Json(json!({
        "summary": view.run(query::summary).await?,
        "languages": view.run(query::language_stats).await?,
    })))
}

async fn by_language(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<PublicParams>,
) -> Result<Json<Value>, ApiError> {
    let view = params.view(&state, None)?;
    Ok(Json(
        json!({ "languages": view.run(query::language_stats).await? }),
    ))
}

async fn by_api_key(
    State(state): State<AppState>,
    Path(key): Path<String>,
    ApiQuery(params): ApiQuery<PublicParams>,
) -> Result<Json<Value>, ApiError> {
    let prefix = query::params::key_prefix(&key)
        .map_err(|m| ApiError::BadRequest(format!("key: `{key}` {m}")))?;
    let view = params.view(&state, Some(prefix.clone()))?;
    let usage = view.run(query::api_keys).await?;
    let Some(usage) = usage.into_iter().next() else {
        return Err(ApiError::NotFound(format!(
            "no API key starts with {prefix}"
        )));
    };
    Ok(Json(json!({
        "key": usage,
        "summary": view.run(query::summary).await?,
        "languages": view.run(query::language_stats).await?,
    })))
}

async fn pool(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<PublicParams>,
) -> Result<Json<Value>, ApiError> {
    let view = params.view(&state, None)?;
    Ok(Json(json!(view.run(query::pool).await?)))
}
