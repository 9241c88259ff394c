//! Splitting a request body into events: a JSON array, one JSON object, or
//! NDJSON. Each event is parsed on its own so an error names its index and
//! field path.

use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::http::error::ApiError;
use crate::model::FieldError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/json`: an array of events or a single event.
    Json,
    /// `application/x-ndjson` (or `application/ndjson`, `application/jsonl`):
    /// one event per line.
    Ndjson,
}

impl BodyFormat {
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let Some(value) = headers.get(header::CONTENT_TYPE) else {
            return Err(ApiError::UnsupportedMediaType(
                "Content-Type is missing: send application/json or application/x-ndjson".to_owned(),
            ));
        };
        let mime = value
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match mime.as_str() {
            "application/json" => Ok(Self::Json),
            "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/x-jsonlines" => Ok(Self::Ndjson),
            other => Err(ApiError::UnsupportedMediaType(format!(
                "Content-Type `{other}` is not supported: send application/json or application/x-ndjson"
            ))),
        }
    }
}

/// Parses every event of the body, or fails on the first bad one.
///
/// A body is first read in one pass straight into events; only a body that
/// fails to read that way is split into events and read again event by
/// event, with the field path tracked, to name the bad one.
pub fn parse_batch<I, T>(
    body: &[u8],
    format: BodyFormat,
    max_events: usize,
    mut validate: impl FnMut(I) -> Result<T, FieldError>,
) -> Result<Vec<T>, ApiError>
where
    I: DeserializeOwned,
{
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })?;
    let inputs = match read_fast::<I>(text, format) {
        Some(inputs) => inputs,
        None => read_checked::<I>(text, format, max_events)?,
    };
    if inputs.len() > max_events {
        return Err(too_many(inputs.len(), max_events));
    }
    inputs
        .into_iter()
        .enumerate()
        .map(|(index, input)| {
            validate(input).map_err(|error| ApiError::InvalidEvent { index, error })
        })
        .collect()
}

fn too_many(events: usize, max_events: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "the batch has {events} events; the limit is {max_events} per request"
    ))
}

/// Every event of a well-formed body in one pass; `None` if any part of it
/// does not read, which [`read_checked`] then explains.
fn read_fast<I: DeserializeOwned>(text: &str, format: BodyFormat) -> Option<Vec<I>> {
    match format {
        BodyFormat::Json => match text.trim_start().as_bytes().first() {
            Some(b'[') => serde_json::from_str(text).ok(),
            Some(b'{') => serde_json::from_str(text).ok().map(|one| vec![one]),
            _ => None,
        },
        BodyFormat::Ndjson => text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).ok())
            .collect(),
    }
}

/// Reads the body event by event, naming the index and field of the first
/// one that does not read.
fn read_checked<I: DeserializeOwned>(
    text: &str,
    format: BodyFormat,
    max_events: usize,
) -> Result<Vec<I>, ApiError> {
    let items = split(text, format)?;
    if items.len() > max_events {
        return Err(too_many(items.len(), max_events));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            parse_one::<I>(item).map_err(|error| ApiError::InvalidEvent { index, error })
        })
        .collect()
}

/// The JSON text of each event.
fn split(text: &str, format: BodyFormat) -> Result<Vec<&str>, ApiError> {
    match format {
        BodyFormat::Json => match text.trim_start().as_bytes().first() {
            Some(b'[') => serde_json::from_str::<Vec<&RawValue>>(text)
                .map(|items| items.into_iter().map(RawValue::get).collect())
                .map_err(|e| {
                    ApiError::BadRequest(format!("the body is not a JSON array of events: {e}"))
                }),
            Some(b'{') => Ok(vec![text]),
            Some(_) => Err(ApiError::BadRequest(
                "the body must be a JSON object or an array of objects".to_owned(),
            )),
            None => Err(ApiError::BadRequest("the body is empty".to_owned())),
        },
        BodyFormat::Ndjson => Ok(text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .collect()),
    }
}

fn parse_one<I: DeserializeOwned>(json: &str) -> Result<I, FieldError> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = error.path().to_string();
        let inner = error.into_inner();
        FieldError {
            // serde_path_to_error says "." for the event itself.
            field: if field == "." { String::new() } else { field },
            message: if inner.is_syntax() || inner.is_eof() {
                format!("invalid JSON: {inner}")
            } else {
                strip_position(&inner.to_string())
            },
        }
    })?;
    deserializer.end().map_err(|e| FieldError {
        field: String::new(),
        message: format!("invalid JSON: {e}"),
    })?;
    Ok(value)
}

/// serde_json ends messages with " at line 1 column 17", which points into
/// the event rather than the body: drop it.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Execution, ExecutionInput, Limits};

    fn limits() -> Limits {
        Limits {
            now_ms: 1_700_000_000_000,
            oldest_ms: 0,
            newest_ms: i64::MAX,
        }
    }

    fn parse(body: &str, format: BodyFormat) -> Result<Vec<Execution>, ApiError> {
        parse_batch(body.as_bytes(), format, 3, |i: ExecutionInput| {
            i.validate(&limits())
        })
    }

    const E: &str =
        r#"{"execution_id":"a","language":"go","status":"completed","execution_time_ms":1}"#;

    #[test]
    fn accepts_array_object_and_ndjson() {
        assert_eq!(
            parse(&format!("[{E},{E}]"), BodyFormat::Json)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(parse(E, BodyFormat::Json).unwrap().len(), 1);
        assert_eq!(
            parse(&format!("{E}\n\n{E}\n"), BodyFormat::Ndjson)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn errors_carry_index_and_field() {
        let bad = r#"{"execution_id":"b","language":"go","status":"completed","execution_time_ms":"slow"}"#;
        match parse(&format!("[{E},{bad}]"), BodyFormat::Json).unwrap_err() {
            ApiError::InvalidEvent { index, error } => {
                assert_eq!(index, 1);
                assert_eq!(error.field, "execution_time_ms");
                assert!(error.message.contains("invalid type"), "{}", error.message);
            }
            other => panic!("unexpected {other:?}"),
        }
        match parse(&format!("{E}\n{{nope"), BodyFormat::Ndjson).unwrap_err() {
            ApiError::InvalidEvent { index, error } => {
                assert_eq!(index, 1);
                assert!(
                    error.message.starts_with("invalid JSON"),
                    "{}",
                    error.message
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn too_many_events_is_413() {
        let body = format!("[{E},{E},{E},{E}]");
        assert!(matches!(
            parse(&body, BodyFormat::Json),
            Err(ApiError::PayloadTooLarge(_))
        ));
    }

    #[test]
    fn malformed_bodies_are_400() {
        for body in ["", "   ", "42", "[1,", "[{}]x"] {
            assert!(parse(body, BodyFormat::Json).is_err(), "{body:?}");
        }
        let invalid_utf8 = parse_batch(b"[\xff]", BodyFormat::Json, 3, |i: ExecutionInput| {
            i.validate(&limits())
        });
        assert!(matches!(invalid_utf8, Err(ApiError::BadRequest(m)) if m.contains("UTF-8")));
    }
}

/// Generated inputs: the parsers never panic, and what they accept is valid.
/// `PROPTEST_CASES=1000000` for the long run recorded in the README.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::model::{ExecutionInput, Limits, PoolInput, RequestInput};

    fn limits() -> Limits {
        Limits {
            now_ms: 1_795_000_000_000,
            oldest_ms: 1_787_000_000_000,
            newest_ms: 1_795_000_300_000,
        }
    }

    fn is_client_error(error: &ApiError) -> bool {
        matches!(
            error,
            ApiError::BadRequest(_) | ApiError::InvalidEvent { .. } | ApiError::PayloadTooLarge(_)
        )
    }

    /// Any JSON value, nested a few levels.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            ".{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".{0,12}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    const FIELDS: [&str; 25] = [
        "execution_id",
        "api_key",
        "api_key_hash",
        "tenant_id",
        "language",
        "status",
        "execution_time_ms",
        "memory_peak_mb",
        "cpu_time_ms",
        "container_source",
        "files_uploaded",
        "files_generated",
        "output_size_bytes",
        "state_size_bytes",
        "queue_wait_ms",
        "repl_mode",
        "session_id",
        "user_id",
        "entity_id",
        "created_at",
        "ts",
        "method",
        "endpoint",
        "status_code",
        "kind",
    ];

    /// Objects with the real field names and plausible or hostile values.
    fn event_like() -> impl Strategy<Value = Value> {
        let value = prop_oneof![
            any_json(),
            prop_oneof![
                Just("completed"),
                Just("failed"),
                Just("pool_hit"),
                Just("GET"),
                Just("/x"),
                Just("hit")
            ]
            .prop_map(|s| json!(s)),
            (-1e3f64..1e7).prop_map(|f| json!(f)),
            Just(json!("2026-11-18T10:00:00Z")),
            Just(json!(1_794_000_000.5)),
        ];
        prop::collection::btree_map(prop::sample::select(FIELDS.to_vec()), value, 0..12)
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), ndjson in any::<bool>()) {
            let format = if ndjson { BodyFormat::Ndjson } else { BodyFormat::Json };
            if let Err(error) = parse_batch(&bytes, format, 100, |i: ExecutionInput| i.validate(&limits())) {
                prop_assert!(is_client_error(&error), "{error:?}");
            }
        }

        #[test]
        fn arbitrary_json_never_panics(value in any_json()) {
            let body = serde_json::to_vec(&value).unwrap();
            for format in [BodyFormat::Json, BodyFormat::Ndjson] {
                let result = parse_batch(&body, format, 100, |i: RequestInput| i.validate(&limits()));
                if let Err(error) = result {
                    prop_assert!(is_client_error(&error), "{error:?}");
                }
            }
        }

        #[test]
        fn accepted_executions_are_valid(events in prop::collection::vec(event_like(), 1..8)) {
            let body = serde_json::to_vec(&events).unwrap();
            match parse_batch(&body, BodyFormat::Json, 100, |i: ExecutionInput| i.validate(&limits())) {
                Ok(parsed) => {
                    prop_assert_eq!(parsed.len(), events.len());
                    for e in parsed {
                        prop_assert!(!e.execution_id.is_empty() && e.execution_id.len() <= 128);
                        for v in [e.execution_time_ms, e.memory_peak_mb, e.cpu_time_ms, e.queue_wait_ms] {
                            prop_assert!(v.is_finite() && v >= 0.0);
                        }
                        prop_assert!(e.created_at_ms >= limits().oldest_ms && e.created_at_ms <= limits().newest_ms);
                    }
                }
                Err(error) => prop_assert!(is_client_error(&error), "{error:?}"),
            }
        }

        #[test]
        fn pool_events_never_panic(events in prop::collection::vec(event_like(), 1..8)) {
            let body = serde_json::to_vec(&events).unwrap();
            if let Err(error) = parse_batch(&body, BodyFormat::Json, 100, |i: PoolInput| i.validate(&limits())) {
                prop_assert!(is_client_error(&error), "{error:?}");
            }
        }
    }
}
