//! Dispatch of the dashboard's server functions (`app::api`), with the
//! application state provided as their [`SharedBackend`] context.

use std::sync::Arc;

use std::net::SocketAddr;

use app::backend::{Caller, RequestInfo, SharedBackend};
use axum::extract::ConnectInfo;
use axum::{
    body::Body,
    extract::{Request, State},
    response::IntoResponse,
};
use leptos::prelude::provide_context;

use super::routes::{Access, Routes};
use crate::state::AppState;

pub fn routes(routes: Routes) -> Routes {
    let path = format!("{}/{{*fn_name}}", app::api::SERVER_FN_PREFIX);
    routes
        .get(&path, Access::ServerFunctions, handle)
        .post(&path, Access::ServerFunctions, handle)
}

async fn handle(State(state): State<AppState>, request: Request<Body>) -> impl IntoResponse {
    let headers = request.headers();
    let caller = Caller {
        is_admin: super::auth::is_admin(&state, headers),
    };
    let info = RequestInfo {
        session_token: crate::sessions::token_from_cookies(
            headers
                .get(axum::http::header::COOKIE)
                .and_then(|v| v.to_str().ok()),
        )
        .map(str::to_owned),
        client_ip: request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip()),
        https: headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https")),
    };
    let backend: SharedBackend = Arc::new(state);
    leptos_axum::handle_server_fns_with_context(
        move || {
            provide_context(Arc::clone(&backend));
            provide_context(caller);
            provide_context(info.clone());
        },
        request,
    )
    .await
}
