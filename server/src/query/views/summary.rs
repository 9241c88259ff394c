//! `summary`: totals, rates, percentiles and resource use.

use app::types::Summary;

use super::range_bounds;
use crate::{
    histogram,
    query::{
        Context, QueryError,
        aggregate::{Ask, aggregate},
        count,
        params::{Filter, format_in},
        percent, ratio, round3,
    },
    storage::facts::{Dim, Executions, Fact, executions::*},
};

pub async fn summary(ctx: &Context, filter: &Filter) -> Result<Summary, QueryError> {
    let mut summary = summary_of(ctx, filter).await?;
    if filter.compare {
        summary.previous = Some(Box::new(summary_of(ctx, &filter.previous()).await?));
    }
    Ok(summary)
}

async fn summary_of(ctx: &Context, filter: &Filter) -> Result<Summary, QueryError> {
    let filters = ctx.dim_filters(filter, Executions::DECL.dims).await?;
    let bounds = range_bounds(filter);
    let totals = aggregate::<Executions>(
        ctx,
        &Ask {
            bounds: &bounds,
            group_by: &[],
            filters: &filters,
            measures: None,
            hist: true,
        },
    )
    .await?;
    // Keys with executions in the range: one group per key.
    let keys = aggregate::<Executions>(
        ctx,
        &Ask {
            bounds: &bounds,
            group_by: &[Dim::Key],
            filters: &filters,
            measures: Some(&[EXECUTIONS]),
            hist: false,
        },
    )
    .await?
    .iter()
    .filter(|g| g.dims[0] != 0 && g.get(EXECUTIONS) > 0.0)
    .count();
    let Some(t) = totals.first() else {
        return Ok(empty(filter));
    };
    let n = t.get(EXECUTIONS);
    let quantile = |q| t.quantile(q, MAX_TIME_MS).map(round3);
    Ok(Summary {
        total_executions: count(n),
        success_count: count(t.get(COMPLETED)),
        failure_count: count(t.get(FAILED) + t.get(ERRORED)),
        timeout_count: count(t.get(TIMED_OUT)),
        success_rate: percent(t.get(COMPLETED), n),
        avg_execution_time_ms: round3(ratio(t.get(SUM_TIME_MS), n)),
        pool_hit_rate: percent(t.get(POOL_HITS), t.get(POOL_HITS) + t.get(POOL_MISSES)),
        active_api_keys: keys as u64,
        failed_count: count(t.get(FAILED)),
        error_count: count(t.get(ERRORED)),
        p50_execution_time_ms: quantile(0.50),
        p95_execution_time_ms: quantile(0.95),
        p99_execution_time_ms: quantile(0.99),
        max_execution_time_ms: t.get(MAX_TIME_MS),
        total_cpu_time_ms: round3(t.get(SUM_CPU_MS)),
        total_memory_mb_seconds: round3(t.get(SUM_MEMORY_MB_S)),
        avg_memory_peak_mb: round3(ratio(t.get(SUM_MEMORY_MB), n)),
        max_memory_peak_mb: t.get(MAX_MEMORY_MB),
        files_uploaded: count(t.get(FILES_UPLOADED)),
        files_generated: count(t.get(FILES_GENERATED)),
        output_bytes: count(t.get(OUTPUT_BYTES)),
        avg_queue_wait_ms: round3(ratio(t.get(SUM_QUEUE_WAIT_MS), n)),
        ..empty(filter)
    })
}

/// The summary of a range without executions.
fn empty(filter: &Filter) -> Summary {
    Summary {
        total_executions: 0,
        success_count: 0,
        failure_count: 0,
        timeout_count: 0,
        success_rate: 0.0,
        avg_execution_time_ms: 0.0,
        pool_hit_rate: 0.0,
        active_api_keys: 0,
        period: filter.range.period.clone(),
        start_date: format_in(filter.range.from_ms, filter.tz),
        end_date: format_in(filter.range.to_ms, filter.tz),
        failed_count: 0,
        error_count: 0,
        p50_execution_time_ms: None,
        p95_execution_time_ms: None,
        p99_execution_time_ms: None,
        percentile_relative_error: round3(histogram::RELATIVE_ERROR),
        max_execution_time_ms: 0.0,
        total_cpu_time_ms: 0.0,
        total_memory_mb_seconds: 0.0,
        avg_memory_peak_mb: 0.0,
        max_memory_peak_mb: 0.0,
        files_uploaded: 0,
        files_generated: 0,
        output_bytes: 0,
        avg_queue_wait_ms: 0.0,
        timezone: filter.tz.name().to_owned(),
        previous: None,
    }
}
