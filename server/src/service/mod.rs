//! The application façade. Every REST handler (`http`) and every server
//! function (through the [`Backend`](app::backend::Backend) impl in
//! [`dashboard`]) comes in here: one place checks a view's query, times it
//! and runs it, and every failure leaves as an [`AppError`].
//!
//! * [`views`]: [`ViewRequest`], the parsed query of one view request;
//! * [`status`]: health, the process gauges, the Prometheus exposition;
//! * [`keys`]: naming keys and putting them into tenants;
//! * [`custom`]: custom metrics received over OTLP;
//! * [`dashboard`]: the server functions' backend.

pub mod custom;
mod dashboard;
pub mod keys;
pub mod status;
pub mod views;

pub use views::ViewRequest;

use app::error::AppError;

use crate::query::QueryError;

/// A failed query: bad parameters are the caller's, the rest is logged
/// here and answered as `Internal`.
impl From<QueryError> for AppError {
    fn from(error: QueryError) -> Self {
        match error {
            QueryError::Param(e) => Self::field(e.param, e.message),
            QueryError::Storage(e) => internal(&e),
            QueryError::Unanswerable(e) => internal(&e),
        }
    }
}

/// Logs a failure the caller cannot act on; answers `Internal`.
pub fn internal(error: &dyn std::fmt::Display) -> AppError {
    tracing::error!(error = %error, "Request failed.");
    AppError::Internal
}

/// A storage failure of the service's own reads and writes.
pub fn storage(error: sqlx::Error) -> AppError {
    internal(&format!("database: {error}"))
}
