//! Who may call what. Ingest takes the ingest key or the master key; the
//! admin API takes the master key. Keys arrive in `x-api-key` or as
//! `Authorization: Bearer <key>` and are compared in constant time. The
//! route table calls [`admits`] before a handler runs; handlers never check.

use axum::http::HeaderMap;

use super::{error::ApiError, routes::Access};
use crate::{
    config::{PublicMetrics, key_matches},
    state::AppState,
};

/// Whether `access` lets this caller in: `Unauthorized` if not.
pub fn admits(state: &AppState, headers: &HeaderMap, access: Access) -> Result<(), ApiError> {
    let public_metrics = state.config.public_metrics;
    match access {
        Access::Public | Access::ServerFunctions => Ok(()),
        Access::Ingest => require_ingest_key(state, headers),
        Access::Admin => require_admin(state, headers),
        Access::PublicAggregate if public_metrics != PublicMetrics::Closed => Ok(()),
        Access::PublicPerKey if public_metrics == PublicMetrics::All => Ok(()),
        Access::PublicAggregate | Access::PublicPerKey => require_admin(state, headers),
    }
}

/// Whether the caller holds the master key or a dashboard session.
pub fn is_admin(state: &AppState, headers: &HeaderMap) -> bool {
    require_admin(state, headers).is_ok()
}

/// The key presented with a request, if any.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(key.trim());
    }
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

fn require_master_key(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match presented_key(headers) {
        Some(key) if key_matches(key, &state.master_key) => Ok(()),
        _ => Err(ApiError::Unauthorized),
    }
}

/// Admin access: the master key, or a dashboard session cookie.
fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if require_master_key(state, headers).is_ok() {
        return Ok(());
    }
    let cookies = headers
        .get(axum::http::header::COOKIE)
        .and_then(|v| v.to_str().ok());
    match crate::sessions::token_from_cookies(cookies) {
        Some(token) if state.sessions.is_valid(token) => Ok(()),
        _ => Err(ApiError::Unauthorized),
    }
}

fn require_ingest_key(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(key) = presented_key(headers) else {
        return Err(ApiError::Unauthorized);
    };
    let ingest_ok = state
        .config
        .ingest_api_key
        .as_ref()
        .is_some_and(|ingest| key_matches(key, ingest));
    if ingest_ok || key_matches(key, &state.master_key) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}
