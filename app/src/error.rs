//! The one error of Tally's application layer. The server's service answers
//! with it, the server functions carry it to the dashboard (as their error
//! type), and the dashboard matches its variants: never its text.
//!
//! On the wire it is Tally's error body, the same as the REST API's:
//! `{"error": "<message>", "kind": "bad_request", "field": "period"}`.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(into = "ErrorBody", from = "ErrorBody")]
pub enum AppError {
    /// A parameter or argument is wrong; `field` names it when one does.
    #[error("{}", with_field(field.as_deref(), message))]
    BadRequest {
        field: Option<String>,
        message: String,
    },
    /// No session and no master key, or the session expired.
    #[error("not logged in")]
    Unauthenticated,
    /// A login with a key that is not the master key.
    #[error("wrong master key")]
    WrongKey,
    #[error("{0}")]
    NotFound(String),
    /// The thing changed since the caller read it.
    #[error("{0}")]
    Conflict(String),
    /// A dependency (the counters, the disk) cannot answer right now.
    #[error("{0}")]
    Unavailable(String),
    #[error("too many wrong keys; try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    /// Logged in full by the server; its text never reaches the client.
    #[error("the server could not answer; see its log")]
    Internal,
    /// The call did not reach the server, or its answer could not be read.
    #[error("{0}")]
    Transport(String),
}

fn with_field(field: Option<&str>, message: &str) -> String {
    match field {
        Some(field) => format!("{field}: {message}"),
        None => message.to_owned(),
    }
}

impl AppError {
    /// A bad value of the parameter `field`.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadRequest {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// A bad request no single parameter is to blame for.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            field: None,
            message: message.into(),
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest { .. } => 400,
            Self::Unauthenticated | Self::WrongKey => 401,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::TooManyAttempts { .. } => 429,
            Self::Internal => 500,
            Self::Transport(_) => 502,
            Self::Unavailable(_) => 503,
        }
    }

    /// Seconds the client should wait before trying again, if it should.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::TooManyAttempts { retry_after_secs } => Some(*retry_after_secs),
            Self::Unavailable(_) => Some(2),
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(error: ServerFnErrorErr) -> Self {
        match error {
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => {
                Self::bad_request(format!("the arguments could not be read: {m}"))
            }
            // On the server this is the request body; in the browser, the answer.
            ServerFnErrorErr::Deserialization(m) if cfg!(feature = "ssr") => {
                Self::bad_request(format!("the request could not be read: {m}"))
            }
            ServerFnErrorErr::UnsupportedRequestMethod(m) => Self::bad_request(m),
            ServerFnErrorErr::Registration(m) => Self::NotFound(m),
            other => Self::Transport(other.to_string()),
        }
    }
}

/// [`AppError`] as it travels: Tally's error body.
#[derive(Serialize, Deserialize)]
struct ErrorBody {
    error: String,
    kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after_secs: Option<u64>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    BadRequest,
    Unauthenticated,
    WrongKey,
    NotFound,
    Conflict,
    Unavailable,
    TooManyAttempts,
    Internal,
    Transport,
}

impl From<AppError> for ErrorBody {
    fn from(error: AppError) -> Self {
        let (kind, field) = match &error {
            AppError::BadRequest { field, .. } => (Kind::BadRequest, field.clone()),
            AppError::Unauthenticated => (Kind::Unauthenticated, None),
            AppError::WrongKey => (Kind::WrongKey, None),
            AppError::NotFound(_) => (Kind::NotFound, None),
            AppError::Conflict(_) => (Kind::Conflict, None),
            AppError::Unavailable(_) => (Kind::Unavailable, None),
            AppError::TooManyAttempts { .. } => (Kind::TooManyAttempts, None),
            AppError::Internal => (Kind::Internal, None),
            AppError::Transport(_) => (Kind::Transport, None),
        };
        Self {
            error: error.to_string(),
            kind,
            field,
            retry_after_secs: match error {
                AppError::TooManyAttempts { retry_after_secs } => Some(retry_after_secs),
                _ => None,
            },
        }
    }
}

impl From<ErrorBody> for AppError {
    fn from(body: ErrorBody) -> Self {
        let message = body.error;
        match body.kind {
            Kind::BadRequest => {
                let message = match &body.field {
                    Some(field) => message
                        .strip_prefix(&format!("{field}: "))
                        .map_or_else(|| message.clone(), str::to_owned),
                    None => message,
                };
                Self::BadRequest {
                    field: body.field,
                    message,
                }
            }
            Kind::Unauthenticated => Self::Unauthenticated,
            Kind::WrongKey => Self::WrongKey,
            Kind::NotFound => Self::NotFound(message),
            Kind::Conflict => Self::Conflict(message),
            Kind::Unavailable => Self::Unavailable(message),
            Kind::TooManyAttempts => Self::TooManyAttempts {
                retry_after_secs: body.retry_after_secs.unwrap_or(1),
            },
            Kind::Internal => Self::Internal,
            Kind::Transport => Self::Transport(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_survives_the_wire() {
        let errors = [
            AppError::field("period", "unknown `x`"),
            AppError::bad_request("the arguments could not be read"),
            AppError::Unauthenticated,
            AppError::WrongKey,
            AppError::NotFound("no API key starts with ab".to_owned()),
            AppError::Conflict("changed".to_owned()),
            AppError::Unavailable("redis is down".to_owned()),
            AppError::TooManyAttempts {
                retry_after_secs: 30,
            },
            AppError::Internal,
            AppError::Transport("offline".to_owned()),
        ];
        for error in errors {
            let text = serde_json::to_string(&error).unwrap();
            let body: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(body["error"], error.to_string(), "{text}");
            assert_eq!(serde_json::from_str::<AppError>(&text).unwrap(), error);
        }
    }

    #[test]
    fn a_bad_field_is_named_in_the_body() {
        let text = serde_json::to_string(&AppError::field("period", "unknown `x`")).unwrap();
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"], "period: unknown `x`");
        assert_eq!(body["kind"], "bad_request");
        assert_eq!(body["field"], "period");
    }
}
