//! HTTP surface: one set of routes per feature, collected in one
//! [`routes::Routes`] table that builds the router.

mod admin_custom;
mod admin_keys;
mod admin_live;
mod admin_metrics;
mod assets;
pub mod error;
mod health;
mod public_metrics;
pub mod routes;
mod security;
mod server_fns;

use axum::{Router, response::Redirect, routing::get};
use tower_http::{compression::CompressionLayer, trace::TraceLayer};

use crate::{config::Config, state::AppState};
use routes::{Access, RouteInfo, Routes};

/// Every route of the application.
fn all_routes(config: &Config) -> Routes {
    let mut routes = Routes::new().route(
        "/",
        &["GET"],
        Access::Public,
        get(|| async { Redirect::temporary("/monitoring") }),
    );
    routes = health::routes(routes);
    routes = crate::ingest::routes(routes, config.max_body_bytes);
    routes = crate::otlp::routes(routes, config.max_body_bytes);
    routes = admin_custom::routes(routes);
    routes = admin_keys::routes(routes);
    routes = admin_live::routes(routes);
    routes = admin_metrics::routes(routes);
    routes = public_metrics::routes(routes);
    routes = server_fns::routes(routes);
    assets::routes(routes, &config.assets_dir)
}

/// The route table: path, method and access of every route.
pub fn route_table(config: &Config) -> Vec<RouteInfo> {
    all_routes(config).table
}

pub fn router(state: AppState) -> Router {
    let security = security::headers(&state.config.assets_dir);
    all_routes(&state.config)
        .router
        .layer(axum::middleware::from_fn(move |request, next| {
            security::apply(security.clone(), request, next)
        }))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
