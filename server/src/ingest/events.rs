//! The three event kinds a platform sends, parsed from JSON into validated
//! domain types. An event that parsed is valid: the writer never checks again.
//!
//! Each kind has an input struct (what serde reads, unknown fields refused)
//! and a domain struct (what is stored). [`Limits`] carries the bounds that
//! depend on configuration and on the arrival time.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// What went wrong with one field of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field (`status`), empty when the event as a whole is wrong.
    pub field: String,
    pub message: String,
}

impl FieldError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "field `{}`: {}", self.field, self.message)
        }
    }
}

/// Bounds every event is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Arrival time; the default timestamp of an event that has none.
    pub now_ms: i64,
    /// Oldest accepted timestamp (the execution retention): older events
    /// would be deleted at once and could no longer be deduplicated.
    pub oldest_ms: i64,
    /// Newest accepted timestamp (arrival plus allowed clock skew).
    pub newest_ms: i64,
}

const MAX_ID: usize = 128;
const MAX_LANGUAGE: usize = 32;
const MAX_ENDPOINT: usize = 256;
const MAX_USER_AGENT: usize = 512;
const MAX_ERROR: usize = 1024;
const MAX_CLIENT_IP: usize = 64;
/// One day in milliseconds: a duration above it is a unit mistake.
const MAX_DURATION_MS: f64 = 86_400_000.0;
const MAX_MEMORY_MB: f64 = 16.0 * 1024.0 * 1024.0;

// ---------------------------------------------------------------------------
// API keys

/// SHA-256 of an API key, as 64 lowercase hex characters. Raw keys never go
/// further than [`KeyHash::of_raw_key`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyHash(String);

impl KeyHash {
    pub fn of_raw_key(raw: &str) -> Self {
        Self(hex::encode(Sha256::digest(raw.as_bytes())))
    }

    /// Accepts a 64-hex digest in either case.
    pub fn parse(hex_digest: &str) -> Result<Self, String> {
        if hex_digest.len() == 64 && hex_digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(hex_digest.to_ascii_lowercase()))
        } else {
            Err("must be 64 hexadecimal characters (a SHA-256 digest)".to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 16 hex characters: how keys are shown and filtered.
    pub fn prefix(&self) -> &str {
        &self.0[..16]
    }
}

/// Longest tenant identifier.
pub const MAX_TENANT: usize = 64;

/// Checks a tenant identifier: 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
pub fn tenant(value: &str) -> Result<String, String> {
    let valid = (1..=MAX_TENANT).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "must be 1 to {MAX_TENANT} ASCII letters, digits, `.`, `_` or `-`"
        ))
    }
}

/// The tenant an event names for its key; it needs a key to belong to.
fn event_tenant(
    value: Option<String>,
    key: Option<&KeyHash>,
) -> Result<Option<String>, FieldError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if key.is_none() {
        return Err(FieldError::new(
            "tenant_id",
            "needs `api_key` or `api_key_hash`: a tenant groups API keys",
        ));
    }
    tenant(&value)
        .map(Some)
        .map_err(|message| FieldError::new("tenant_id", message))
}

fn key_hash(
    api_key: Option<String>,
    api_key_hash: Option<String>,
) -> Result<Option<KeyHash>, FieldError> {
    match (api_key, api_key_hash) {
        (Some(_), Some(_)) => Err(FieldError::new(
            "api_key",
            "give either `api_key` or `api_key_hash`, not both",
        )),
        (Some(raw), None) => {
            if raw.is_empty() || raw.len() > 512 {
                return Err(FieldError::new("api_key", "must be 1 to 512 bytes long"));
            }
            Ok(Some(KeyHash::of_raw_key(&raw)))
        }
        (None, Some(hash)) => KeyHash::parse(&hash)
            .map(Some)
            .map_err(|message| FieldError::new("api_key_hash", message)),
        (None, None) => Ok(None),
    }
}

// ---------------------------------------------------------------------------
// Field helpers

fn required<T>(field: &str, value: Option<T>) -> Result<T, FieldError> {
    value.ok_or_else(|| FieldError::new(field, "is required"))
}

fn text(field: &str, value: String, max: usize) -> Result<String, FieldError> {
    if value.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(FieldError::new(
            field,
            format!("is {} bytes long; the limit is {max}", value.len()),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value)
}

fn optional_text(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    value.map(|v| text(field, v, max)).transpose()
}

/// Identifiers: printable ASCII without spaces.
fn identifier(field: &str, value: String) -> Result<String, FieldError> {
    let value = text(field, value, MAX_ID)?;
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(FieldError::new(
            field,
            "must be printable ASCII without spaces",
        ));
    }
    Ok(value)
}

/// Language names are normalised to lower case: `Python` and `python` are one language.
fn language(field: &str, value: String) -> Result<String, FieldError> {
    let value = text(field, value, MAX_LANGUAGE)?.to_ascii_lowercase();
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+#._-".contains(&b))
    {
        return Err(FieldError::new(
            field,
            "may contain only letters, digits and + # . _ -",
        ));
    }
    Ok(value)
}

fn measure(field: &str, value: Option<f64>, max: f64) -> Result<f64, FieldError> {
    let value = value.unwrap_or(0.0);
    if !value.is_finite() || value < 0.0 {
        return Err(FieldError::new(field, "must be a finite number ≥ 0"));
    }
    if value > max {
        return Err(FieldError::new(field, format!("must be at most {max}")));
    }
    Ok(value)
}

/// A timestamp: RFC 3339 text, or seconds since the Unix epoch as a number.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum TimestampInput {
    Text(String),
    Epoch(f64),
}

fn timestamp(
    field: &str,
    value: Option<TimestampInput>,
    limits: &Limits,
) -> Result<i64, FieldError> {
    let ms = match value {
        None => return Ok(limits.now_ms),
        Some(TimestampInput::Text(text)) => DateTime::parse_from_rfc3339(&text)
            .map_err(|e| FieldError::new(field, format!("is not an RFC 3339 timestamp ({e})")))?
            .with_timezone(&Utc)
            .timestamp_millis(),
        Some(TimestampInput::Epoch(seconds)) => {
            if !(0.0..=1e11).contains(&seconds) {
                return Err(FieldError::new(
                    field,
                    "is not a plausible Unix time in seconds",
                ));
            }
            (seconds * 1000.0).round() as i64
        }
    };
    if ms < limits.oldest_ms {
        return Err(FieldError::new(
            field,
            format!(
                "is before {}, the oldest time kept (execution retention)",
                format_ms(limits.oldest_ms)
            ),
        ));
    }
    if ms > limits.newest_ms {
        return Err(FieldError::new(
            field,
            format!(
                "is after {}: too far in the future",
                format_ms(limits.newest_ms)
            ),
        ));
    }
    Ok(ms)
}

pub fn format_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

/// Events without an id get a random one, so they are stored but cannot be
/// deduplicated: producers that retry should send ids.
fn id_or_random(field: &str, value: Option<String>) -> Result<String, FieldError> {
    match value {
        Some(id) => identifier(field, id),
        None => Ok(hex::encode(rand::random::<[u8; 16]>())),
    }
}

// ---------------------------------------------------------------------------
// Executions

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExecStatus {
    Completed,
    Failed,
    Timeout,
    Error,
}

impl ExecStatus {
    pub const ALL: [Self; 4] = [Self::Completed, Self::Failed, Self::Timeout, Self::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
            Self::Error => "error",
        }
    }

    fn parse(value: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| {
                FieldError::new("status", "must be one of completed, failed, timeout, error")
            })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContainerSource {
    PoolHit,
    PoolMiss,
    /// The producer did not say.
    Unknown,
}

impl ContainerSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PoolHit => "pool_hit",
            Self::PoolMiss => "pool_miss",
            Self::Unknown => "unknown",
        }
    }

    fn parse(value: Option<&str>) -> Result<Self, FieldError> {
        match value {
            None => Ok(Self::Unknown),
            Some("pool_hit") => Ok(Self::PoolHit),
            Some("pool_miss") => Ok(Self::PoolMiss),
            Some(_) => Err(FieldError::new(
                "container_source",
                "must be pool_hit or pool_miss",
            )),
        }
    }
}

/// One code execution, as sent by the platform.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionInput {
    execution_id: Option<String>,
    api_key: Option<String>,
    api_key_hash: Option<String>,
    tenant_id: Option<String>,
    language: Option<String>,
    status: Option<String>,
    execution_time_ms: Option<f64>,
    memory_peak_mb: Option<f64>,
    cpu_time_ms: Option<f64>,
    container_source: Option<String>,
    files_uploaded: Option<u32>,
    files_generated: Option<u32>,
    output_size_bytes: Option<u64>,
    state_size_bytes: Option<u64>,
    queue_wait_ms: Option<f64>,
    repl_mode: Option<bool>,
    session_id: Option<String>,
    user_id: Option<String>,
    entity_id: Option<String>,
    created_at: Option<TimestampInput>,
}

/// A validated execution.
#[derive(Clone, Debug, PartialEq)]
pub struct Execution {
    pub execution_id: String,
    pub key: Option<KeyHash>,
    /// Tenant named by the event for its key.
    pub tenant: Option<String>,
    pub language: String,
    pub status: ExecStatus,
    pub execution_time_ms: f64,
    pub memory_peak_mb: f64,
    pub cpu_time_ms: f64,
    pub container_source: ContainerSource,
    pub files_uploaded: u32,
    pub files_generated: u32,
    pub output_size_bytes: u64,
    pub state_size_bytes: u64,
    pub queue_wait_ms: f64,
    pub repl_mode: bool,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub entity_id: Option<String>,
    pub created_at_ms: i64,
}

impl ExecutionInput {
    pub fn validate(self, limits: &Limits) -> Result<Execution, FieldError> {
        let key = key_hash(self.api_key, self.api_key_hash)?;
        Ok(Execution {
            execution_id: identifier("execution_id", required("execution_id", self.execution_id)?)?,
            tenant: event_tenant(self.tenant_id, key.as_ref())?,
            key,
            language: language("language", required("language", self.language)?)?,
            status: ExecStatus::parse(&required("status", self.status)?)?,
            execution_time_ms: measure(
                "execution_time_ms",
                Some(required("execution_time_ms", self.execution_time_ms)?),
                MAX_DURATION_MS,
            )?,
            memory_peak_mb: measure("memory_peak_mb", self.memory_peak_mb, MAX_MEMORY_MB)?,
            cpu_time_ms: measure("cpu_time_ms", self.cpu_time_ms, MAX_DURATION_MS)?,
            container_source: ContainerSource::parse(self.container_source.as_deref())?,
            files_uploaded: self.files_uploaded.unwrap_or(0),
            files_generated: self.files_generated.unwrap_or(0),
            output_size_bytes: self.output_size_bytes.unwrap_or(0),
            state_size_bytes: self.state_size_bytes.unwrap_or(0),
            queue_wait_ms: measure("queue_wait_ms", self.queue_wait_ms, MAX_DURATION_MS)?,
            repl_mode: self.repl_mode.unwrap_or(false),
            session_id: optional_text("session_id", self.session_id, MAX_ID)?,
            user_id: optional_text("user_id", self.user_id, MAX_ID)?,
            entity_id: optional_text("entity_id", self.entity_id, MAX_ID)?,
            created_at_ms: timestamp("created_at", self.created_at, limits)?,
        })
    }
}

// ---------------------------------------------------------------------------
// API requests

/// One API request served by the platform.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    id: Option<String>,
    ts: Option<TimestampInput>,
    method: Option<String>,
    endpoint: Option<String>,
    status_code: Option<u16>,
    duration_ms: Option<f64>,
    api_key: Option<String>,
    api_key_hash: Option<String>,
    tenant_id: Option<String>,
    cache_hit: Option<bool>,
    client_ip: Option<String>,
    user_agent: Option<String>,
    error: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ApiRequest {
    pub id: String,
    pub ts_ms: i64,
    pub method: String,
    pub endpoint: String,
    pub status_code: u16,
    pub duration_ms: f64,
    pub key: Option<KeyHash>,
    /// Tenant named by the event for its key.
    pub tenant: Option<String>,
    pub cache_hit: bool,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub error: Option<String>,
}

const METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
];

impl RequestInput {
    pub fn validate(self, limits: &Limits) -> Result<ApiRequest, FieldError> {
        let method = required("method", self.method)?.to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(FieldError::new(
                "method",
                "must be an HTTP method such as GET or POST",
            ));
        }
        let endpoint = text(
            "endpoint",
            required("endpoint", self.endpoint)?,
            MAX_ENDPOINT,
        )?;
        if !endpoint.starts_with('/') {
            return Err(FieldError::new(
                "endpoint",
                "must be a route template starting with / (e.g. /api/v1/exec/{id})",
            ));
        }
        let status_code = required("status_code", self.status_code)?;
        if !(100..=599).contains(&status_code) {
            return Err(FieldError::new(
                "status_code",
                "must be between 100 and 599",
            ));
        }
        let key = key_hash(self.api_key, self.api_key_hash)?;
        Ok(ApiRequest {
            id: id_or_random("id", self.id)?,
            ts_ms: timestamp("ts", self.ts, limits)?,
            method,
            endpoint,
            status_code,
            duration_ms: measure(
                "duration_ms",
                Some(required("duration_ms", self.duration_ms)?),
                MAX_DURATION_MS,
            )?,
            tenant: event_tenant(self.tenant_id, key.as_ref())?,
            key,
            cache_hit: self.cache_hit.unwrap_or(false),
            client_ip: optional_text("client_ip", self.client_ip, MAX_CLIENT_IP)?,
            user_agent: optional_text("user_agent", self.user_agent, MAX_USER_AGENT)?,
            error: optional_text("error", self.error, MAX_ERROR)?,
        })
    }
}

// ---------------------------------------------------------------------------
// Container-pool events

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PoolKind {
    Hit,
    Miss,
    Exhausted,
}

impl PoolKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Exhausted => "exhausted",
        }
    }

    fn parse(value: &str) -> Result<Self, FieldError> {
        match value {
            "hit" => Ok(Self::Hit),
            "miss" => Ok(Self::Miss),
            "exhausted" => Ok(Self::Exhausted),
            _ => Err(FieldError::new("kind", "must be hit, miss or exhausted")),
        }
    }
}

/// One container-pool event.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolInput {
    id: Option<String>,
    ts: Option<TimestampInput>,
    kind: Option<String>,
    language: Option<String>,
    acquire_time_ms: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PoolEvent {
    pub id: String,
    pub ts_ms: i64,
    pub kind: PoolKind,
    pub language: String,
    pub acquire_time_ms: f64,
}

impl PoolInput {
    pub fn validate(self, limits: &Limits) -> Result<PoolEvent, FieldError> {
        Ok(PoolEvent {
            id: id_or_random("id", self.id)?,
            ts_ms: timestamp("ts", self.ts, limits)?,
            kind: PoolKind::parse(&required("kind", self.kind)?)?,
            language: language("language", required("language", self.language)?)?,
            acquire_time_ms: measure("acquire_time_ms", self.acquire_time_ms, MAX_DURATION_MS)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn limits() -> Limits {
        Limits {
            now_ms: NOW,
            oldest_ms: NOW - 90 * 86_400_000,
            newest_ms: NOW + 300_000,
        }
    }

    fn execution(json: &str) -> Result<Execution, FieldError> {
        serde_json::from_str::<ExecutionInput>(json)
            .expect("valid JSON shape")
            .validate(&limits())
    }

    #[test]
    fn minimal_execution_gets_defaults() {
        let e = execution(
            r#"{"execution_id":"e1","language":"Python","status":"completed","execution_time_ms":12.5}"#,
        )
        .unwrap();
        assert_eq!(e.language, "python");
        assert_eq!(e.status, ExecStatus::Completed);
        assert_eq!(e.container_source, ContainerSource::Unknown);
        assert_eq!(e.created_at_ms, NOW);
        assert_eq!(e.key, None);
    }

    #[test]
    fn raw_keys_are_hashed_and_never_kept() {
        let e = execution(
            r#"{"execution_id":"e1","api_key":"sk-live-123","language":"go","status":"failed","execution_time_ms":1}"#,
        )
        .unwrap();
        let key = e.key.clone().unwrap();
        assert_eq!(key.as_str(), hex::encode(Sha256::digest(b"sk-live-123")));
        assert_eq!(key.prefix().len(), 16);
        assert!(!format!("{e:?}").contains("sk-live-123"));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                r#"{"language":"go","status":"completed","execution_time_ms":1}"#,
                "execution_id",
            ),
            (
                r#"{"execution_id":"x","language":"go","status":"done","execution_time_ms":1}"#,
                "status",
            ),
            (
                r#"{"execution_id":"x","language":"go","status":"failed","execution_time_ms":-1}"#,
                "execution_time_ms",
            ),
            (
                r#"{"execution_id":"x","language":"go","status":"failed","execution_time_ms":1,"memory_peak_mb":-0.5}"#,
                "memory_peak_mb",
            ),
            (
                r#"{"execution_id":"x","language":"g o","status":"failed","execution_time_ms":1}"#,
                "language",
            ),
            (
                r#"{"execution_id":"a b","language":"go","status":"failed","execution_time_ms":1}"#,
                "execution_id",
            ),
            (
                r#"{"execution_id":"x","language":"go","status":"failed","execution_time_ms":1,"container_source":"warm"}"#,
                "container_source",
            ),
            (
                r#"{"execution_id":"x","language":"go","status":"failed","execution_time_ms":1,"api_key_hash":"abc"}"#,
                "api_key_hash",
            ),
            (
                r#"{"execution_id":"x","language":"go","status":"failed","execution_time_ms":1,"created_at":"yesterday"}"#,
                "created_at",
            ),
            (
                r#"{"execution_id":"x","language":"go","status":"failed","execution_time_ms":1,"created_at":"2001-01-01T00:00:00Z"}"#,
                "created_at",
            ),
            (
                r#"{"execution_id":"x","language":"go","status":"failed","execution_time_ms":1,"created_at":"2999-01-01T00:00:00Z"}"#,
                "created_at",
            ),
        ];
        for (json, field) in cases {
            let error = execution(json).unwrap_err();
            assert_eq!(error.field, field, "{json}: {error}");
        }
    }

    #[test]
    fn overlong_strings_are_refused_with_the_limit() {
        let long = "x".repeat(MAX_ID + 1);
        let error = execution(&format!(
            r#"{{"execution_id":"{long}","language":"go","status":"failed","execution_time_ms":1}}"#
        ))
        .unwrap_err();
        assert!(error.message.contains("limit is 128"), "{error}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let error = serde_json::from_str::<ExecutionInput>(
            r#"{"execution_id":"x","language":"go","status":"failed","execution_time_ms":1,"colour":"red"}"#,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("unknown field `colour`"),
            "{error}"
        );
    }

    #[test]
    fn requests_accept_epoch_seconds_and_get_an_id() {
        let r: RequestInput = serde_json::from_str(&format!(
            r#"{{"ts":{},"method":"post","endpoint":"/exec","status_code":201,"duration_ms":3.5}}"#,
            NOW / 1000
        ))
        .unwrap();
        let r = r.validate(&limits()).unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.ts_ms, NOW);
        assert_eq!(r.id.len(), 32);
    }

    #[test]
    fn request_endpoint_must_be_a_route() {
        let r: RequestInput = serde_json::from_str(
            r#"{"method":"GET","endpoint":"exec","status_code":200,"duration_ms":1}"#,
        )
        .unwrap();
        assert_eq!(r.validate(&limits()).unwrap_err().field, "endpoint");
    }

    #[test]
    fn pool_kind_is_checked() {
        let p: PoolInput = serde_json::from_str(r#"{"kind":"cold","language":"python"}"#).unwrap();
        assert_eq!(p.validate(&limits()).unwrap_err().field, "kind");
    }
}
