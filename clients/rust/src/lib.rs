//! A producer client for Tally, the usage-metrics service: record executions,
//! API requests and container-pool events from a tokio application, and a
//! background task sends them in batches.
//!
//! ```no_run
//! # async fn run() -> Result<(), tally_client::BuildError> {
//! use tally_client::{Client, Execution, Status};
//! let tally = Client::builder("http://127.0.0.1:8080", "ingest-key").build()?;
//! tally.record_execution(Execution::new("python", Status::Completed, 182.5)).ok();
//! tally.shutdown().await; // sends what is queued, within a deadline
//! # Ok(()) }
//! ```
//!
//! What it promises:
//!
//! * **Never in the caller's way.** `record_*` checks the event, stamps it
//!   and queues it under a short lock; it never waits for the network.
//! * **At least once, counted once.** An event gets its id and time when it
//!   is recorded (a random id when it has none), and every attempt sends the
//!   same id and time: Tally knows the event by them and counts a retry once.
//!   Connection errors, timeouts, 5xx, 408, 425 and 429 are retried with
//!   exponential backoff and full jitter, never sooner than a `Retry-After`;
//!   an event is only given up at shutdown or when a full queue pushes it out.
//! * **Bounded memory.** At most `queue_capacity` events wait, plus the batch
//!   being sent; when the queue is full the oldest event is dropped and
//!   counted in [`Stats::dropped`].
//! * **Shut down before the runtime ends.** The sender is a task of the
//!   runtime that built the client: `shutdown().await` at exit sends what is
//!   queued; a runtime dropped first takes the queue with it.
//! * **Refusals are final and narrow.** Events Tally would refuse are refused
//!   by `record_*` already. If Tally still refuses one event of a batch (a
//!   timestamp outside its window), only that event is counted as rejected
//!   and the rest are sent again; a 413 splits the batch in halves.
//!
//! With the `tower` feature (on by default), [`TallyLayer`] records every
//! request of an axum app by its route template.

#![warn(missing_docs)]

mod deliver;
mod event;
#[cfg(feature = "tower")]
pub mod layer;
mod queue;
mod sender;
mod stats;
mod validate;
mod wire;

use std::{fmt, sync::Arc, time::Duration};

use reqwest::header::HeaderValue;

pub use event::{
    ApiKey, ContainerSource, Execution, InvalidEvent, Method, PoolEvent, PoolKind, Request, Status,
    UnknownMethod,
};
#[cfg(feature = "tower")]
pub use layer::{CacheHit, TallyLayer, TallyService};
pub use stats::Stats;

use deliver::{Backoff, Deliverer};
use queue::Pushed;
use sender::Shared;
use wire::Event;

/// Where the client starts: [`Client::builder`].
#[derive(Debug)]
pub struct Client(());

impl Client {
    /// A client of the Tally at `url` (`http://host:port`), sending with
    /// `ingest_key` (the ingest or master key).
    pub fn builder(url: impl Into<String>, ingest_key: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            url: url.into(),
            key: ingest_key.into(),
            batch_size: 500,
            max_delay: Duration::from_secs(1),
            queue_capacity: 10_000,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

/// The client's options; [`ClientBuilder::build`] starts it.
pub struct ClientBuilder {
    url: String,
    key: String,
    batch_size: usize,
    max_delay: Duration,
    queue_capacity: usize,
    initial_backoff: Duration,
    max_backoff: Duration,
    request_timeout: Duration,
    shutdown_timeout: Duration,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("url", &self.url)
            .field("key", &"[redacted]")
            .field("batch_size", &self.batch_size)
            .field("max_delay", &self.max_delay)
            .field("queue_capacity", &self.queue_capacity)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("request_timeout", &self.request_timeout)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish()
    }
}

impl ClientBuilder {
    /// Most events per request (default 500; 1 to 10 000, Tally's limit).
    pub fn batch_size(mut self, events: usize) -> Self {
        self.batch_size = events.clamp(1, 10_000);
        self
    }

    /// Longest an event waits for its batch to fill (default 1 s).
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Most events waiting to be sent (default 10 000); beyond it the
    /// oldest is dropped.
    pub fn queue_capacity(mut self, events: usize) -> Self {
        self.queue_capacity = events.max(1);
        self
    }

    /// The first retry's backoff bound (default 100 ms), doubled per retry.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// The largest backoff bound (default 30 s).
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// Longest one request may take before it is retried (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long [`Tally::shutdown`] (or dropping the last handle) keeps
    /// sending what is queued (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Starts the sender on the current tokio runtime.
    pub fn build(self) -> Result<Tally, BuildError> {
        let url = reqwest::Url::parse(&self.url).map_err(|e| BuildError::Url(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(BuildError::Url(
                "the scheme must be http or https".to_owned(),
            ));
        }
        let mut key = HeaderValue::from_str(&self.key).map_err(|_| BuildError::Key)?;
        key.set_sensitive(true);
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| BuildError::NoRuntime)?;
        let http = reqwest::Client::builder()
            .timeout(self.request_timeout)
            .connect_timeout(self.request_timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| BuildError::Http(e.to_string()))?;
        let shared = Arc::new(Shared::new(
            self.queue_capacity,
            self.batch_size,
            self.max_delay,
            self.shutdown_timeout,
        ));
        let deliverer = Deliverer {
            http,
            events_url: format!("{}/api/v1/events/", url.as_str().trim_end_matches('/')),
            key,
            backoff: Backoff {
                initial: self.initial_backoff,
                max: self.max_backoff.max(self.initial_backoff),
            },
            counters: Arc::clone(&shared.counters),
        };
        runtime.spawn(sender::run(Arc::clone(&shared), deliverer));
        Ok(Tally {
            handle: Arc::new(Handle { shared }),
        })
    }
}

/// Why a client could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The URL does not parse or is not http(s).
    #[error("the Tally URL is not valid: {0}")]
    Url(String),
    /// The key cannot be sent in a header.
    #[error("the ingest key contains characters a header cannot carry")]
    Key,
    /// `build` was called outside a tokio runtime.
    #[error("the client needs a tokio runtime to run its sender in")]
    NoRuntime,
    /// The HTTP client could not be made (TLS set-up).
    #[error("the HTTP client could not be built: {0}")]
    Http(String),
}

/// Why an event was not recorded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Tally would refuse it (counted in [`Stats::invalid`]).
    #[error("invalid event: {0}")]
    Invalid(#[from] InvalidEvent),
    /// The client has been shut down.
    #[error("the Tally client is shut down")]
    Closed,
}

/// A handle on a running client: cheap to clone, shared by every task that
/// records. When the last handle is dropped, the sender sends what is
/// queued (within the shutdown timeout) and stops.
#[derive(Clone)]
pub struct Tally {
    handle: Arc<Handle>,
}

/// Closes the client when the last [`Tally`] goes.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl fmt::Debug for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tally")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Tally {
    /// Queues an execution (stamped with a random `execution_id` and the
    /// current time when they are missing). Never waits.
    pub fn record_execution(&self, execution: Execution) -> Result<(), RecordError> {
        self.record(validate::execution(execution, std::time::SystemTime::now()))
    }

    /// Queues an API request (stamped with a random `id` and the current
    /// time when they are missing). Never waits.
    pub fn record_request(&self, request: Request) -> Result<(), RecordError> {
        self.record(validate::request(request, std::time::SystemTime::now()))
    }

    /// Queues a container-pool event (stamped with a random `id` and the
    /// current time when they are missing). Never waits.
    pub fn record_pool_event(&self, event: PoolEvent) -> Result<(), RecordError> {
        self.record(validate::pool(event, std::time::SystemTime::now()))
    }

    fn record(&self, event: Result<Event, InvalidEvent>) -> Result<(), RecordError> {
        let shared = &self.handle.shared;
        let event = event.inspect_err(|_| stats::Counters::add(&shared.counters.invalid, 1))?;
        match shared.push(event) {
            Pushed::Queued { .. } => Ok(()),
            Pushed::Closed => Err(RecordError::Closed),
        }
    }

    /// Waits until every event recorded before the call is sent, refused or
    /// dropped. While Tally is unreachable that is as long as it stays so:
    /// wrap it in `tokio::time::timeout` to bound it.
    pub async fn flush(&self) {
        self.handle.shared.flush().await;
    }

    /// Stops recording, sends what is queued within the shutdown timeout
    /// (what is still unsent then is dropped), and returns the final counts.
    /// Every handle is closed by it.
    pub async fn shutdown(&self) -> Stats {
        self.handle.shared.close();
        self.handle.shared.finished().await;
        self.stats()
    }

    /// What became of the events so far.
    pub fn stats(&self) -> Stats {
        let shared = &self.handle.shared;
        shared.counters.snapshot(shared.queue.len())
    }
}
