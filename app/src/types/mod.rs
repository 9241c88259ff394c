//! Types exchanged between the dashboard and the server, and returned by the
//! REST API. Field names of the reference platform's responses are kept;
//! Tally's additions are extra fields, never renames.
//!
//! * [`usage`]: executions by time, language, key and hour.
//! * [`platform`]: API requests, the container pool, live counters.
//! * [`system`]: the health score and host metrics.
//! * [`custom`]: custom metrics received over OTLP.
//! * [`alerts`]: alert rules, incidents and deliveries.

mod alerts;
mod custom;
mod platform;
mod system;
mod usage;

use serde::{Deserialize, Serialize};

pub use self::{alerts::*, custom::*, platform::*, system::*, usage::*};

/// What the server says about itself: shown in the dashboard footer and
/// used by health checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServerStatus {
    /// Version of the running server binary.
    pub version: String,
    /// Seconds since the server started.
    pub uptime_seconds: u64,
    /// Where the hot counters live: `"redis"` or `"in-process"`.
    pub counters: String,
}

/// Query parameters of every admin view, as they arrive (strings are
/// checked by the server, which answers 400 naming the bad one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct MetricsQuery {
    /// `hour`, `day`, `week`, `month`, `quarter` or `year` back from now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    /// Start of a custom range (`YYYY-MM-DD` in `tz`, or RFC 3339);
    /// overrides `period`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// End of a custom range; a date includes that whole day. Default: now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// One or more API keys (16-hex prefixes or 64-hex hashes), comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_hash: Option<String>,
    /// One or more tenants, comma-separated: their keys, added up (with
    /// `api_key_hash` too: only the listed keys of these tenants).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// One or more languages, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// IANA time zone for day buckets and the heatmap. Default `UTC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// `previous`: also return the figures of the preceding period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<String>,
    /// Languages view: also break down by API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_by_api_key: Option<bool>,
    /// Top-languages view: how many (1–20, default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Time-series view: `minute`, `hour` or `day` instead of the automatic choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<String>,
}
