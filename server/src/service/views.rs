//! One view request: its query checked once against now's bounds, then run
//! and timed into Tally's own query-duration histogram.

use std::future::Future;

use app::{error::AppError, types::MetricsQuery};

use crate::{
    query::{Context, QueryError, params::Filter},
    state::AppState,
};

/// The context and checked filter of one view request.
pub struct ViewRequest {
    pub context: Context,
    pub filter: Filter,
    metrics: std::sync::Arc<crate::self_metrics::SelfMetrics>,
}

impl AppState {
    /// Checks `query` (period or range, filters, zone): bad values are a
    /// `BadRequest` naming the parameter.
    pub fn view_request(&self, query: &MetricsQuery) -> Result<ViewRequest, AppError> {
        let context = self.query_context();
        let filter = context.filter(query).map_err(QueryError::from)?;
        Ok(self.view_over(context, filter))
    }

    /// A view request over a filter built by the server itself.
    pub fn view_over(&self, context: Context, filter: Filter) -> ViewRequest {
        ViewRequest {
            context,
            filter,
            metrics: self.self_metrics.clone(),
        }
    }
}

impl ViewRequest {
    /// Runs one query-layer view (e.g. `query::summary`).
    pub async fn run<'a, V, Fut>(
        &'a self,
        view: impl FnOnce(&'a Context, &'a Filter) -> Fut,
    ) -> Result<V, AppError>
    where
        Fut: Future<Output = Result<V, QueryError>>,
    {
        let started = std::time::Instant::now();
        let answer = view(&self.context, &self.filter).await;
        self.metrics
            .query_duration
            .record(started.elapsed().as_secs_f64());
        Ok(answer?)
    }
}
