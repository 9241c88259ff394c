//! The route table: every route is added through [`Routes`], which records
//! its path, methods and who may call it while building the axum router. The
//! table is what the security tests walk, so it cannot drift from the router.

use axum::{Router, routing::MethodRouter};
use serde::Serialize;

use crate::state::AppState;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Access {
    /// Anyone.
    Public,
    /// The ingest key or the master key.
    Ingest,
    /// The master key or a dashboard session.
    Admin,
    /// Public aggregates: open unless `PUBLIC_METRICS=false`.
    PublicAggregate,
    /// Per-key public metrics: the master key unless `PUBLIC_METRICS=all`.
    PublicPerKey,
    /// Server functions: each one checks the caller itself.
    ServerFunctions,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RouteInfo {
    pub method: &'static str,
    /// The axum path, with `{param}` placeholders.
    pub path: String,
    pub access: Access,
}

pub struct Routes {
    pub(super) router: Router<AppState>,
    pub(super) table: Vec<RouteInfo>,
}

impl Routes {
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    /// Adds `service` at `path` for `methods`.
    pub fn route(
        mut self,
        path: &str,
        methods: &[&'static str],
        access: Access,
        service: MethodRouter<AppState>,
    ) -> Self {
        self.router = self.router.route(path, service);
        self.record(path, methods, access);
        self
    }

    /// Adds an already built router (static files) and records its paths.
    pub fn merge(mut self, paths: &[&str], access: Access, router: Router<AppState>) -> Self {
        self.router = self.router.merge(router);
        for path in paths {
            self.record(path, &["GET"], access);
        }
        self
    }

    fn record(&mut self, path: &str, methods: &[&'static str], access: Access) {
        self.table.extend(methods.iter().map(|method| RouteInfo {
            method,
            path: path.to_owned(),
            access,
        }));
    }
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}
