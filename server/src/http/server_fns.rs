//! Dispatch of the dashboard's server functions (`app::api`), with the
//! application state provided as their [`SharedBackend`] context.

use std::sync::Arc;

use app::backend::{Caller, SharedBackend};
use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    response::IntoResponse,
    routing::post,
};
use leptos::prelude::provide_context;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    let path = format!("{}/{{*fn_name}}", app::api::SERVER_FN_PREFIX);
    Router::new().route(&path, post(handle).get(handle))
}

async fn handle(State(state): State<AppState>, request: Request<Body>) -> impl IntoResponse {
    let caller = Caller {
        is_admin: crate::auth::require_admin(&state, request.headers()).is_ok(),
    };
    let backend: SharedBackend = Arc::new(state);
    leptos_axum::handle_server_fns_with_context(
        move || {
            provide_context(Arc::clone(&backend));
            provide_context(caller);
        },
        request,
    )
    .await
}
