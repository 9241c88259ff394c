//! Alert rules and history:
//! - `GET /api/v1/admin/alerts/rules`: the rules file and what is in force;
//! - `PUT /api/v1/admin/alerts/rules`: a new rules file (TOML body);
//! - `GET /api/v1/admin/alerts/history?limit=N`: the latest incidents.

use app::{
    backend::Backend,
    types::{AlertIncident, AlertRulesDoc},
};
use axum::{Json, extract::State, http::HeaderMap};
use serde::Deserialize;

use super::{
    error::ApiError,
    extract::ApiQuery,
    openapi::Doc,
    routes::{Access, Routes},
};
use crate::state::AppState;

pub fn routes(routes: Routes) -> Routes {
    routes
        .get("/api/v1/admin/alerts/rules", Access::Admin, rules)
        .doc(Doc::new("The alert rules file and the rules in force").json::<AlertRulesDoc>())
        .put("/api/v1/admin/alerts/rules", Access::Admin, save_rules)
        .doc(
            Doc::new("Checks and saves a new rules file (TOML; `If-Match: <version>`)")
                .raw_body(&["text/plain", "application/toml"])
                .json::<AlertRulesDoc>()
                .error(409, "the rules changed since that version was read"),
        )
        .post("/api/v1/admin/alerts/test", Access::Admin, test_webhooks)
        .doc(
            Doc::new("Sends a test message to every webhook target")
                .json_list::<app::types::WebhookTest>(),
        )
        .get("/api/v1/admin/alerts/history", Access::Admin, history)
        .doc(
            Doc::new("The latest incidents, newest first")
                .query::<HistoryParams>()
                .json_list::<AlertIncident>(),
        )
}

async fn rules(State(state): State<AppState>) -> Result<Json<AlertRulesDoc>, ApiError> {
    Ok(Json(state.alert_rules().await?))
}

/// The body is the whole TOML file; it is checked before anything changes.
/// `If-Match: <version>` (from the GET) refuses with 409 when the rules
/// changed meanwhile.
async fn save_rules(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<AlertRulesDoc>, ApiError> {
    let base = headers
        .get(axum::http::header::IF_MATCH)
        .map(|v| {
            v.to_str()
                .map(|v| v.trim().trim_matches('"').to_owned())
                .map_err(|_| ApiError::BadRequest("If-Match: not a version".to_owned()))
        })
        .transpose()?;
    Ok(Json(state.save_alert_rules(&body, base.as_deref()).await?))
}

/// Sends a test message to every webhook target now.
async fn test_webhooks(
    State(state): State<AppState>,
) -> Result<Json<Vec<app::types::WebhookTest>>, ApiError> {
    Ok(Json(state.test_webhooks().await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct HistoryParams {
    limit: Option<u32>,
}

async fn history(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<HistoryParams>,
) -> Result<Json<Vec<AlertIncident>>, ApiError> {
    Ok(Json(state.alert_history(params.limit.unwrap_or(50)).await?))
}
