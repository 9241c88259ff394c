//! HTTP ingest: `POST /api/v1/events/{executions,requests,pool}`.
//!
//! A body is a JSON array, a single JSON object, or NDJSON (one object per
//! line), chosen by Content-Type. Every event is parsed and validated before
//! anything is written; one bad event rejects the whole batch with a 400
//! naming its index and field. Valid batches go to the [`writer::Writer`],
//! and the request is answered once they are committed.

use axum::{
    Json,
    body::Bytes,
    extract::{DefaultBodyLimit, State, rejection::BytesRejection},
    handler::Handler,
    http::HeaderMap,
};
use serde::{Serialize, de::DeserializeOwned};

use super::{
    error::ApiError,
    ingest_body::{self as body, BodyFormat},
    openapi::Doc,
    routes::{Access, Routes},
};
use crate::{
    clock,
    model::time::DAY_MS,
    model::{
        ApiRequest, Batch, Execution, ExecutionInput, FieldError, KeyMemo, Limits, PoolEvent,
        PoolInput, RequestInput,
    },
    state::AppState,
};

/// Bodies above this size are parsed on the blocking pool, not on the
/// async workers.
const PARSE_INLINE_BYTES: usize = 64 * 1024;

/// One kind of event: how its input is read, checked and batched.
trait EventKind: Send + 'static {
    type Input: DeserializeOwned;
    type Event: Send + 'static;
    fn validate(
        input: Self::Input,
        limits: &Limits,
        keys: &mut KeyMemo,
        detailed: bool,
    ) -> Result<Self::Event, FieldError>;
    fn batch(events: Vec<Self::Event>) -> Batch;
}

struct Executions;
struct Requests;
struct Pool;

impl EventKind for Executions {
    type Input = ExecutionInput;
    type Event = Execution;
    fn validate(
        input: ExecutionInput,
        limits: &Limits,
        keys: &mut KeyMemo,
        detailed: bool,
    ) -> Result<Execution, FieldError> {
        let mut event = input.validate_with(limits, keys)?;
        if !detailed {
            event.session_id = None;
            event.user_id = None;
            event.entity_id = None;
        }
        Ok(event)
    }
    fn batch(events: Vec<Execution>) -> Batch {
        Batch::Executions(events)
    }
}

impl EventKind for Requests {
    type Input = RequestInput;
    type Event = ApiRequest;
    fn validate(
        input: RequestInput,
        limits: &Limits,
        keys: &mut KeyMemo,
        detailed: bool,
    ) -> Result<ApiRequest, FieldError> {
        let mut event = input.validate_with(limits, keys)?;
        if !detailed {
            event.client_ip = None;
            event.user_agent = None;
        }
        Ok(event)
    }
    fn batch(events: Vec<ApiRequest>) -> Batch {
        Batch::Requests(events)
    }
}

impl EventKind for Pool {
    type Input = PoolInput;
    type Event = PoolEvent;
    fn validate(
        input: PoolInput,
        limits: &Limits,
        _keys: &mut KeyMemo,
        _detailed: bool,
    ) -> Result<PoolEvent, FieldError> {
        input.validate(limits)
    }
    fn batch(events: Vec<PoolEvent>) -> Batch {
        Batch::Pool(events)
    }
}

pub fn routes(routes: Routes, max_body_bytes: usize) -> Routes {
    let limit = || DefaultBodyLimit::max(max_body_bytes);
    let doc = |summary| {
        Doc::new(summary)
            .json::<IngestResponse>()
            .error(413, "the body is larger than MAX_BODY_BYTES")
            .error(415, "the content type is not JSON or NDJSON")
            .error(
                503,
                "the buffer is full or the database cannot commit; retry",
            )
    };
    routes
        .post(
            "/api/v1/events/executions",
            Access::Ingest,
            ingest::<Executions>.layer(limit()),
        )
        .doc(doc("Stores code executions").events::<ExecutionInput>())
        .post(
            "/api/v1/events/requests",
            Access::Ingest,
            ingest::<Requests>.layer(limit()),
        )
        .doc(doc("Stores API requests").events::<RequestInput>())
        .post(
            "/api/v1/events/pool",
            Access::Ingest,
            ingest::<Pool>.layer(limit()),
        )
        .doc(doc("Stores container-pool events").events::<PoolInput>())
}

/// Answer to an accepted batch.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestResponse {
    /// Events stored by this request.
    pub accepted: usize,
    /// Events already stored earlier (same id): counted once.
    pub duplicates: usize,
}

async fn ingest<K: EventKind>(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestResponse>, ApiError> {
    let format = BodyFormat::from_headers(&headers)?;
    let body = body.map_err(|rejection| match rejection {
        BytesRejection::FailedToBufferBody(_)
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            ApiError::PayloadTooLarge(format!(
                "request body exceeds the limit of {} bytes",
                state.config.max_body_bytes
            ))
        }
        other => ApiError::BadRequest(format!("could not read the request body: {other}")),
    })?;

    let config = &state.config;
    let now_ms = clock::now_ms();
    let limits = Limits {
        now_ms,
        oldest_ms: now_ms - i64::from(config.metrics_execution_retention_days) * DAY_MS,
        newest_ms: now_ms + i64::from(config.max_clock_skew_seconds) * 1000,
    };
    let max_events = config.max_batch_events;
    let detailed = config.detailed_metrics_enabled;
    let inline = body.len() <= PARSE_INLINE_BYTES;
    let parse = move || {
        let mut keys = KeyMemo::default();
        body::parse_batch(&body, format, max_events, |input| {
            K::validate(input, &limits, &mut keys, detailed)
        })
    };
    let events = if inline {
        parse()?
    } else {
        tokio::task::spawn_blocking(parse)
            .await
            .map_err(|e| ApiError::Internal(e.into()))??
    };
    if events.is_empty() {
        return Err(ApiError::BadRequest("the body holds no events".to_owned()));
    }
    let batch = K::batch(events);
    let kind = batch.kind();
    let size = batch.len();
    let outcome = state.writer.write(batch).await?;
    state.self_metrics.batch_size.record(size as f64);
    state
        .self_metrics
        .ingest_events
        .add(vec![("kind", kind.to_owned())], outcome.accepted as u64);
    Ok(Json(IngestResponse {
        accepted: outcome.accepted,
        duplicates: outcome.duplicates,
    }))
}
