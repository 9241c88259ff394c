//! API requests served by the platform.

use serde::Deserialize;

use super::{
    fields::{
        FieldError, Limits, MAX_CLIENT_IP, MAX_DURATION_MS, MAX_ENDPOINT, MAX_ERROR,
        MAX_USER_AGENT, TimestampInput, id_or_random, measure, optional_text, required, text,
        timestamp,
    },
    key::{KeyHash, KeyMemo, event_tenant, key_hash},
};

/// One API request served by the platform.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    /// Unique per request (random when absent).
    #[schema(min_length = 1, max_length = 128, pattern = "^[!-~]+$")]
    id: Option<String>,
    ts: Option<TimestampInput>,
    #[schema(required = true, value_type = String, pattern = "^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|CONNECT|TRACE)$")]
    method: Option<String>,
    /// The route template, e.g. `/api/v1/exec/{id}`.
    #[schema(required = true, value_type = String, max_length = 256, pattern = "^/")]
    endpoint: Option<String>,
    #[schema(required = true, value_type = u16, minimum = 100, maximum = 599)]
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
    /// The producer sent no timestamp: Tally stamped the event on arrival.
    pub stamped: bool,
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

/// The code of a (valid, upper-case) method: its position in [`METHODS`].
pub fn method_code(method: &str) -> i64 {
    METHODS.iter().position(|m| *m == method).unwrap_or(0) as i64
}

/// HTTP methods accepted, in the order of their stored codes (append only).
pub const METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
];

impl RequestInput {
    pub fn validate(self, limits: &Limits) -> Result<ApiRequest, FieldError> {
        self.validate_with(limits, &mut KeyMemo::default())
    }

    /// [`Self::validate`], hashing raw keys through `keys` (one per request).
    pub fn validate_with(
        self,
        limits: &Limits,
        keys: &mut KeyMemo,
    ) -> Result<ApiRequest, FieldError> {
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
        let key = key_hash(self.api_key, self.api_key_hash, keys)?;
        Ok(ApiRequest {
            id: id_or_random("id", self.id)?,
            stamped: self.ts.is_none(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fields::test_support::{NOW, limits};
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
}
