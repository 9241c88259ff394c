//! Field-level parsing shared by every event kind: the error that names a
//! field, the bounds that depend on configuration and arrival time, and the
//! checks of texts, identifiers, measures and timestamps.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::time::format_ms;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field (`status`), empty when the event as a whole is wrong.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(field: &str, message: impl Into<String>) -> Self {
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

pub(crate) const MAX_ID: usize = 128;
pub(crate) const MAX_LANGUAGE: usize = 32;
pub(crate) const MAX_ENDPOINT: usize = 256;
pub(crate) const MAX_USER_AGENT: usize = 512;
pub(crate) const MAX_ERROR: usize = 1024;
pub(crate) const MAX_CLIENT_IP: usize = 64;
/// One day in milliseconds: a duration above it is a unit mistake.
pub(crate) const MAX_DURATION_MS: f64 = 86_400_000.0;
pub(crate) const MAX_MEMORY_MB: f64 = 16.0 * 1024.0 * 1024.0;

// ---------------------------------------------------------------------------
// Field helpers

pub(crate) fn required<T>(field: &str, value: Option<T>) -> Result<T, FieldError> {
    value.ok_or_else(|| FieldError::new(field, "is required"))
}

pub(crate) fn text(field: &str, value: String, max: usize) -> Result<String, FieldError> {
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

pub(crate) fn optional_text(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    value.map(|v| text(field, v, max)).transpose()
}

/// Identifiers: printable ASCII without spaces.
pub(crate) fn identifier(field: &str, value: String) -> Result<String, FieldError> {
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
pub(crate) fn language(field: &str, value: String) -> Result<String, FieldError> {
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

pub(crate) fn measure(field: &str, value: Option<f64>, max: f64) -> Result<f64, FieldError> {
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
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum TimestampInput {
    Text(String),
    Epoch(f64),
}

pub(crate) fn timestamp(
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

/// Events without an id get a random one, so they are stored but cannot be
/// deduplicated: producers that retry should send ids.
pub(crate) fn id_or_random(field: &str, value: Option<String>) -> Result<String, FieldError> {
    match value {
        Some(id) => identifier(field, id),
        None => Ok(hex::encode(rand::random::<[u8; 16]>())),
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::Limits;

    pub const NOW: i64 = 1_700_000_000_000;

    pub fn limits() -> Limits {
        Limits {
            now_ms: NOW,
            oldest_ms: NOW - 90 * 86_400_000,
            newest_ms: NOW + 300_000,
        }
    }
}
