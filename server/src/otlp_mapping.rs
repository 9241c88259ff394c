//! The reference platform's OpenTelemetry names, mapped into Tally's
//! execution rollups, so an OTel-instrumented code-execution service fills
//! the main dashboard without sending Tally events:
//!
//! | OTLP metric | attributes | becomes |
//! |---|---|---|
//! | `script.executions.total` (counter) | `status`, `lang_and_version` | executions by language and status |
//! | `script.execution.duration` (histogram, s) | `lang_and_version` | execution time (sum and histogram) |
//! | `script.memory.usage` (histogram, MiB) | `lang_and_version` | peak memory sum |
//! | `execution.queue.wait_time` (histogram, s) | `lang_and_version` | queue wait sum |
//!
//! Increases (not running totals) are added, so re-sent cumulative points
//! count once. Mapped executions live in the rollups only (no raw rows), so
//! sub-hour range edges and the minute series do not see them.

use crate::{
    histogram,
    model::ExecStatus,
    storage::{
        commit::MappedExecutions,
        custom_metrics::{MetricPoint, PointValue},
    },
};

/// `python-3.11`, `python:3.11`, `Python 3.11` → `python`.
fn language(attributes: &std::collections::BTreeMap<String, String>) -> String {
    let raw = attributes
        .get("lang_and_version")
        .or_else(|| attributes.get("language"))
        .map_or("unknown", String::as_str);
    let base = raw
        .split(['-', ':', '@', ' ', '/'])
        .next()
        .unwrap_or(raw)
        .to_ascii_lowercase();
    let clean: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+#._".contains(*c))
        .take(32)
        .collect();
    if clean.is_empty() {
        "unknown".to_owned()
    } else {
        clean
    }
}

fn status(value: Option<&String>) -> ExecStatus {
    match value.map(|s| s.to_ascii_lowercase()).as_deref() {
        Some("completed" | "success" | "succeeded" | "ok") => ExecStatus::Completed,
        Some("failed" | "failure") => ExecStatus::Failed,
        Some("timeout" | "timed_out") => ExecStatus::Timeout,
        _ => ExecStatus::Error,
    }
}

/// The rollup increments of the well-known points among `points`, given
/// each point's increase.
pub fn executions(
    points: &[MetricPoint],
    increases: &[(usize, PointValue)],
) -> Vec<MappedExecutions> {
    let mut out = Vec::new();
    for (index, increase) in increases {
        let point = &points[*index];
        let mut mapped = MappedExecutions {
            ts_ms: point.ts_ms,
            language: language(&point.attributes),
            status: ExecStatus::Completed,
            executions: 0,
            sum_time_ms: 0.0,
            sum_memory_mb: 0.0,
            sum_queue_wait_ms: 0.0,
            hist: None,
        };
        match (point.name.as_str(), increase) {
            ("script.executions.total", PointValue::Number(n)) if *n > 0.0 => {
                mapped.status = status(point.attributes.get("status"));
                mapped.executions = n.round() as i64;
            }
            (
                "script.execution.duration",
                PointValue::Histogram {
                    sum,
                    bounds,
                    buckets,
                    ..
                },
            ) => {
                mapped.sum_time_ms = sum * 1000.0;
                mapped.hist = Some(rebin_seconds(bounds, buckets));
            }
            ("script.memory.usage", PointValue::Histogram { sum, .. }) => {
                mapped.sum_memory_mb = *sum
            }
            ("execution.queue.wait_time", PointValue::Histogram { sum, .. }) => {
                mapped.sum_queue_wait_ms = sum * 1000.0
            }
            _ => continue,
        }
        out.push(mapped);
    }
    out
}

/// An OTel histogram (bounds in seconds) into Tally's bins: each bucket's
/// count goes to the bin of the bucket's middle (its lower bound for the
/// last, open bucket).
fn rebin_seconds(bounds: &[f64], buckets: &[u64]) -> histogram::Histogram {
    let mut counts = histogram::Histogram::new();
    for (i, n) in buckets.iter().enumerate() {
        if *n == 0 {
            continue;
        }
        let low = if i == 0 {
            0.0
        } else {
            bounds.get(i - 1).copied().unwrap_or(0.0)
        };
        let seconds = match bounds.get(i) {
            Some(high) => (low + high) / 2.0,
            None => low,
        };
        counts.add_to_bin(histogram::bin_of((seconds * 1000.0).max(0.0)), *n);
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_and_statuses_are_normalised() {
        let attrs = |v: &str| {
            [("lang_and_version".to_owned(), v.to_owned())]
                .into_iter()
                .collect()
        };
        assert_eq!(language(&attrs("python-3.11")), "python");
        assert_eq!(language(&attrs("Node:20")), "node");
        assert_eq!(status(Some(&"SUCCESS".to_owned())), ExecStatus::Completed);
        assert_eq!(status(None), ExecStatus::Error);
    }

    #[test]
    fn histograms_are_rebinned_by_bucket_middle() {
        let counts = rebin_seconds(&[0.1, 1.0], &[2, 3, 1]);
        assert_eq!(counts.total(), 6);
        let at = |ms: f64| {
            let bin = histogram::bin_of(ms) as u16;
            counts
                .bins()
                .iter()
                .find(|(b, _)| *b == bin)
                .map_or(0, |(_, n)| *n)
        };
        assert_eq!(at(50.0), 2);
        assert_eq!(at(550.0), 3);
        assert_eq!(at(1000.0), 1);
    }
}
