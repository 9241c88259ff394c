//! The error type of the HTTP API: every failure becomes a status code and a
//! JSON body `{"error": "..."}` that names what is wrong. Internal errors are
//! logged in full and answered with a generic message.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use app::error::AppError;

use crate::{ingest::writer::WriteError, model::FieldError};

/// Tally's error body: what every 4xx and 5xx answer carries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What is wrong, naming the parameter or field.
    pub error: String,
    /// The position of the rejected event in its batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The rejected field of that event (dotted path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or wrong credentials")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// One event of a batch is wrong; the batch is rejected whole.
    #[error("event {index}: {error}")]
    InvalidEvent { index: usize, error: FieldError },
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after_secs: u32,
    },
    #[error("too many attempts; retry in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u32 },
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
    /// An internal failure the service has already logged in full.
    #[error("internal error")]
    Logged,
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

/// The service's errors keep their status; `Internal` was logged where it
/// happened.
impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::BadRequest { .. } => Self::BadRequest(error.to_string()),
            AppError::Unauthenticated | AppError::WrongKey => Self::Unauthorized,
            AppError::NotFound(message) => Self::NotFound(message),
            AppError::Conflict(message) => Self::Conflict(message),
            AppError::Unavailable(message) => Self::Unavailable {
                message,
                retry_after_secs: 2,
            },
            AppError::TooManyAttempts { retry_after_secs } => Self::TooManyRequests {
                retry_after_secs: u32::try_from(retry_after_secs).unwrap_or(u32::MAX),
            },
            AppError::Internal => Self::Logged,
            AppError::Transport(_) => Self::Internal(anyhow::anyhow!("{error}")),
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::TooLarge { .. } => Self::PayloadTooLarge(error.to_string()),
            WriteError::BufferFull { .. } | WriteError::Busy => Self::Unavailable {
                message: error.to_string(),
                retry_after_secs: 1,
            },
            WriteError::DiskFull
            | WriteError::ReadOnly
            | WriteError::Storage
            | WriteError::ShuttingDown => Self::Unavailable {
                message: error.to_string(),
                retry_after_secs: 5,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidEvent { .. } => StatusCode::BAD_REQUEST,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Logged => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "Request failed.");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let body = ErrorBody {
            error: self.to_string(),
            index: match &self {
                Self::InvalidEvent { index, .. } => Some(*index),
                _ => None,
            },
            field: match &self {
                Self::InvalidEvent { error, .. } => Some(error.field.clone()),
                _ => None,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let Self::Unavailable {
            retry_after_secs, ..
        }
        | Self::TooManyRequests { retry_after_secs } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}
