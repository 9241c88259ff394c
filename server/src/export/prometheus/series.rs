//! The data series: executions, durations, CPU, API requests and pool
//! events, all time, from the rollups' all-time grain.

use std::collections::BTreeMap;

use super::{
    TOP_ENDPOINTS, TOP_KEYS,
    text::{header, histogram_samples, sample},
};
use crate::{
    histogram::Histogram,
    model::{Coded, ExecStatus, Granularity, METHODS, PoolKind},
    storage::{
        Storage,
        facts::{
            Dim, DimValues, Executions, Fact, PoolEvents, Requests, Values, executions as exec,
            pool, requests as req,
        },
        rollup_read::RollupRead,
    },
};

/// All-time rows of the rollup of `F` with `dims`: (dims in `dims` order,
/// measures, histogram).
async fn all_time<F: Fact>(
    storage: &Storage,
    dims: &[Dim],
    hist: bool,
) -> Result<Vec<(DimValues, Values<F>, Histogram)>, sqlx::Error> {
    let Some(rollup) = F::DECL
        .rollups
        .iter()
        .find(|r| r.has_grain(Granularity::Total) && r.has_dims(dims))
    else {
        return Ok(Vec::new());
    };
    let measures: Vec<usize> = (0..F::DECL.measures.len()).collect();
    let at: Vec<usize> = dims
        .iter()
        .filter_map(|d| rollup.dims.iter().position(|r| r == d))
        .collect();
    let read = RollupRead {
        fact: F::DECL,
        rollup,
        grain: Granularity::Total,
        spans: &[(0, 1)],
        filters: &[],
        measures: &measures,
        hist,
        now_ms: crate::clock::now_ms(),
        regroup: None,
    };
    let mut rows = Vec::new();
    storage
        .read_rollup(&read, |row| {
            let mut projected = [0; 3];
            for (slot, i) in projected.iter_mut().zip(&at) {
                *slot = row.dims[*i];
            }
            let values: Box<[f64]> = measures
                .iter()
                .map(|m| row.value(*m).unwrap_or(0.0))
                .collect();
            let mut hist = Histogram::new();
            row.merge_hist_into(&mut hist);
            rows.push((projected, Values::from_raw(values), hist));
        })
        .await?;
    Ok(rows)
}

/// Appends every data series to `out`.
pub(super) async fn data(storage: &Storage, out: &mut String) -> Result<(), sqlx::Error> {
    let languages = storage.language_names().await?;
    let language = |id: &i64| languages.get(id).map_or("unknown", String::as_str);
    // Executions by key (top N + other), language and status.
    let executions = all_time::<Executions>(storage, &[Dim::Key, Dim::Language], false).await?;
    let labels = key_labels(storage, &executions).await?;
    let mut by_series: BTreeMap<(String, String, &'static str), f64> = BTreeMap::new();
    for (dims, values, _) in &executions {
        let key = labels
            .get(&dims[0])
            .cloned()
            .unwrap_or_else(|| "other".to_owned());
        for status in ExecStatus::ALL {
            let n = values.get(exec::BY_STATUS[status.code() as usize]);
            if n > 0.0 {
                *by_series
                    .entry((key.clone(), language(&dims[1]).to_owned(), status.as_str()))
                    .or_default() += n;
            }
        }
    }
    header(
        out,
        "tally_executions_total",
        "counter",
        "Executions stored, by API key (16-hex prefix; top keys, the rest \"other\"), language and status.",
    );
    for ((key, language, status), n) in &by_series {
        sample(
            out,
            "tally_executions_total",
            &[("api_key", key), ("language", language), ("status", status)],
            *n,
        );
    }

    let by_language = all_time::<Executions>(storage, &[Dim::Language], true).await?;
    header(
        out,
        "tally_execution_duration_seconds",
        "histogram",
        "Execution time, by language.",
    );
    for (dims, values, hist) in &by_language {
        histogram_samples(
            out,
            "tally_execution_duration_seconds",
            &[("language", language(&dims[0]))],
            hist,
            values.get(exec::SUM_TIME_MS) / 1000.0,
        );
    }
    header(
        out,
        "tally_execution_cpu_seconds_total",
        "counter",
        "CPU time used by executions, by language.",
    );
    for (dims, values, _) in &by_language {
        sample(
            out,
            "tally_execution_cpu_seconds_total",
            &[("language", language(&dims[0]))],
            values.get(exec::SUM_CPU_MS) / 1000.0,
        );
    }

    // API requests by endpoint (top N + other), method and status class.
    let requests = all_time::<Requests>(storage, &[Dim::Endpoint, Dim::Method], true).await?;
    let paths = storage.endpoint_paths().await?;
    let path = |id: &i64| paths.get(id).cloned().unwrap_or_default();
    let top = top_endpoints(&requests, &path);
    let mut counts: BTreeMap<(String, String, String), f64> = BTreeMap::new();
    let mut latency: BTreeMap<String, (Histogram, f64)> = BTreeMap::new();
    for (dims, values, hist) in &requests {
        let endpoint = path(&dims[0]);
        let endpoint = if top.contains(&endpoint) {
            endpoint
        } else {
            "other".to_owned()
        };
        let method = METHODS
            .get(usize::try_from(dims[1]).unwrap_or(0))
            .copied()
            .unwrap_or("GET");
        for (class, measure) in req::BY_CLASS {
            let n = values.get(measure);
            if n > 0.0 {
                *counts
                    .entry((endpoint.clone(), method.to_owned(), format!("{class}xx")))
                    .or_default() += n;
            }
        }
        let entry = latency.entry(endpoint).or_default();
        entry.0.merge(hist);
        entry.1 += values.get(req::SUM_DURATION_MS) / 1000.0;
    }
    header(
        out,
        "tally_api_requests_total",
        "counter",
        "API requests of the platform, by endpoint (top endpoints, the rest \"other\"), method and status class.",
    );
    for ((endpoint, method, class), n) in &counts {
        sample(
            out,
            "tally_api_requests_total",
            &[
                ("endpoint", endpoint),
                ("method", method),
                ("status_class", class),
            ],
            *n,
        );
    }
    header(
        out,
        "tally_api_request_duration_seconds",
        "histogram",
        "API request latency, by endpoint.",
    );
    for (endpoint, (hist, sum)) in &latency {
        histogram_samples(
            out,
            "tally_api_request_duration_seconds",
            &[("endpoint", endpoint)],
            hist,
            *sum,
        );
    }

    let pool_rows = all_time::<PoolEvents>(storage, &[Dim::Language], false).await?;
    header(
        out,
        "tally_pool_events_total",
        "counter",
        "Container-pool events, by kind (hit, miss = cold start, exhausted) and language.",
    );
    let mut pool_series: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    for (dims, values, _) in &pool_rows {
        for kind in PoolKind::ALL {
            let n = values.get(pool::BY_KIND[kind.code() as usize].0);
            if n > 0.0 {
                *pool_series
                    .entry((kind.as_str(), language(&dims[0])))
                    .or_default() += n;
            }
        }
    }
    for ((kind, language), n) in &pool_series {
        sample(
            out,
            "tally_pool_events_total",
            &[("kind", kind), ("language", language)],
            *n,
        );
    }
    Ok(())
}

type AllTimeRow<F> = (DimValues, Values<F>, Histogram);

/// 16-hex labels of the [`TOP_KEYS`] keys with the most executions.
async fn key_labels(
    storage: &Storage,
    executions: &[AllTimeRow<Executions>],
) -> Result<BTreeMap<i64, String>, sqlx::Error> {
    let mut usage: BTreeMap<i64, f64> = BTreeMap::new();
    for (dims, values, _) in executions {
        *usage.entry(dims[0]).or_default() += values.get(exec::EXECUTIONS);
    }
    let mut ranked: Vec<(i64, f64)> = usage.into_iter().filter(|(id, _)| *id != 0).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(TOP_KEYS);
    let prefixes: BTreeMap<i64, String> = storage
        .api_keys()
        .await?
        .into_iter()
        .map(|k| (k.id, k.prefix))
        .collect();
    let mut labels: BTreeMap<i64, String> = ranked
        .into_iter()
        .filter_map(|(id, _)| prefixes.get(&id).map(|p| (id, p.clone())))
        .collect();
    labels.insert(0, crate::query::NO_KEY.to_owned());
    Ok(labels)
}

fn top_endpoints(requests: &[AllTimeRow<Requests>], path: &impl Fn(&i64) -> String) -> Vec<String> {
    let mut usage: BTreeMap<String, f64> = BTreeMap::new();
    for (dims, values, _) in requests {
        *usage.entry(path(&dims[0])).or_default() += values.get(req::REQUESTS);
    }
    let mut ranked: Vec<(String, f64)> = usage.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked
        .into_iter()
        .take(TOP_ENDPOINTS)
        .map(|(e, _)| e)
        .collect()
}
