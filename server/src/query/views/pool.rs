//! `pool`: pool hit rate, cold starts, exhaustion, and cold-start cost.

use app::types::{ColdStartCost, PoolStats};

use super::range_bounds;
use crate::{
    query::{
        Context, QueryError,
        aggregate::{Ask, aggregate},
        count,
        params::{Filter, format_in},
        percent, ratio, round3,
    },
    storage::facts::{Dim, Executions, Fact, PoolEvents, Values, executions as exec, pool},
};

pub async fn pool(ctx: &Context, filter: &Filter) -> Result<PoolStats, QueryError> {
    let bounds = range_bounds(filter);
    // Pool events carry no key: only the language filter applies to them.
    let pool_filters = ctx.dim_filters(filter, PoolEvents::DECL.dims).await?;
    let events = aggregate::<PoolEvents>(
        ctx,
        &Ask {
            bounds: &bounds,
            group_by: &[],
            filters: &pool_filters,
            measures: None,
            hist: false,
        },
    )
    .await?;
    let e = events
        .first()
        .map_or_else(Values::new, |g| g.values.clone());
    let (hits, misses) = (e.get(pool::HITS), e.get(pool::MISSES));
    let filters = ctx.dim_filters(filter, Executions::DECL.dims).await?;
    let executions = aggregate::<Executions>(
        ctx,
        &Ask {
            bounds: &bounds,
            group_by: &[Dim::Language],
            filters: &filters,
            measures: Some(&[
                exec::POOL_HITS,
                exec::POOL_MISSES,
                exec::TIME_POOL_HIT_MS,
                exec::TIME_POOL_MISS_MS,
            ]),
            hist: false,
        },
    )
    .await?;
    let names = ctx.storage.language_names().await?;
    let mut cold_start_cost: Vec<ColdStartCost> = executions
        .iter()
        .filter(|g| g.get(exec::POOL_HITS) + g.get(exec::POOL_MISSES) > 0.0)
        .filter_map(|g| {
            let (h, m) = (g.get(exec::POOL_HITS), g.get(exec::POOL_MISSES));
            let hit_avg = ratio(g.get(exec::TIME_POOL_HIT_MS), h);
            let miss_avg = ratio(g.get(exec::TIME_POOL_MISS_MS), m);
            Some(ColdStartCost {
                language: names.get(&g.dims[0])?.clone(),
                pool_hit_executions: count(h),
                pool_miss_executions: count(m),
                avg_ms_pool_hit: round3(hit_avg),
                avg_ms_pool_miss: round3(miss_avg),
                cold_start_penalty_ms: if h > 0.0 && m > 0.0 {
                    round3(miss_avg - hit_avg)
                } else {
                    0.0
                },
            })
        })
        .collect();
    cold_start_cost.sort_by(|a, b| a.language.cmp(&b.language));
    Ok(PoolStats {
        hit_rate: percent(hits, hits + misses),
        hits: count(hits),
        cold_starts: count(misses),
        exhausted: count(e.get(pool::EXHAUSTED)),
        avg_acquire_ms_hit: round3(ratio(e.get(pool::SUM_ACQUIRE_HIT_MS), hits)),
        avg_acquire_ms_miss: round3(ratio(e.get(pool::SUM_ACQUIRE_MISS_MS), misses)),
        cold_start_cost,
        period: filter.range.period.clone(),
        start_date: format_in(filter.range.from_ms, filter.tz),
        end_date: format_in(filter.range.to_ms, filter.tz),
    })
}
