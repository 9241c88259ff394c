//! A tower layer for axum that records every request it answers: by route
//! template ([`MatchedPath`], never the raw path, so one row per route and a
//! bounded number of rows), method, status, time to the response head, the
//! caller's API key as its SHA-256, and whether the handler marked the
//! answer as a cache hit.
//!
//! ```no_run
//! # async fn run(tally: tally_client::Tally) {
//! use axum::{Router, http::HeaderName, routing::get};
//! use tally_client::{CacheHit, TallyLayer};
//! let app: Router = Router::new()
//!     .route("/items/{id}", get(|| async { (CacheHit(true), "an item") }))
//!     .layer(TallyLayer::new(tally).api_key_header(HeaderName::from_static("x-api-key")));
//! # }
//! ```
//!
//! Add it with `Router::layer` (not around the finished router): axum sets
//! `MatchedPath` when it routes, and a layer outside the router sees none.
//! Requests no route matched are recorded as [`UNMATCHED`]. A request whose
//! caller goes away before the answer is ready is not recorded.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Instant,
};

use axum::{
    extract::MatchedPath,
    http::{HeaderName, Request as HttpRequest, Response as HttpResponse},
    response::{IntoResponseParts, ResponseParts},
};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::{ApiKey, Method, Request, Tally};

/// The endpoint recorded for requests that matched no route: a fixed label,
/// so scanners probing random paths add no rows.
pub const UNMATCHED: &str = "/<unmatched>";

/// Marks a response as answered from a cache. Return it from a handler
/// (`(CacheHit(true), body)`) or insert it into the response's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheHit(pub bool);

impl IntoResponseParts for CacheHit {
    type Error = Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Infallible> {
        res.extensions_mut().insert(self);
        Ok(res)
    }
}

/// Records each request of the service it wraps into a [`Tally`].
#[derive(Clone, Debug)]
pub struct TallyLayer {
    config: Arc<Config>,
}

#[derive(Clone, Debug)]
struct Config {
    tally: Tally,
    key_header: Option<HeaderName>,
}

impl TallyLayer {
    /// Records into `tally`, with no API key.
    pub fn new(tally: Tally) -> Self {
        Self {
            config: Arc::new(Config {
                tally,
                key_header: None,
            }),
        }
    }

    /// Attributes each request to the API key in `header` (`x-api-key`, or
    /// `authorization` with or without `Bearer `). The key is hashed on the
    /// request path; only its SHA-256 is recorded.
    pub fn api_key_header(mut self, header: HeaderName) -> Self {
        Arc::make_mut(&mut self.config).key_header = Some(header);
        self
    }
}

impl<S> Layer<S> for TallyLayer {
    type Service = TallyService<S>;

    fn layer(&self, inner: S) -> TallyService<S> {
        TallyService {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service [`TallyLayer`] makes.
#[derive(Clone, Debug)]
pub struct TallyService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S, ReqBody, ResBody> Service<HttpRequest<ReqBody>> for TallyService<S>
where
    S: Service<HttpRequest<ReqBody>, Response = HttpResponse<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest<ReqBody>) -> Self::Future {
        let started = Instant::now();
        // Extension methods are not stored by Tally: such requests are not recorded.
        let pending = Method::try_from(request.method())
            .ok()
            .map(|method| Pending {
                config: Arc::clone(&self.config),
                started,
                method,
                endpoint: request
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or(UNMATCHED, MatchedPath::as_str)
                    .to_owned(),
                api_key: self
                    .config
                    .key_header
                    .as_ref()
                    .and_then(|header| api_key(request.headers().get(header)?)),
            });
        ResponseFuture {
            inner: self.inner.call(request),
            pending,
        }
    }
}

/// The key a header carries, without a `Bearer ` scheme; `None` if empty.
fn api_key(value: &axum::http::HeaderValue) -> Option<ApiKey> {
    let value = value.to_str().ok()?.trim();
    let key = match (value.get(..6), value.get(6..)) {
        (Some(scheme), Some(rest))
            if scheme.eq_ignore_ascii_case("bearer")
                && (rest.is_empty() || rest.starts_with(' ')) =>
        {
            rest.trim_start()
        }
        _ => value,
    };
    (!key.is_empty()).then(|| ApiKey::raw(key))
}

/// What is known of a request before its answer.
#[derive(Debug)]
struct Pending {
    config: Arc<Config>,
    started: Instant,
    method: Method,
    endpoint: String,
    api_key: Option<ApiKey>,
}

impl Pending {
    fn record(self, status_code: u16, cache_hit: Option<CacheHit>) {
        let request = Request {
            api_key: self.api_key,
            cache_hit: cache_hit.map(|c| c.0),
            ..Request::new(
                self.method,
                self.endpoint,
                status_code,
                self.started.elapsed().as_secs_f64() * 1e3,
            )
        };
        // An invalid event is counted in the stats; a closed client records nothing.
        let _ = self.config.tally.record_request(request);
    }
}

pin_project! {
    /// The response future of [`TallyService`]: records the request when
    /// the inner service answers.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        pending: Option<Pending>,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<HttpResponse<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Some(pending) = this.pending.take() {
            match &result {
                Ok(response) => pending.record(
                    response.status().as_u16(),
                    response.extensions().get::<CacheHit>().copied(),
                ),
                // A service error is an answer the caller never got: a 500.
                Err(_) => pending.record(500, None),
            }
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::{Router, body::Body, http::HeaderValue, routing::get};
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::Client;

    /// The layer's events as they would be sent (nothing listens at the URL,
    /// and the long delay keeps them queued).
    fn queued(tally: &Tally) -> Vec<Value> {
        let entries = tally.handle.shared.queue.take(usize::MAX);
        entries
            .iter()
            .map(|e| serde_json::from_slice(&e.event.to_json()).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn requests_are_recorded_by_route_template_with_key_hash_and_cache_hit() {
        let tally = Client::builder("http://127.0.0.1:9", "key")
            .max_delay(Duration::from_secs(3600))
            .build()
            .unwrap();
        let app = Router::new()
            .route("/items/{id}", get(|| async { (CacheHit(true), "item") }))
            .layer(
                TallyLayer::new(tally.clone())
                    .api_key_header(HeaderName::from_static("authorization")),
            );
        for uri in ["/items/7", "/items/8?x=1", "/nothing/here"] {
            let request = HttpRequest::builder()
                .uri(uri)
                .header("authorization", "Bearer sk-live-1")
                .body(Body::empty())
                .unwrap();
            app.clone().oneshot(request).await.unwrap();
        }
        let events = queued(&tally);
        let endpoints: Vec<&str> = events
            .iter()
            .map(|e| e["endpoint"].as_str().unwrap())
            .collect();
        assert_eq!(endpoints, ["/items/{id}", "/items/{id}", UNMATCHED]);
        assert_eq!(events[0]["status_code"], 200);
        assert_eq!(events[0]["cache_hit"], true);
        assert_eq!(events[2]["status_code"], 404);
        assert!(events[2].get("cache_hit").is_none());
        assert_eq!(events[0]["api_key_hash"], ApiKey::raw("sk-live-1").hash());
        assert!(!events[0].to_string().contains("sk-live-1"));
        assert_ne!(events[0]["id"], events[1]["id"]);
    }

    #[test]
    fn keys_are_read_with_or_without_bearer() {
        let raw = ApiKey::raw("sk-1");
        assert_eq!(
            api_key(&HeaderValue::from_static("sk-1")),
            Some(raw.clone())
        );
        assert_eq!(
            api_key(&HeaderValue::from_static("Bearer sk-1")),
            Some(raw.clone())
        );
        assert_eq!(
            api_key(&HeaderValue::from_static("bearer  sk-1")),
            Some(raw)
        );
        assert_eq!(api_key(&HeaderValue::from_static("Bearer ")), None);
        assert_eq!(api_key(&HeaderValue::from_static("")), None);
    }
}
