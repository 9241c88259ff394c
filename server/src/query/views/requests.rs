//! `requests`: API requests overall and by endpoint.

use std::collections::BTreeMap;

use app::types::{EndpointStats, RequestStats};

use super::range_bounds;
use crate::{
    histogram::Histogram,
    model::METHODS,
    query::{
        Context, QueryError,
        aggregate::{Ask, aggregate},
        count,
        params::{Filter, format_in},
        percent, ratio, round3,
    },
    storage::facts::{Dim, Fact, Requests, Values, requests::*},
};

pub async fn requests(ctx: &Context, filter: &Filter) -> Result<RequestStats, QueryError> {
    let filters = ctx.dim_filters(filter, Requests::DECL.dims).await?;
    let groups = aggregate::<Requests>(
        ctx,
        &Ask {
            bounds: &range_bounds(filter),
            group_by: &[Dim::Endpoint, Dim::Method],
            filters: &filters,
            measures: None,
            hist: true,
        },
    )
    .await?;
    let paths = ctx.storage.endpoint_paths().await?;
    let seconds = (filter.range.len_ms() as f64 / 1000.0).max(1.0);
    let mut total = Values::<Requests>::new();
    let mut total_hist = Histogram::new();
    let mut classes: BTreeMap<String, u64> = BTreeMap::new();
    let quantile = |h: &Histogram, v: &Values<Requests>, q| {
        h.quantile(q, Some(v.get(MAX_DURATION_MS))).map(round3)
    };
    let mut endpoints: Vec<EndpointStats> = Vec::new();
    for g in &groups {
        total.merge(g.values.as_slice());
        total_hist.merge(&g.hist);
        for (class, measure) in BY_CLASS {
            *classes.entry(format!("{class}xx")).or_default() += count(g.get(measure));
        }
        let n = g.get(REQUESTS);
        if n <= 0.0 {
            continue;
        }
        endpoints.push(EndpointStats {
            endpoint: paths.get(&g.dims[0]).cloned().unwrap_or_default(),
            method: METHODS
                .get(usize::try_from(g.dims[1]).unwrap_or(0))
                .copied()
                .unwrap_or("GET")
                .to_owned(),
            requests: count(n),
            requests_per_second: round3(n / seconds),
            error_rate: percent(g.get(CLASS_5XX), n),
            errors_5xx: count(g.get(CLASS_5XX)),
            errors_4xx: count(g.get(CLASS_4XX)),
            avg_ms: round3(ratio(g.get(SUM_DURATION_MS), n)),
            p50_ms: quantile(&g.hist, &g.values, 0.5),
            p95_ms: quantile(&g.hist, &g.values, 0.95),
            p99_ms: quantile(&g.hist, &g.values, 0.99),
            max_ms: g.get(MAX_DURATION_MS),
        });
    }
    endpoints.sort_by(|a, b| {
        b.requests
            .cmp(&a.requests)
            .then_with(|| a.endpoint.cmp(&b.endpoint))
            .then_with(|| a.method.cmp(&b.method))
    });
    classes.retain(|_, n| *n > 0);
    let n = total.get(REQUESTS);
    Ok(RequestStats {
        total_requests: count(n),
        requests_per_second: round3(n / seconds),
        error_rate: percent(total.get(CLASS_5XX), n),
        client_error_rate: percent(total.get(CLASS_4XX), n),
        cache_hit_rate: percent(total.get(CACHE_HITS), n),
        p50_ms: quantile(&total_hist, &total, 0.5),
        p95_ms: quantile(&total_hist, &total, 0.95),
        p99_ms: quantile(&total_hist, &total, 0.99),
        status_classes: classes,
        endpoints,
        period: filter.range.period.clone(),
        start_date: format_in(filter.range.from_ms, filter.tz),
        end_date: format_in(filter.range.to_ms, filter.tz),
    })
}
