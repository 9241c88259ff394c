//! HTTP surface: one router per feature, merged here.

mod admin_keys;
mod admin_live;
mod admin_metrics;
mod assets;
pub mod error;
mod health;
mod public_metrics;
mod server_fns;

use axum::{Router, response::Redirect, routing::get};
use tower_http::{compression::CompressionLayer, trace::TraceLayer};

use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/monitoring") }))
        .merge(health::router())
        .merge(crate::ingest::router(state.config.max_body_bytes))
        .merge(admin_keys::router())
        .merge(admin_live::router())
        .merge(admin_metrics::router())
        .merge(public_metrics::router())
        .merge(server_fns::router())
        .merge(assets::router(&state.config.assets_dir))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
