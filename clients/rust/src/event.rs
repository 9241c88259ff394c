//! The three kinds of events a producer records, with the field names of
//! Tally's ingest API. Closed sets (statuses, pool kinds, methods) are enums,
//! so a value Tally would refuse cannot be written; the rest is checked when
//! the event is recorded (see `validate`).

use std::{fmt, time::SystemTime};

use sha2::{Digest, Sha256};

/// How an execution ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Ran to the end.
    Completed,
    /// The code failed (an exception, a non-zero exit).
    Failed,
    /// Stopped at its time limit.
    Timeout,
    /// The platform could not run it.
    Error,
}

impl Status {
    /// The API's name of the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
            Self::Error => "error",
        }
    }
}

/// Where the container of an execution came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContainerSource {
    /// A warm container from the pool.
    PoolHit,
    /// None was warm: a cold start.
    PoolMiss,
}

impl ContainerSource {
    /// The API's name of the source.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PoolHit => "pool_hit",
            Self::PoolMiss => "pool_miss",
        }
    }
}

/// What happened when a container was asked of the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoolKind {
    /// A warm container was taken.
    Hit,
    /// None was warm: one was started.
    Miss,
    /// None could be had at all.
    Exhausted,
}

impl PoolKind {
    /// The API's name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Exhausted => "exhausted",
        }
    }
}

/// The HTTP methods Tally stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `HEAD`
    Head,
    /// `OPTIONS`
    Options,
    /// `CONNECT`
    Connect,
    /// `TRACE`
    Trace,
}

impl Method {
    /// The method in upper case, as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Head => "HEAD",
            Self::Options => "OPTIONS",
            Self::Connect => "CONNECT",
            Self::Trace => "TRACE",
        }
    }
}

impl TryFrom<&reqwest::Method> for Method {
    type Error = UnknownMethod;

    /// The standard methods; an extension method (`PURGE`) is an error.
    fn try_from(method: &reqwest::Method) -> Result<Self, UnknownMethod> {
        use reqwest::Method as M;
        Ok(match *method {
            M::GET => Self::Get,
            M::POST => Self::Post,
            M::PUT => Self::Put,
            M::PATCH => Self::Patch,
            M::DELETE => Self::Delete,
            M::HEAD => Self::Head,
            M::OPTIONS => Self::Options,
            M::CONNECT => Self::Connect,
            M::TRACE => Self::Trace,
            _ => return Err(UnknownMethod),
        })
    }
}

/// An HTTP method Tally does not store (an extension method).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Tally stores only the standard HTTP methods")]
pub struct UnknownMethod;

/// The API key an event is attributed to, held as its SHA-256 digest: a raw
/// key is hashed when the `ApiKey` is made and is never queued, sent or
/// printed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ApiKey {
    /// 64 lowercase hex characters.
    hash: String,
}

impl ApiKey {
    /// Hashes a raw key (the key a customer sent the platform).
    pub fn raw(key: &str) -> Self {
        Self {
            hash: hex::encode(Sha256::digest(key.as_bytes())),
        }
    }

    /// A key already hashed: 64 hexadecimal characters of its SHA-256.
    pub fn from_hash(hash: &str) -> Result<Self, InvalidEvent> {
        if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self {
                hash: hash.to_ascii_lowercase(),
            })
        } else {
            Err(InvalidEvent::new(
                "api_key_hash",
                "must be 64 hexadecimal characters (a SHA-256 digest)",
            ))
        }
    }

    /// The digest in lowercase hex, as sent in `api_key_hash`.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The first 16 hex characters: how Tally shows and filters keys.
    pub fn prefix(&self) -> &str {
        &self.hash[..16]
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ApiKey").field(&self.prefix()).finish()
    }
}

/// An event Tally would refuse, caught before it is queued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {message}")]
pub struct InvalidEvent {
    /// The API's name of the field.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl InvalidEvent {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// One code execution. Start from [`Execution::new`] and set what else is
/// known:
///
/// ```
/// use tally_client::{ContainerSource, Execution, Status};
/// let execution = Execution {
///     memory_peak_mb: Some(61.2),
///     container_source: Some(ContainerSource::PoolHit),
///     ..Execution::new("python", Status::Completed, 182.5)
/// };
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Execution {
    /// Unique per execution (1–128 printable ASCII characters); a random one
    /// is given when `None`.
    pub execution_id: Option<String>,
    /// The customer's key.
    pub api_key: Option<ApiKey>,
    /// Puts the key into this tenant (needs `api_key`).
    pub tenant_id: Option<String>,
    /// Letters, digits and `+ # . _ -`, at most 32 bytes.
    pub language: String,
    /// How it ended.
    pub status: Status,
    /// Run time in milliseconds.
    pub execution_time_ms: f64,
    /// Peak memory in MB.
    pub memory_peak_mb: Option<f64>,
    /// CPU time in milliseconds.
    pub cpu_time_ms: Option<f64>,
    /// Warm or cold container.
    pub container_source: Option<ContainerSource>,
    /// Files given to the execution.
    pub files_uploaded: Option<u32>,
    /// Files it wrote.
    pub files_generated: Option<u32>,
    /// Size of its output.
    pub output_size_bytes: Option<u64>,
    /// Size of the state it kept.
    pub state_size_bytes: Option<u64>,
    /// Time queued before it ran, in milliseconds.
    pub queue_wait_ms: Option<f64>,
    /// Run in a REPL session.
    pub repl_mode: Option<bool>,
    /// The platform's session id.
    pub session_id: Option<String>,
    /// The platform's user id.
    pub user_id: Option<String>,
    /// The platform's entity id.
    pub entity_id: Option<String>,
    /// When it ran; the time of recording when `None`.
    pub created_at: Option<SystemTime>,
}

impl Execution {
    /// An execution with the required fields; the rest are `None`.
    pub fn new(language: impl Into<String>, status: Status, execution_time_ms: f64) -> Self {
        Self {
            execution_id: None,
            api_key: None,
            tenant_id: None,
            language: language.into(),
            status,
            execution_time_ms,
            memory_peak_mb: None,
            cpu_time_ms: None,
            container_source: None,
            files_uploaded: None,
            files_generated: None,
            output_size_bytes: None,
            state_size_bytes: None,
            queue_wait_ms: None,
            repl_mode: None,
            session_id: None,
            user_id: None,
            entity_id: None,
            created_at: None,
        }
    }
}

/// One API request the platform served.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// Unique per request; a random one is given when `None`.
    pub id: Option<String>,
    /// When it was served; the time of recording when `None`.
    pub ts: Option<SystemTime>,
    /// Its method.
    pub method: Method,
    /// The route template (`/api/v1/files/{id}`), never the raw path: one
    /// row per route, not per URL.
    pub endpoint: String,
    /// The status of the answer (100–599).
    pub status_code: u16,
    /// Time to answer in milliseconds.
    pub duration_ms: f64,
    /// The customer's key.
    pub api_key: Option<ApiKey>,
    /// Puts the key into this tenant (needs `api_key`).
    pub tenant_id: Option<String>,
    /// Answered from a cache.
    pub cache_hit: Option<bool>,
    /// The caller's address (kept only with detailed metrics on).
    pub client_ip: Option<String>,
    /// The caller's user agent (likewise).
    pub user_agent: Option<String>,
    /// A short error text.
    pub error: Option<String>,
}

impl Request {
    /// A request with the required fields; the rest are `None`.
    pub fn new(
        method: Method,
        endpoint: impl Into<String>,
        status_code: u16,
        duration_ms: f64,
    ) -> Self {
        Self {
            id: None,
            ts: None,
            method,
            endpoint: endpoint.into(),
            status_code,
            duration_ms,
            api_key: None,
            tenant_id: None,
            cache_hit: None,
            client_ip: None,
            user_agent: None,
            error: None,
        }
    }
}

/// One container-pool event.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolEvent {
    /// Unique per event; a random one is given when `None`.
    pub id: Option<String>,
    /// When it happened; the time of recording when `None`.
    pub ts: Option<SystemTime>,
    /// Hit, miss or exhausted.
    pub kind: PoolKind,
    /// The language of the container asked for.
    pub language: String,
    /// Time to get the container, in milliseconds.
    pub acquire_time_ms: Option<f64>,
}

impl PoolEvent {
    /// A pool event with the required fields; the rest are `None`.
    pub fn new(kind: PoolKind, language: impl Into<String>) -> Self {
        Self {
            id: None,
            ts: None,
            kind,
            language: language.into(),
            acquire_time_ms: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_key_is_held_as_its_sha256_and_never_printed() {
        let key = ApiKey::raw("abc");
        assert_eq!(
            key.hash(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(format!("{key:?}"), r#"ApiKey("ba7816bf8f01cfea")"#);
        assert_eq!(ApiKey::from_hash(&key.hash().to_ascii_uppercase()), Ok(key));
        assert_eq!(ApiKey::from_hash("abc").unwrap_err().field, "api_key_hash");
    }

    #[test]
    fn standard_methods_convert_and_extensions_do_not() {
        assert_eq!(Method::try_from(&reqwest::Method::PATCH), Ok(Method::Patch));
        let purge = reqwest::Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(Method::try_from(&purge), Err(UnknownMethod));
    }
}
