//! Dispatch of the dashboard's server functions (`app::api`), with the
//! application state provided as their [`SharedBackend`] context. A failed
//! server function answers with its [`AppError`]'s own status.

use std::{net::SocketAddr, sync::Arc};

use app::{
    backend::{Caller, RequestInfo, SharedBackend},
    error::AppError,
};
use axum::{
    body::Body,
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use leptos::prelude::provide_context;
use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;

use super::routes::{Access, Routes};
use crate::state::AppState;

pub fn routes(routes: Routes) -> Routes {
    let path = format!("{}/{{*fn_name}}", app::api::SERVER_FN_PREFIX);
    routes
        .get(&path, Access::ServerFunctions, handle)
        .post(&path, Access::ServerFunctions, handle)
}

async fn handle(State(state): State<AppState>, request: Request<Body>) -> Response {
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
    let response = leptos_axum::handle_server_fns_with_context(
        move || {
            provide_context(Arc::clone(&backend));
            provide_context(caller);
            provide_context(info.clone());
        },
        request,
    )
    .await
    .into_response();
    with_error_status(response).await
}

/// Largest error body read back (errors are a line of JSON).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// `server_fn` answers every failure with a 500; this gives it its error's
/// status (400 for arguments that could not be read, 401, 429 with
/// `Retry-After`, ...) and a JSON content type.
async fn with_error_status(response: Response) -> Response {
    if !response.headers().contains_key(SERVER_FN_ERROR_HEADER) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(seconds) = error.retry_after_secs() {
            parts
                .headers
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}
