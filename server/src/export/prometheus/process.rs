//! Process figures: the ingest buffer, the counters, Tally's own metrics,
//! the health score, alerts, the host.

use super::{
    Gauges,
    text::{header, number, sample},
};

/// Appends the gauges of `gauges` to `out`.
pub(super) fn gauges(out: &mut String, gauges: &Gauges) {
    header(
        out,
        "tally_ingest_buffer_events",
        "gauge",
        "Events accepted and not yet committed.",
    );
    sample(
        out,
        "tally_ingest_buffer_events",
        &[],
        gauges.buffered_events as f64,
    );
    header(
        out,
        "tally_ingest_buffer_capacity_events",
        "gauge",
        "Size of the ingest buffer (METRICS_BUFFER_SIZE).",
    );
    sample(
        out,
        "tally_ingest_buffer_capacity_events",
        &[],
        gauges.buffer_capacity as f64,
    );
    header(
        out,
        "tally_counters_fresh",
        "gauge",
        "1 when the hot counters are up to date, 0 while they are rebuilt.",
    );
    sample(
        out,
        "tally_counters_fresh",
        &[("backend", gauges.counters_backend)],
        f64::from(u8::from(gauges.counters_fresh)),
    );
    header(
        out,
        "tally_query_cache_bytes",
        "gauge",
        "Memory held by decoded rollups of closed buckets (TALLY_QUERY_CACHE_MB).",
    );
    sample(
        out,
        "tally_query_cache_bytes",
        &[],
        gauges.query_cache_bytes as f64,
    );
    self_metrics(out, &gauges.readings);
    if let Some(score) = gauges.health_score {
        header(
            out,
            "tally_health_score",
            "gauge",
            "Health score of the last five minutes, 0 to 100.",
        );
        sample(out, "tally_health_score", &[], f64::from(score));
    }
    if let Some(open) = gauges.open_incidents {
        header(
            out,
            "tally_alert_incidents_open",
            "gauge",
            "Alert incidents firing or clearing (not resolved yet).",
        );
        sample(out, "tally_alert_incidents_open", &[], open as f64);
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
            header(out, name, "gauge", help);
            sample(out, name, &[], value);
        }
    }
    header(
        out,
        "tally_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
    );
    sample(out, "tally_uptime_seconds", &[], gauges.uptime_seconds);
    header(
        out,
        "tally_build_info",
        "gauge",
        "Version of the running server (always 1).",
    );
    sample(out, "tally_build_info", &[("version", gauges.version)], 1.0);
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
