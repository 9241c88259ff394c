//! Checks an event as Tally will, stamps its id and time, and keeps it in the
//! form it is sent in. Stamping here, when the event is recorded, is what
//! makes a retry the same event: Tally knows an event by its id and time.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::{
    event::{ApiKey, Execution, InvalidEvent, PoolEvent, Request},
    wire::{Event, WireExecution, WirePool, WireRequest},
};

// Tally's limits (server/src/model/fields.rs).
const MAX_ID: usize = 128;
const MAX_LANGUAGE: usize = 32;
const MAX_ENDPOINT: usize = 256;
const MAX_USER_AGENT: usize = 512;
const MAX_ERROR: usize = 1024;
const MAX_CLIENT_IP: usize = 64;
const MAX_TENANT: usize = 64;
const MAX_DURATION_MS: f64 = 86_400_000.0;
const MAX_MEMORY_MB: f64 = 16.0 * 1024.0 * 1024.0;

pub(crate) fn execution(e: Execution, now: SystemTime) -> Result<Event, InvalidEvent> {
    let api_key_hash = e.api_key.map(|k: ApiKey| k.hash().to_owned());
    Ok(Event::Execution(Box::new(WireExecution {
        execution_id: id_or_random("execution_id", e.execution_id)?,
        tenant_id: tenant(e.tenant_id, api_key_hash.is_some())?,
        api_key_hash,
        language: language("language", e.language)?,
        status: e.status.as_str(),
        execution_time_ms: measure("execution_time_ms", e.execution_time_ms, MAX_DURATION_MS)?,
        memory_peak_mb: optional_measure("memory_peak_mb", e.memory_peak_mb, MAX_MEMORY_MB)?,
        cpu_time_ms: optional_measure("cpu_time_ms", e.cpu_time_ms, MAX_DURATION_MS)?,
        container_source: e.container_source.map(|s| s.as_str()),
        files_uploaded: e.files_uploaded,
        files_generated: e.files_generated,
        output_size_bytes: e.output_size_bytes,
        state_size_bytes: e.state_size_bytes,
        queue_wait_ms: optional_measure("queue_wait_ms", e.queue_wait_ms, MAX_DURATION_MS)?,
        repl_mode: e.repl_mode,
        session_id: optional_text("session_id", e.session_id, MAX_ID)?,
        user_id: optional_text("user_id", e.user_id, MAX_ID)?,
        entity_id: optional_text("entity_id", e.entity_id, MAX_ID)?,
        created_at: timestamp("created_at", e.created_at, now)?,
    })))
}

pub(crate) fn request(r: Request, now: SystemTime) -> Result<Event, InvalidEvent> {
    let endpoint = text("endpoint", r.endpoint, MAX_ENDPOINT)?;
    if !endpoint.starts_with('/') {
        return Err(InvalidEvent::new(
            "endpoint",
            "must be a route template starting with / (e.g. /api/v1/exec/{id})",
        ));
    }
    if !(100..=599).contains(&r.status_code) {
        return Err(InvalidEvent::new(
            "status_code",
            "must be between 100 and 599",
        ));
    }
    let api_key_hash = r.api_key.map(|k| k.hash().to_owned());
    Ok(Event::Request(Box::new(WireRequest {
        id: id_or_random("id", r.id)?,
        ts: timestamp("ts", r.ts, now)?,
        method: r.method.as_str(),
        endpoint,
        status_code: r.status_code,
        duration_ms: measure("duration_ms", r.duration_ms, MAX_DURATION_MS)?,
        tenant_id: tenant(r.tenant_id, api_key_hash.is_some())?,
        api_key_hash,
        cache_hit: r.cache_hit,
        client_ip: optional_text("client_ip", r.client_ip, MAX_CLIENT_IP)?,
        user_agent: optional_text("user_agent", r.user_agent, MAX_USER_AGENT)?,
        error: optional_text("error", r.error, MAX_ERROR)?,
    })))
}

pub(crate) fn pool(p: PoolEvent, now: SystemTime) -> Result<Event, InvalidEvent> {
    Ok(Event::Pool(Box::new(WirePool {
        id: id_or_random("id", p.id)?,
        ts: timestamp("ts", p.ts, now)?,
        kind: p.kind.as_str(),
        language: language("language", p.language)?,
        acquire_time_ms: optional_measure("acquire_time_ms", p.acquire_time_ms, MAX_DURATION_MS)?,
    })))
}

fn text(field: &'static str, value: String, max: usize) -> Result<String, InvalidEvent> {
    if value.is_empty() {
        return Err(InvalidEvent::new(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(InvalidEvent::new(
            field,
            format!("is {} bytes long; the limit is {max}", value.len()),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(InvalidEvent::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value)
}

fn optional_text(
    field: &'static str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, InvalidEvent> {
    value.map(|v| text(field, v, max)).transpose()
}

/// A given id is checked; a missing one is made up, once, here.
fn id_or_random(field: &'static str, value: Option<String>) -> Result<String, InvalidEvent> {
    let Some(id) = value else {
        return Ok(hex::encode(rand::random::<[u8; 16]>()));
    };
    let id = text(field, id, MAX_ID)?;
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(InvalidEvent::new(
            field,
            "must be printable ASCII without spaces",
        ));
    }
    Ok(id)
}

fn language(field: &'static str, value: String) -> Result<String, InvalidEvent> {
    let value = text(field, value, MAX_LANGUAGE)?;
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+#._-".contains(&b))
    {
        return Err(InvalidEvent::new(
            field,
            "may contain only letters, digits and + # . _ -",
        ));
    }
    Ok(value)
}

fn measure(field: &'static str, value: f64, max: f64) -> Result<f64, InvalidEvent> {
    if !value.is_finite() || value < 0.0 {
        return Err(InvalidEvent::new(field, "must be a finite number ≥ 0"));
    }
    if value > max {
        return Err(InvalidEvent::new(field, format!("must be at most {max}")));
    }
    Ok(value)
}

fn optional_measure(
    field: &'static str,
    value: Option<f64>,
    max: f64,
) -> Result<Option<f64>, InvalidEvent> {
    value.map(|v| measure(field, v, max)).transpose()
}

fn tenant(value: Option<String>, has_key: bool) -> Result<Option<String>, InvalidEvent> {
    let Some(value) = value else {
        return Ok(None);
    };
    if !has_key {
        return Err(InvalidEvent::new(
            "tenant_id",
            "needs `api_key`: a tenant groups API keys",
        ));
    }
    let valid = (1..=MAX_TENANT).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !valid {
        return Err(InvalidEvent::new(
            "tenant_id",
            format!("must be 1 to {MAX_TENANT} ASCII letters, digits, `.`, `_` or `-`"),
        ));
    }
    Ok(Some(value))
}

/// The event's time in milliseconds since the epoch (`now` when not given).
/// Whether it lies within Tally's window (retention, clock skew) only Tally
/// knows: an event outside it is refused alone, after it is sent.
fn timestamp(
    field: &'static str,
    value: Option<SystemTime>,
    now: SystemTime,
) -> Result<i64, InvalidEvent> {
    value
        .unwrap_or(now)
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .filter(|ms| *ms < 253_402_300_800_000) // year 10000
        .ok_or_else(|| InvalidEvent::new(field, "must lie between 1970 and 9999"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;
    use crate::{
        event::{Method, PoolKind, Status},
        wire::Kind,
    };

    fn json_of(event: &Event) -> Value {
        serde_json::from_slice(&event.to_json()).unwrap()
    }

    #[test]
    fn an_execution_is_stamped_once_and_sent_with_the_api_field_names() {
        let now = UNIX_EPOCH + Duration::from_millis(1_764_700_000_123);
        let e = Execution {
            api_key: Some(ApiKey::raw("sk-1")),
            tenant_id: Some("acme".to_owned()),
            ..Execution::new("python", Status::Timeout, 1.5)
        };
        let event = execution(e, now).unwrap();
        let value = json_of(&event);
        assert_eq!(value["created_at"], "2025-12-02T18:26:40.123Z");
        assert_eq!(value["status"], "timeout");
        assert_eq!(value["api_key_hash"].as_str().unwrap().len(), 64);
        assert_eq!(value["execution_id"].as_str().unwrap().len(), 32);
        assert!(value.get("memory_peak_mb").is_none());
        // The same bytes every time it is sent.
        assert_eq!(event.to_json(), event.to_json());
    }

    #[test]
    fn what_tally_would_refuse_is_refused_with_the_field() {
        let now = SystemTime::now();
        let bad_language = Execution::new("py thon", Status::Completed, 1.0);
        assert_eq!(execution(bad_language, now).unwrap_err().field, "language");
        let negative = Execution::new("go", Status::Completed, -1.0);
        assert_eq!(
            execution(negative, now).unwrap_err().field,
            "execution_time_ms"
        );
        let no_key = Execution {
            tenant_id: Some("acme".to_owned()),
            ..Execution::new("go", Status::Completed, 1.0)
        };
        assert_eq!(execution(no_key, now).unwrap_err().field, "tenant_id");
        let raw_path = Request::new(Method::Get, "items/7", 200, 1.0);
        assert_eq!(request(raw_path, now).unwrap_err().field, "endpoint");
        let status = Request::new(Method::Get, "/", 700, 1.0);
        assert_eq!(request(status, now).unwrap_err().field, "status_code");
        let spaced_id = PoolEvent {
            id: Some("a b".to_owned()),
            ..PoolEvent::new(PoolKind::Hit, "go")
        };
        assert_eq!(pool(spaced_id, now).unwrap_err().field, "id");
        let nan = PoolEvent {
            acquire_time_ms: Some(f64::NAN),
            ..PoolEvent::new(PoolKind::Miss, "go")
        };
        assert_eq!(pool(nan, now).unwrap_err().field, "acquire_time_ms");
    }

    #[test]
    fn requests_and_pool_events_keep_given_ids_and_times() {
        let at = UNIX_EPOCH + Duration::from_secs(1_764_700_000);
        let r = Request {
            id: Some("req-1".to_owned()),
            ts: Some(at),
            cache_hit: Some(true),
            ..Request::new(Method::Post, "/items/{id}", 201, 3.25)
        };
        let value = json_of(&request(r, SystemTime::now()).unwrap());
        assert_eq!(
            value,
            json!({"id": "req-1", "ts": "2025-12-02T18:26:40.000Z", "method": "POST",
                   "endpoint": "/items/{id}", "status_code": 201, "duration_ms": 3.25,
                   "cache_hit": true})
        );
        let p = pool(PoolEvent::new(PoolKind::Exhausted, "rust"), at).unwrap();
        assert_eq!(json_of(&p)["kind"], "exhausted");
        assert_eq!(p.kind(), Kind::Pool);
    }
}
