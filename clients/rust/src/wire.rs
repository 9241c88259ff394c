//! Events in the form they are sent in: the API's field names, ids and
//! times already stamped, optional fields left out when unset.

use serde::{Serialize, Serializer};

/// The three ingest endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Executions,
    Requests,
    Pool,
}

impl Kind {
    pub(crate) const ALL: [Kind; 3] = [Kind::Executions, Kind::Requests, Kind::Pool];

    /// The last segment of `/api/v1/events/{kind}`.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Self::Executions => "executions",
            Self::Requests => "requests",
            Self::Pool => "pool",
        }
    }
}

/// A checked, stamped event waiting to be sent.
#[derive(Debug)]
pub(crate) enum Event {
    Execution(Box<WireExecution>),
    Request(Box<WireRequest>),
    Pool(Box<WirePool>),
}

impl Event {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Self::Execution(_) => Kind::Executions,
            Self::Request(_) => Kind::Requests,
            Self::Pool(_) => Kind::Pool,
        }
    }

    /// The event's JSON object.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let written = match self {
            Self::Execution(e) => serde_json::to_vec(e),
            Self::Request(r) => serde_json::to_vec(r),
            Self::Pool(p) => serde_json::to_vec(p),
        };
        // Plain structs of strings and numbers (finite: checked) always serialise.
        written.unwrap_or_default()
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct WireExecution {
    pub(crate) execution_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) api_key_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tenant_id: Option<String>,
    pub(crate) language: String,
    pub(crate) status: &'static str,
    pub(crate) execution_time_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) memory_peak_mb: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cpu_time_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) container_source: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) files_uploaded: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) files_generated: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) output_size_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) state_size_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) queue_wait_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) repl_mode: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) entity_id: Option<String>,
    #[serde(serialize_with = "rfc3339")]
    pub(crate) created_at: i64,
}

#[derive(Debug, Serialize)]
pub(crate) struct WireRequest {
    pub(crate) id: String,
    #[serde(serialize_with = "rfc3339")]
    pub(crate) ts: i64,
    pub(crate) method: &'static str,
    pub(crate) endpoint: String,
    pub(crate) status_code: u16,
    pub(crate) duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) api_key_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tenant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cache_hit: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct WirePool {
    pub(crate) id: String,
    #[serde(serialize_with = "rfc3339")]
    pub(crate) ts: i64,
    pub(crate) kind: &'static str,
    pub(crate) language: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) acquire_time_ms: Option<f64>,
}

/// Milliseconds since the epoch as RFC 3339 text in UTC, to the millisecond
/// Tally keeps: every retry sends the same text.
fn rfc3339<S: Serializer>(ms: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    let time = chrono::DateTime::from_timestamp_millis(*ms).unwrap_or_default();
    // Not `format(…)`: that parses its pattern on every call.
    serializer.serialize_str(&time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}
