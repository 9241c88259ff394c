//! Serves the built dashboard (Trunk's `dist/`) under `/monitoring`.
//!
//! Trunk names every asset with a content hash, so those are cached for a
//! year; `index.html`, which points at the current hashes, is revalidated on
//! every load. Client-side routes under `/monitoring` fall back to it.

use std::path::Path;

use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, header},
    middleware::{self, Next},
    response::Response,
};
use tower_http::services::{ServeDir, ServeFile};

use super::routes::Routes;
use crate::state::AppState;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

pub fn routes(routes: Routes, dist: &Path) -> Routes {
    routes.merge_public(&["/monitoring", "/monitoring/{*path}"], router(dist))
}

fn router(dist: &Path) -> Router<AppState> {
    let index = ServeFile::new(dist.join("index.html"));
    let files = ServeDir::new(dist).fallback(index.clone());
    Router::new()
        .route_service("/monitoring", index)
        .nest_service("/monitoring/", files)
        .layer(middleware::from_fn(cache_headers))
}

async fn cache_headers(request: Request, next: Next) -> Response {
    let hashed = is_hashed_asset(request.uri().path());
    let mut response = next.run(request).await;
    if response.status().is_success() {
        let policy = if hashed { IMMUTABLE } else { REVALIDATE };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}

/// True for Trunk's hashed file names such as `frontend-1a2b3c4d5e6f7a8b_bg.wasm`
/// (the hash is a hex `u64`, so leading zeros may be missing).
fn is_hashed_asset(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let stem = name.split('.').next().unwrap_or_default();
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        (8..=16).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use super::is_hashed_asset;

    #[test]
    fn recognises_trunk_hashed_names() {
        assert!(is_hashed_asset(
            "/monitoring/frontend-1a2b3c4d5e6f7a8b_bg.wasm"
        ));
        assert!(is_hashed_asset("/monitoring/frontend-1a2b3c4d5e6f7a8b.js"));
        assert!(is_hashed_asset("/monitoring/main-00ff00ff00ff00ff.css"));
        assert!(is_hashed_asset("/monitoring/frontend-c467b0ffddaeb1a.js"));
        assert!(!is_hashed_asset("/monitoring/index.html"));
        assert!(!is_hashed_asset("/monitoring"));
        assert!(!is_hashed_asset("/monitoring/login"));
        assert!(!is_hashed_asset("/monitoring/x-notahexhashvalue.js"));
    }
}
