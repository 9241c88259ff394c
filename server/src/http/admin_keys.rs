//! Admin changes to API keys and tenants:
//! - `PUT /api/v1/admin/api-keys/{key}`: give a key a human name;
//! - `PUT /api/v1/admin/api-keys/{key}/tenant`: put a key into a tenant;
//! - `GET /api/v1/admin/tenants`: every tenant with its keys.

use axum::{
    Json,
    extract::{Path, State},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    error::ApiError,
    extract::ApiJson,
    openapi::Doc,
    routes::{Access, Routes},
};
use crate::state::AppState;

pub fn routes(routes: Routes) -> Routes {
    let not_found = "no API key starts with that prefix";
    routes
        .put("/api/v1/admin/api-keys/{key}", Access::Admin, name_key)
        .doc(
            Doc::new("Names an API key (64-hex hash or 16-hex prefix)")
                .json_body::<NameBody>()
                .error(404, not_found),
        )
        .put(
            "/api/v1/admin/api-keys/{key}/tenant",
            Access::Admin,
            set_tenant,
        )
        .doc(
            Doc::new("Puts an API key into a tenant, or out of it")
                .json_body::<TenantBody>()
                .error(404, not_found),
        )
        .get("/api/v1/admin/tenants", Access::Admin, tenants)
        .doc(Doc::new("Every tenant with its keys"))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NameBody {
    /// The new name; `null` clears it. Required: `{}` changes nothing by mistake.
    #[serde(default, deserialize_with = "present")]
    #[schema(required = true, value_type = Option<String>)]
    name: Option<Option<String>>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TenantBody {
    /// The tenant; `null` takes the key out of its tenant. Required.
    #[serde(default, deserialize_with = "present")]
    #[schema(required = true, value_type = Option<String>)]
    tenant: Option<Option<String>>,
}

/// A field given (even as `null`) reads as `Some`; a missing one stays `None`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn required<T>(field: &str, value: Option<T>, null_means: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::BadRequest(format!("`{field}` is required (null {null_means})")))
}

async fn name_key(
    State(state): State<AppState>,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<NameBody>,
) -> Result<Json<Value>, ApiError> {
    let name = required("name", body.name, "clears it")?.map(|n| n.trim().to_owned());
    let prefix = state.set_key_name(&key, name.as_deref()).await?;
    Ok(Json(json!({ "key_prefix": prefix, "name": name })))
}

async fn set_tenant(
    State(state): State<AppState>,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<TenantBody>,
) -> Result<Json<Value>, ApiError> {
    let tenant = required("tenant", body.tenant, "takes the key out of its tenant")?
        .map(|t| t.trim().to_owned());
    let prefix = state.put_key_in_tenant(&key, tenant.as_deref()).await?;
    Ok(Json(json!({ "key_prefix": prefix, "tenant": tenant })))
}

async fn tenants(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let tenants: Vec<Value> = state
        .tenants()
        .await?
        .into_iter()
        .map(|t| json!({ "tenant": t.tenant, "key_count": t.keys.len(), "keys": t.keys }))
        .collect();
    Ok(Json(json!({ "tenants": tenants })))
}
