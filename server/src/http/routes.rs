//! The route table: every route is added through [`Routes`], which records
//! its path, method and who may call it, and installs the guard for that
//! [`Access`] when it builds the axum router. A route cannot be added
//! without its access, and the table the security tests walk is the one the
//! router is built from.

use axum::{
    Router,
    extract::{Request, State},
    handler::Handler,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{MethodFilter, MethodRouter, on},
};
use serde::Serialize;

use super::{auth, openapi::Doc};
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

struct Entry {
    info: RouteInfo,
    service: MethodRouter<AppState>,
    doc: Option<Doc>,
}

#[derive(Default)]
pub struct Routes {
    entries: Vec<Entry>,
    /// Routers added whole (static files), with the paths they serve.
    merged: Vec<(Vec<RouteInfo>, Router<AppState>)>,
}

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get<H, T>(self, path: &str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(path, ("GET", MethodFilter::GET), access, handler)
    }

    pub fn post<H, T>(self, path: &str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(path, ("POST", MethodFilter::POST), access, handler)
    }

    pub fn put<H, T>(self, path: &str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(path, ("PUT", MethodFilter::PUT), access, handler)
    }

    fn add<H, T>(
        mut self,
        path: &str,
        (method, filter): (&'static str, MethodFilter),
        access: Access,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.entries.push(Entry {
            info: RouteInfo {
                method,
                path: path.to_owned(),
                access,
            },
            service: on(filter, handler),
            doc: None,
        });
        self
    }

    /// What the OpenAPI document says of the route added last.
    pub fn doc(mut self, doc: Doc) -> Self {
        if let Some(entry) = self.entries.last_mut() {
            entry.doc = Some(doc);
        }
        self
    }

    /// Every route with its document entry, if it has one.
    pub fn documented(&self) -> impl Iterator<Item = (&RouteInfo, Option<&Doc>)> {
        self.entries.iter().map(|e| (&e.info, e.doc.as_ref()))
    }

    /// Adds an already built router of public pages (static files) and
    /// records the paths it serves.
    pub fn merge_public(mut self, paths: &[&str], router: Router<AppState>) -> Self {
        let infos = paths
            .iter()
            .map(|path| RouteInfo {
                method: "GET",
                path: (*path).to_owned(),
                access: Access::Public,
            })
            .collect();
        self.merged.push((infos, router));
        self
    }

    /// Path, method and access of every route.
    pub fn table(&self) -> Vec<RouteInfo> {
        self.entries
            .iter()
            .map(|e| e.info.clone())
            .chain(
                self.merged
                    .iter()
                    .flat_map(|(infos, _)| infos.iter().cloned()),
            )
            .collect()
    }

    /// The router, each route behind the guard of its access.
    pub fn into_router(self, state: &AppState) -> Router<AppState> {
        let mut router = Router::new();
        for Entry { info, service, .. } in self.entries {
            let service = match info.access {
                // Server functions check their caller themselves.
                Access::Public | Access::ServerFunctions => service,
                access => service.route_layer(middleware::from_fn_with_state(
                    state.clone(),
                    move |State(state): State<AppState>, request: Request, next: Next| {
                        guard(access, state, request, next)
                    },
                )),
            };
            router = router.route(&info.path, service);
        }
        for (_, merged) in self.merged {
            router = router.merge(merged);
        }
        router
    }
}

/// Lets the request through if `access` admits its caller; 401 otherwise.
async fn guard(access: Access, state: AppState, request: Request, next: Next) -> Response {
    match auth::admits(&state, request.headers(), access) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}
