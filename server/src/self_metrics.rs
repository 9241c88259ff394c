//! Tally's own metrics, named in the `{domain}.{metric}.{type}` style of the
//! reference platform: ingest volume and batch sizes, buffer depth, commit
//! and query latency, counter-store errors, HTTP requests by matched route.
//! They are exported over OTLP/HTTP every interval when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set (and `ENABLE_TRACING` is not
//! false), and appear in the Prometheus export in any case.

use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

/// Bucket bounds of the latency histograms, in seconds.
pub const LATENCY_BOUNDS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Bucket bounds of the batch-size histogram, in events.
pub const BATCH_BOUNDS: [f64; 8] = [1.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0];

/// A histogram with fixed bounds; cheap to record from any thread.
#[derive(Debug)]
pub struct Histogram {
    pub bounds: &'static [f64],
    /// `bounds.len() + 1` buckets, the last one open.
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    /// Sum as f64 bits.
    sum: AtomicU64,
}

/// A histogram's state at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSnapshot {
    pub bounds: Vec<f64>,
    pub buckets: Vec<u64>,
    pub count: u64,
    pub sum: f64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    pub fn record(&self, value: f64) {
        let i = self.bounds.partition_point(|b| *b < value);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds: self.bounds.to_vec(),
            buckets: self
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            count: self.count.load(Ordering::Relaxed),
            sum: f64::from_bits(self.sum.load(Ordering::Relaxed)),
        }
    }
}

/// Counters by a small set of labels.
#[derive(Debug, Default)]
pub struct LabelledCounter {
    values: Mutex<BTreeMap<Vec<(&'static str, String)>, u64>>,
}

impl LabelledCounter {
    pub fn add(&self, labels: Vec<(&'static str, String)>, n: u64) {
        *self
            .values
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(labels)
            .or_default() += n;
    }

    pub fn snapshot(&self) -> Vec<(Vec<(&'static str, String)>, u64)> {
        self.values
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }
}

#[derive(Debug)]
pub struct SelfMetrics {
    /// `ingest.events.total{kind}`: events stored.
    pub ingest_events: LabelledCounter,
    /// `ingest.batch.size`: events per accepted request.
    pub batch_size: Histogram,
    /// `database.commit.duration` (s): one group commit.
    pub commit_duration: Histogram,
    /// `query.duration` (s): one admin view or server function.
    pub query_duration: Histogram,
    /// `counters.errors.total`: failed counter-store calls.
    pub counter_errors: AtomicU64,
    /// `http.requests.total{route, method, status_class}`.
    pub http_requests: LabelledCounter,
    /// `http.request.duration` (s).
    pub http_duration: Histogram,
}

impl Default for SelfMetrics {
    fn default() -> Self {
        Self {
            ingest_events: LabelledCounter::default(),
            batch_size: Histogram::new(&BATCH_BOUNDS),
            commit_duration: Histogram::new(&LATENCY_BOUNDS),
            query_duration: Histogram::new(&LATENCY_BOUNDS),
            counter_errors: AtomicU64::new(0),
            http_requests: LabelledCounter::default(),
            http_duration: Histogram::new(&LATENCY_BOUNDS),
        }
    }
}

/// One metric at one moment, for the exporters.
#[derive(Clone, Debug, PartialEq)]
pub enum Reading {
    Counter {
        name: &'static str,
        labels: Vec<(&'static str, String)>,
        value: f64,
    },
    Gauge {
        name: &'static str,
        value: f64,
    },
    Histogram {
        name: &'static str,
        unit: &'static str,
        snapshot: HistogramSnapshot,
    },
}

impl SelfMetrics {
    /// Everything, with the buffer depth read now.
    pub fn readings(&self, buffered_events: usize) -> Vec<Reading> {
        let mut out = Vec::new();
        for (labels, value) in self.ingest_events.snapshot() {
            out.push(Reading::Counter {
                name: "ingest.events.total",
                labels,
                value: value as f64,
            });
        }
        out.push(Reading::Histogram {
            name: "ingest.batch.size",
            unit: "{event}",
            snapshot: self.batch_size.snapshot(),
        });
        out.push(Reading::Gauge {
            name: "ingest.buffer.depth",
            value: buffered_events as f64,
        });
        out.push(Reading::Histogram {
            name: "database.commit.duration",
            unit: "s",
            snapshot: self.commit_duration.snapshot(),
        });
        out.push(Reading::Histogram {
            name: "query.duration",
            unit: "s",
            snapshot: self.query_duration.snapshot(),
        });
        out.push(Reading::Counter {
            name: "counters.errors.total",
            labels: Vec::new(),
            value: self.counter_errors.load(Ordering::Relaxed) as f64,
        });
        for (labels, value) in self.http_requests.snapshot() {
            out.push(Reading::Counter {
                name: "http.requests.total",
                labels,
                value: value as f64,
            });
        }
        out.push(Reading::Histogram {
            name: "http.request.duration",
            unit: "s",
            snapshot: self.http_duration.snapshot(),
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_bucket_and_sum() {
        let h = Histogram::new(&BATCH_BOUNDS);
        for v in [1.0, 5.0, 500.0, 20_000.0] {
            h.record(v);
        }
        let s = h.snapshot();
        assert_eq!(s.count, 4);
        assert_eq!(s.sum, 20_506.0);
        assert_eq!(s.buckets.iter().sum::<u64>(), 4);
        assert_eq!(s.buckets[0], 1); // ≤ 1
        assert_eq!(s.buckets[1], 1); // ≤ 10
        assert_eq!(s.buckets[4], 1); // ≤ 500
        assert_eq!(*s.buckets.last().unwrap(), 1); // > 10000
    }
}
