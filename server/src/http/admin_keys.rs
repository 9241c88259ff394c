//! `PUT /api/v1/admin/api-keys/{key}`: give an API key a human name.

use axum::{
    Json,
    extract::{Path, State, rejection::JsonRejection},
    http::HeaderMap,
    routing::put,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    error::ApiError,
    routes::{Access, Routes},
};
use crate::{auth, clock, ingest::events::KeyHash, state::AppState, storage::keys::NameOutcome};

pub fn routes(routes: Routes) -> Routes {
    routes.route(
        "/api/v1/admin/api-keys/{key}",
        &["PUT"],
        Access::Admin,
        put(name_key),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameBody {
    /// The new name; `null` clears it.
    name: Option<String>,
}

const MAX_NAME: usize = 64;

async fn name_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(key): Path<String>,
    body: Result<Json<NameBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    auth::require_admin(&state, &headers)?;
    let Json(body) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let name = body.name.map(|n| n.trim().to_owned());
    if let Some(name) = &name
        && (name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control))
    {
        return Err(ApiError::BadRequest(format!(
            "`name` must be 1 to {MAX_NAME} printable characters, or null to clear it"
        )));
    }
    let key = key.to_ascii_lowercase();
    let prefix = if key.len() == 64 {
        let hash = KeyHash::parse(&key).map_err(|m| ApiError::BadRequest(format!("key: {m}")))?;
        state
            .storage
            .name_key(&hash, name.as_deref(), clock::now_ms())
            .await?;
        hash.prefix().to_owned()
    } else if key.len() == 16 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
        match state
            .storage
            .name_key_by_prefix(&key, name.as_deref())
            .await?
        {
            NameOutcome::Named => key,
            NameOutcome::UnknownPrefix => {
                return Err(ApiError::NotFound(format!("no API key starts with {key}")));
            }
            NameOutcome::AmbiguousPrefix => {
                return Err(ApiError::BadRequest(format!(
                    "several API keys start with {key}: give the full 64-hex hash"
                )));
            }
        }
    } else {
        return Err(ApiError::BadRequest(
            "the key must be a 64-hex SHA-256 hash or its 16-hex prefix".to_owned(),
        ));
    };
    Ok(Json(json!({ "key_prefix": prefix, "name": name })))
}
