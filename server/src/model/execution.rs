//! Code executions: what the platform sends and what a valid one is.

use serde::Deserialize;

use super::{
    codes::Coded,
    fields::{
        FieldError, Limits, MAX_DURATION_MS, MAX_ID, MAX_MEMORY_MB, TimestampInput, identifier,
        language, measure, optional_text, required, timestamp,
    },
    key::{KeyHash, KeyMemo, event_tenant, key_hash},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExecStatus {
    Completed,
    Failed,
    Timeout,
    Error,
}

impl Coded for ExecStatus {
    const ALL: &'static [Self] = &[Self::Completed, Self::Failed, Self::Timeout, Self::Error];

    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl ExecStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
            Self::Error => "error",
        }
    }

    fn parse(value: &str) -> Result<Self, FieldError> {
        Self::from_name(value).ok_or_else(|| {
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

impl Coded for ContainerSource {
    const ALL: &'static [Self] = &[Self::PoolHit, Self::PoolMiss, Self::Unknown];

    fn name(self) -> &'static str {
        self.as_str()
    }
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
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecutionInput {
    /// Unique per execution: a retried batch is counted once.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 128, pattern = "^[!-~]+$")]
    execution_id: Option<String>,
    api_key: Option<String>,
    api_key_hash: Option<String>,
    tenant_id: Option<String>,
    #[schema(required = true, value_type = String, min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9+#._-]+$")]
    language: Option<String>,
    #[schema(required = true, value_type = String, pattern = "^(completed|failed|timeout|error)$")]
    status: Option<String>,
    #[schema(required = true, value_type = f64, minimum = 0.0, maximum = 86_400_000.0)]
    execution_time_ms: Option<f64>,
    memory_peak_mb: Option<f64>,
    cpu_time_ms: Option<f64>,
    #[schema(pattern = "^(pool_hit|pool_miss)$")]
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
    /// The producer sent no timestamp: Tally stamped the event on arrival.
    pub stamped: bool,
}

impl ExecutionInput {
    pub fn validate(self, limits: &Limits) -> Result<Execution, FieldError> {
        self.validate_with(limits, &mut KeyMemo::default())
    }

    /// [`Self::validate`], hashing raw keys through `keys` (one per request).
    pub fn validate_with(
        self,
        limits: &Limits,
        keys: &mut KeyMemo,
    ) -> Result<Execution, FieldError> {
        let key = key_hash(self.api_key, self.api_key_hash, keys)?;
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
            stamped: self.created_at.is_none(),
            created_at_ms: timestamp("created_at", self.created_at, limits)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fields::test_support::{NOW, limits};
    use sha2::{Digest, Sha256};

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
        let key = e.key.unwrap();
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
}
