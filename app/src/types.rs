//! Types exchanged between the dashboard and the server.

use serde::{Deserialize, Serialize};

/// What the server says about itself: shown in the dashboard footer and
/// used by health checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerStatus {
    /// Version of the running server binary.
    pub version: String,
    /// Seconds since the server started.
    pub uptime_seconds: u64,
    /// Where the hot counters live: `"redis"` or `"in-process"`.
    pub counters: String,
}
