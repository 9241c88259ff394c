//! The Prometheus text exposition format (version 0.0.4).
//!
//! Counters come from the all-time rollups, so they only ever go up (also
//! across restarts and retention runs). Durations are `_seconds` histograms
//! with one bucket per octave of the stored histogram. Label cardinality is
//! bounded: the [`TOP_KEYS`] most used API keys keep their own label, the
//! rest are `api_key="other"`; likewise for endpoints.

use std::{collections::BTreeMap, fmt::Write};

use crate::{
    histogram::{self, Histogram},
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

/// API keys with a label of their own; the rest are `other`.
pub const TOP_KEYS: usize = 10;
/// Endpoints with a label of their own; the rest are `other`.
pub const TOP_ENDPOINTS: usize = 30;

/// Process figures exported as gauges.
#[derive(Clone, Debug, Default)]
pub struct Gauges {
    pub version: &'static str,
    pub uptime_seconds: f64,
    pub buffered_events: usize,
    pub buffer_capacity: usize,
    pub counters_backend: &'static str,
    pub counters_fresh: bool,
    /// Tally's own metrics.
    pub readings: Vec<crate::self_metrics::Reading>,
    /// The latest sample of the host.
    pub system: Option<crate::system::SystemSample>,
    /// The health score, when it was computed for this export.
    pub health_score: Option<u32>,
    /// Alert incidents not resolved yet, when counted for this export.
    pub open_incidents: Option<usize>,
}

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
        from: 0,
        to: 1,
        filters: &[],
        measures: &measures,
        hist,
        now_ms: crate::clock::now_ms(),
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
            rows.push((
                projected,
                Values::from_raw(values),
                row.hist().cloned().unwrap_or_default(),
            ));
        })
        .await?;
    Ok(rows)
}

pub async fn render(storage: &Storage, gauges: &Gauges) -> Result<String, sqlx::Error> {
    let mut out = String::with_capacity(16 * 1024);
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
        &mut out,
        "tally_executions_total",
        "counter",
        "Executions stored, by API key (16-hex prefix; top keys, the rest \"other\"), language and status.",
    );
    for ((key, language, status), n) in &by_series {
        sample(
            &mut out,
            "tally_executions_total",
            &[("api_key", key), ("language", language), ("status", status)],
            *n,
        );
    }

    let by_language = all_time::<Executions>(storage, &[Dim::Language], true).await?;
    header(
        &mut out,
        "tally_execution_duration_seconds",
        "histogram",
        "Execution time, by language.",
    );
    for (dims, values, hist) in &by_language {
        histogram_samples(
            &mut out,
            "tally_execution_duration_seconds",
            &[("language", language(&dims[0]))],
            hist,
            values.get(exec::SUM_TIME_MS) / 1000.0,
        );
    }
    header(
        &mut out,
        "tally_execution_cpu_seconds_total",
        "counter",
        "CPU time used by executions, by language.",
    );
    for (dims, values, _) in &by_language {
        sample(
            &mut out,
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
        &mut out,
        "tally_api_requests_total",
        "counter",
        "API requests of the platform, by endpoint (top endpoints, the rest \"other\"), method and status class.",
    );
    for ((endpoint, method, class), n) in &counts {
        sample(
            &mut out,
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
        &mut out,
        "tally_api_request_duration_seconds",
        "histogram",
        "API request latency, by endpoint.",
    );
    for (endpoint, (hist, sum)) in &latency {
        histogram_samples(
            &mut out,
            "tally_api_request_duration_seconds",
            &[("endpoint", endpoint)],
            hist,
            *sum,
        );
    }

    let pool_rows = all_time::<PoolEvents>(storage, &[Dim::Language], false).await?;
    header(
        &mut out,
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
            &mut out,
            "tally_pool_events_total",
            &[("kind", kind), ("language", language)],
            *n,
        );
    }

    header(
        &mut out,
        "tally_ingest_buffer_events",
        "gauge",
        "Events accepted and not yet committed.",
    );
    sample(
        &mut out,
        "tally_ingest_buffer_events",
        &[],
        gauges.buffered_events as f64,
    );
    header(
        &mut out,
        "tally_ingest_buffer_capacity_events",
        "gauge",
        "Size of the ingest buffer (METRICS_BUFFER_SIZE).",
    );
    sample(
        &mut out,
        "tally_ingest_buffer_capacity_events",
        &[],
        gauges.buffer_capacity as f64,
    );
    header(
        &mut out,
        "tally_counters_fresh",
        "gauge",
        "1 when the hot counters are up to date, 0 while they are rebuilt.",
    );
    sample(
        &mut out,
        "tally_counters_fresh",
        &[("backend", gauges.counters_backend)],
        f64::from(u8::from(gauges.counters_fresh)),
    );
    self_metrics(&mut out, &gauges.readings);
    if let Some(score) = gauges.health_score {
        header(
            &mut out,
            "tally_health_score",
            "gauge",
            "Health score of the last five minutes, 0 to 100.",
        );
        sample(&mut out, "tally_health_score", &[], f64::from(score));
    }
    if let Some(open) = gauges.open_incidents {
        header(
            &mut out,
            "tally_alert_incidents_open",
            "gauge",
            "Alert incidents firing or clearing (not resolved yet).",
        );
        sample(&mut out, "tally_alert_incidents_open", &[], open as f64);
    }
    if let Some(system) = &gauges.system {
        for (name, help, value) in [
            (
                "tally_system_cpu_percent",
                "CPU use of the host, percent.",
                system.cpu_percent,
            ),
            (
                "tally_system_memory_percent",
                "Memory use of the host, percent.",
                system.memory_percent,
            ),
            (
                "tally_system_disk_percent",
                "Use of the data directory's disk, percent.",
                system.disk_percent,
            ),
            (
                "tally_system_open_connections",
                "Open TCP connections of the host.",
                system.open_connections as f64,
            ),
            (
                "tally_process_resident_memory_bytes",
                "Resident memory of the Tally process.",
                system.process_rss_mb * 1_048_576.0,
            ),
        ] {
            header(&mut out, name, "gauge", help);
            sample(&mut out, name, &[], value);
        }
    }
    header(
        &mut out,
        "tally_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
    );
    sample(&mut out, "tally_uptime_seconds", &[], gauges.uptime_seconds);
    header(
        &mut out,
        "tally_build_info",
        "gauge",
        "Version of the running server (always 1).",
    );
    sample(
        &mut out,
        "tally_build_info",
        &[("version", gauges.version)],
        1.0,
    );
    Ok(out)
}

/// Tally's own metrics: `ingest.events.total` → `tally_ingest_events_total`,
/// duration histograms in seconds → `…_seconds`.
fn self_metrics(out: &mut String, readings: &[crate::self_metrics::Reading]) {
    use crate::self_metrics::Reading;
    let mut headed: Vec<String> = Vec::new();
    for reading in readings {
        match reading {
            Reading::Counter {
                name,
                labels,
                value,
            } => {
                let name = format!("tally_{}", name.replace('.', "_"));
                if !headed.contains(&name) {
                    header(
                        out,
                        &name,
                        "counter",
                        &format!(
                            "Tally's own {} (also exported over OTLP).",
                            name.trim_start_matches("tally_")
                        ),
                    );
                    headed.push(name.clone());
                }
                let labels: Vec<(&str, &str)> =
                    labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
                sample(out, &name, &labels, *value);
            }
            // The buffer depth is already exported as tally_ingest_buffer_events.
            Reading::Gauge { .. } => {}
            Reading::Histogram {
                name,
                unit,
                snapshot,
            } => {
                let base = format!("tally_{}", name.replace('.', "_"));
                let name = if *unit == "s" {
                    format!("{base}_seconds")
                } else {
                    base
                };
                header(
                    out,
                    &name,
                    "histogram",
                    &format!(
                        "Tally's own {} (also exported over OTLP).",
                        name.trim_start_matches("tally_")
                    ),
                );
                let mut cumulative = 0;
                let bucket = format!("{name}_bucket");
                for (bound, count) in snapshot.bounds.iter().zip(&snapshot.buckets) {
                    cumulative += count;
                    sample(out, &bucket, &[("le", &number(*bound))], cumulative as f64);
                }
                sample(out, &bucket, &[("le", "+Inf")], snapshot.count as f64);
                sample(out, &format!("{name}_sum"), &[], snapshot.sum);
                sample(out, &format!("{name}_count"), &[], snapshot.count as f64);
            }
        }
    }
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

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(
        out,
        "# HELP {name} {}",
        help.replace('\\', "\\\\").replace('\n', "\\n")
    );
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", number(value));
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// Cumulative buckets at every octave of the stored histogram
/// (0.1 ms · 2^k), then `+Inf`, `_sum` and `_count`.
fn histogram_samples(
    out: &mut String,
    name: &str,
    labels: &[(&str, &str)],
    hist: &Histogram,
    sum_seconds: f64,
) {
    let mut cumulative = 0u64;
    let mut bins = hist.bins().iter().peekable();
    let bucket = format!("{name}_bucket");
    for k in 0..=histogram::OCTAVES {
        // Bins below the lower edge of bin 32k+1: one bucket per octave.
        let edge_bin = histogram::PER_OCTAVE * k + 1;
        while let Some((_, n)) = bins.next_if(|(b, _)| usize::from(*b) < edge_bin) {
            cumulative += n;
        }
        let le = number(histogram::lower_edge(edge_bin) / 1000.0);
        let mut with_le: Vec<(&str, &str)> = labels.to_vec();
        with_le.push(("le", &le));
        sample(out, &bucket, &with_le, cumulative as f64);
    }
    let total = hist.total();
    let mut with_le: Vec<(&str, &str)> = labels.to_vec();
    with_le.push(("le", "+Inf"));
    sample(out, &bucket, &with_le, total as f64);
    sample(out, &format!("{name}_sum"), labels, sum_seconds);
    sample(out, &format!("{name}_count"), labels, total as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf() {
        let mut hist = Histogram::new();
        hist.add_to_bin(0, 1); // < 0.1 ms
        hist.add_to_bin(histogram::bin_of(1.5), 2); // 1.5 ms
        hist.add_to_bin(histogram::BINS - 1, 1); // hours
        let mut out = String::new();
        histogram_samples(&mut out, "x_seconds", &[("a", "b\"c")], &hist, 7.5);
        assert!(
            out.contains("x_seconds_bucket{a=\"b\\\"c\",le=\"0.0001\"} 1\n"),
            "{out}"
        );
        assert!(out.contains("le=\"0.0016\"} 3\n"), "{out}");
        assert!(out.contains("le=\"+Inf\"} 4\n"), "{out}");
        assert!(out.contains("x_seconds_sum{a=\"b\\\"c\"} 7.5\n"), "{out}");
        assert!(out.contains("x_seconds_count{a=\"b\\\"c\"} 4\n"), "{out}");
        let counts: Vec<u64> = out
            .lines()
            .filter(|l| l.starts_with("x_seconds_bucket"))
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        assert!(counts.windows(2).all(|w| w[0] <= w[1]));
    }
}
