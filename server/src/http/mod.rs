//! HTTP surface: one set of routes per feature, collected in one
//! [`routes::Routes`] table that builds the router.

mod admin_alerts;
mod admin_custom;
mod admin_keys;
mod admin_live;
mod admin_metrics;
mod assets;
pub mod auth;
pub mod error;
mod extract;
mod health;
mod ingest;
mod ingest_body;
mod otlp;
mod public_metrics;
pub mod routes;
mod security;
mod server_fns;

use axum::{Router, response::Redirect};
use tower_http::{compression::CompressionLayer, trace::TraceLayer};

use crate::{config::Config, state::AppState};
use routes::{Access, RouteInfo, Routes};

/// Every route of the application.
fn all_routes(config: &Config) -> Routes {
    let mut routes = Routes::new().get("/", Access::Public, || async {
        Redirect::temporary("/monitoring")
    });
    routes = health::routes(routes);
    routes = ingest::routes(routes, config.max_body_bytes);
    routes = otlp::routes(routes, config.max_body_bytes);
    routes = admin_alerts::routes(routes);
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
    all_routes(config).table()
}

pub fn router(state: AppState) -> Router {
    let security = security::headers(&state.config.assets_dir);
    let metrics = std::sync::Arc::clone(&state.self_metrics);
    all_routes(&state.config)
        .into_router(&state)
        .layer(axum::middleware::from_fn(move |request, next| {
            count_request(std::sync::Arc::clone(&metrics), request, next)
        }))
        .layer(axum::middleware::from_fn(move |request, next| {
            security::apply(security.clone(), request, next)
        }))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Counts every request by matched route (never the raw path: bounded
/// labels), method and status class, and times it.
async fn count_request(
    metrics: std::sync::Arc<crate::self_metrics::SelfMetrics>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    metrics
        .http_duration
        .record(started.elapsed().as_secs_f64());
    let class = format!("{}xx", response.status().as_u16() / 100);
    metrics.http_requests.add(
        vec![
            ("route", route),
            ("method", method),
            ("status_class", class),
        ],
        1,
    );
    response
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// Every route's access is declared with it; this holds the
    /// declarations to the API's layout, so a new admin or ingest route
    /// declared open fails here.
    #[test]
    fn each_route_declares_the_access_its_path_calls_for() {
        let table = route_table(&Config::parse_from(["tally"]));
        let server_fns = app::api::SERVER_FN_PREFIX;
        for route in &table {
            let path = route.path.as_str();
            let expected = if path.starts_with("/api/v1/admin/") {
                Access::Admin
            } else if path.starts_with("/api/v1/events/") || path == "/v1/metrics" {
                Access::Ingest
            } else if path.starts_with("/metrics/by-api-key/") {
                Access::PublicPerKey
            } else if path == "/metrics" || path.starts_with("/metrics/") {
                Access::PublicAggregate
            } else if path.starts_with(server_fns) {
                Access::ServerFunctions
            } else {
                Access::Public
            };
            assert_eq!(route.access, expected, "{} {path}", route.method);
        }
        let admin = table.iter().filter(|r| r.access == Access::Admin).count();
        assert!(admin >= 20, "{admin} admin routes in {table:?}");
    }
}
