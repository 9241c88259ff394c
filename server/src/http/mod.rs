//! HTTP surface: one set of routes per feature, collected in one
//! [`routes::Routes`] table that builds the router.

mod admin_alerts;
mod admin_custom;
mod admin_keys;
mod admin_live;
mod admin_metrics;
mod admin_views;
mod assets;
pub mod auth;
pub mod error;
mod extract;
mod health;
mod ingest;
mod ingest_body;
pub mod openapi;
mod otlp;
mod public_metrics;
pub mod routes;
mod security;
mod server_fns;

use axum::{
    Router,
    response::{IntoResponse, Redirect},
};
use tower_http::{compression::CompressionLayer, trace::TraceLayer};

use crate::{config::Config, state::AppState};
use routes::{Access, RouteInfo, Routes};

/// Every route of the application.
fn all_routes(config: &Config) -> Routes {
    let mut routes = Routes::new()
        .get("/", Access::Public, || async {
            Redirect::temporary("/monitoring")
        })
        .doc(openapi::Doc::new("Redirects to the dashboard").empty(307));
    routes = health::routes(routes);
    routes = ingest::routes(routes, config.max_body_bytes);
    routes = otlp::routes(routes, config.max_body_bytes);
    routes = admin_alerts::routes(routes);
    routes = admin_custom::routes(routes);
    routes = admin_keys::routes(routes);
    routes = admin_live::routes(routes);
    routes = admin_views::routes(routes);
    routes = admin_metrics::routes(routes);
    routes = public_metrics::routes(routes);
    routes = server_fns::routes(routes);
    routes = routes
        .get("/api/openapi.json", Access::Public, openapi_json)
        .doc(openapi::Doc::new("This OpenAPI document").json_object(200));
    assets::routes(routes, &config.assets_dir)
}

/// The OpenAPI document of every documented route.
pub fn openapi_document(config: &Config) -> utoipa::openapi::OpenApi {
    let routes = all_routes(config);
    openapi::document(
        routes
            .documented()
            .filter_map(|(route, doc)| Some((route, doc?))),
    )
}

/// `GET /api/openapi.json`: the same for every instance, built once.
async fn openapi_json(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> axum::response::Response {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let text = DOCUMENT.get_or_init(|| {
        openapi_document(&state.config)
            .to_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text.clone(),
    )
        .into_response()
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

    /// The OpenAPI document describes every route but the server functions
    /// (the dashboard's, not the REST API) and the static files.
    #[test]
    fn every_rest_route_is_in_the_openapi_document() {
        let config = Config::parse_from(["tally"]);
        let routes = all_routes(&config);
        let undocumented: Vec<String> = routes
            .documented()
            .filter(|(route, doc)| doc.is_none() && route.access != Access::ServerFunctions)
            .map(|(route, _)| format!("{} {}", route.method, route.path))
            .collect();
        assert!(undocumented.is_empty(), "no Doc: {undocumented:?}");

        let document = serde_json::to_value(openapi_document(&config)).unwrap();
        assert_eq!(document["openapi"], "3.1.0");
        for (route, _) in routes.documented().filter(|(_, doc)| doc.is_some()) {
            let method = route.method.to_ascii_lowercase();
            let operation = &document["paths"][&route.path][&method];
            assert!(operation.is_object(), "{method} {} missing", route.path);
            if route.access != Access::Public {
                assert!(operation["responses"]["401"].is_object(), "{}", route.path);
            }
        }
        let summary = &document["components"]["schemas"]["Summary"]["properties"];
        assert!(summary["p95_execution_time_ms"].is_object(), "{summary}");
    }
}
