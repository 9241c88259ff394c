//! `api-keys`: every known key with its usage and resource consumption.

use std::collections::{HashMap, HashSet};

use app::types::ApiKeyUsage;

use super::range_bounds;
use crate::{
    query::{
        Context, QueryError,
        aggregate::{Ask, Group, aggregate},
        count,
        params::Filter,
        round3,
    },
    storage::facts::{
        Dim, Executions, Fact, Requests, Values, executions as exec, requests as req,
    },
};

pub async fn api_keys(ctx: &Context, filter: &Filter) -> Result<Vec<ApiKeyUsage>, QueryError> {
    let key_ids = ctx.key_ids(filter).await?;
    let bounds = range_bounds(filter);
    let filters = ctx.dim_filters(filter, Executions::DECL.dims).await?;
    let request_filters = ctx.dim_filters(filter, Requests::DECL.dims).await?;
    let execution_ask = Ask {
        bounds: &bounds,
        group_by: &[Dim::Key],
        filters: &filters,
        measures: Some(&[
            exec::EXECUTIONS,
            exec::COMPLETED,
            exec::SUM_CPU_MS,
            exec::SUM_MEMORY_MB_S,
            exec::SUM_TIME_MS,
            exec::FILES_UPLOADED,
            exec::FILES_GENERATED,
            exec::OUTPUT_BYTES,
        ]),
        hist: false,
    };
    let request_ask = Ask {
        bounds: &bounds,
        group_by: &[Dim::Key],
        filters: &request_filters,
        measures: Some(&[req::REQUESTS]),
        hist: false,
    };
    let executions = aggregate::<Executions>(ctx, &execution_ask);
    let requests = aggregate::<Requests>(ctx, &request_ask);
    // The two facts' rollups and the key list are read at once: on a
    // first call each is a load of its own from SQLite.
    let (executions, requests, keys) = tokio::try_join!(executions, requests, async {
        ctx.storage.api_keys().await.map_err(QueryError::from)
    })?;
    let mut per_key: HashMap<i64, Group<Executions>> =
        executions.into_iter().map(|g| (g.dims[0], g)).collect();
    let requests: HashMap<i64, f64> = requests
        .iter()
        .map(|g| (g.dims[0], g.get(req::REQUESTS)))
        .collect();
    let wanted: Option<HashSet<i64>> = key_ids.map(|ids| ids.into_iter().collect());
    let mut rows: Vec<ApiKeyUsage> = keys
        .into_iter()
        .filter(|k| wanted.as_ref().is_none_or(|w| w.contains(&k.id)))
        .map(|k| {
            let id = k.id;
            let t = per_key.remove(&id).map_or_else(Values::new, |g| g.values);
            let n = t.get(exec::EXECUTIONS);
            ApiKeyUsage {
                key_prefix: k.name.clone().unwrap_or_else(|| k.prefix.clone()),
                key_hash: k.prefix,
                name: k.name,
                tenant: k.tenant,
                usage_count: count(n),
                source: "rollups".to_owned(),
                success_count: count(t.get(exec::COMPLETED)),
                error_count: count(n - t.get(exec::COMPLETED)),
                cpu_time_ms: round3(t.get(exec::SUM_CPU_MS)),
                memory_mb_seconds: round3(t.get(exec::SUM_MEMORY_MB_S)),
                execution_time_ms: round3(t.get(exec::SUM_TIME_MS)),
                files_uploaded: count(t.get(exec::FILES_UPLOADED)),
                files_generated: count(t.get(exec::FILES_GENERATED)),
                output_bytes: count(t.get(exec::OUTPUT_BYTES)),
                api_requests: count(requests.get(&id).copied().unwrap_or(0.0)),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.usage_count
            .cmp(&a.usage_count)
            .then_with(|| a.key_hash.cmp(&b.key_hash))
    });
    Ok(rows)
}
