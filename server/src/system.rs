//! Metrics of the host Tally runs on, sampled every
//! `SYSTEM_METRICS_INTERVAL_SECONDS`: CPU, memory, the data directory's disk,
//! network bytes, open TCP connections and Tally's own RSS. Samples are
//! stored as custom metric series (`system.*`, `process.*`), so they share
//! the custom metrics' storage, retention, rollups and dashboard view; the
//! latest one feeds the health score and the Prometheus export.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::Serialize;
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    clock,
    storage::{
        Storage,
        custom_metrics::{MetricPoint, PointValue},
    },
};

/// One sample of the host.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SystemSample {
    pub ts_ms: i64,
    pub cpu_percent: f64,
    pub memory_used_mb: f64,
    pub memory_available_mb: f64,
    pub memory_percent: f64,
    pub disk_percent: f64,
    pub network_received_bytes: u64,
    pub network_transmitted_bytes: u64,
    pub open_connections: u64,
    pub process_rss_mb: f64,
}

/// The latest sample, shared with the health score and the exports.
pub type Latest = Arc<Mutex<Option<SystemSample>>>;

struct Sampler {
    system: sysinfo::System,
    disks: sysinfo::Disks,
    networks: sysinfo::Networks,
    data_dir: PathBuf,
}

impl Sampler {
    fn new(data_dir: &Path) -> Self {
        let mut system = sysinfo::System::new();
        system.refresh_cpu_usage();
        Self {
            system,
            disks: sysinfo::Disks::new_with_refreshed_list(),
            networks: sysinfo::Networks::new_with_refreshed_list(),
            data_dir: std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf()),
        }
    }

    fn sample(&mut self) -> SystemSample {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        self.disks.refresh(false);
        self.networks.refresh(false);
        let total = self.system.total_memory().max(1) as f64;
        let used = self.system.used_memory() as f64;
        // The disk holding the data directory: the longest mount point above it.
        let disk = self
            .disks
            .list()
            .iter()
            .filter(|d| self.data_dir.starts_with(d.mount_point()))
            .max_by_key(|d| d.mount_point().as_os_str().len());
        let disk_percent = disk.map_or(0.0, |d| {
            let total = d.total_space().max(1) as f64;
            100.0 * (total - d.available_space() as f64) / total
        });
        let (received, transmitted) = self.networks.list().values().fold((0, 0), |(r, t), n| {
            (r + n.total_received(), t + n.total_transmitted())
        });
        SystemSample {
            ts_ms: clock::now_ms(),
            cpu_percent: f64::from(self.system.global_cpu_usage()),
            memory_used_mb: used / 1_048_576.0,
            memory_available_mb: self.system.available_memory() as f64 / 1_048_576.0,
            memory_percent: 100.0 * used / total,
            disk_percent,
            network_received_bytes: received,
            network_transmitted_bytes: transmitted,
            open_connections: open_connections(),
            process_rss_mb: process_rss_mb("self"),
        }
    }
}

/// TCP sockets of the host (IPv4 and IPv6), from /proc.
fn open_connections() -> u64 {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|t| t.lines().skip(1).count() as u64)
        .sum()
}

/// Resident memory of a process (`"self"` or a pid) in MiB, from /proc; 0
/// where /proc has no answer.
pub fn process_rss_mb(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .map(|v| v.trim().trim_end_matches("kB").trim().to_owned())
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The sample as custom metric points.
pub fn points(sample: &SystemSample) -> Vec<MetricPoint> {
    let gauge = |name: &str, unit: &str, value: f64| MetricPoint {
        name: name.to_owned(),
        unit: unit.to_owned(),
        kind: "gauge",
        monotonic: false,
        cumulative: false,
        attributes: BTreeMap::from([("service.name".to_owned(), "tally".to_owned())]),
        ts_ms: sample.ts_ms,
        value: PointValue::Number(value),
    };
    vec![
        gauge("system.cpu.utilization", "%", sample.cpu_percent),
        gauge("system.memory.used", "MiBy", sample.memory_used_mb),
        gauge(
            "system.memory.available",
            "MiBy",
            sample.memory_available_mb,
        ),
        gauge("system.memory.utilization", "%", sample.memory_percent),
        gauge("system.disk.utilization", "%", sample.disk_percent),
        gauge(
            "system.network.received",
            "By",
            sample.network_received_bytes as f64,
        ),
        gauge(
            "system.network.transmitted",
            "By",
            sample.network_transmitted_bytes as f64,
        ),
        gauge(
            "system.connections.open",
            "{connection}",
            sample.open_connections as f64,
        ),
        gauge("process.memory.rss", "MiBy", sample.process_rss_mb),
    ]
}

/// Starts sampling; stops when `stop` turns true.
pub fn start(
    storage: Storage,
    data_dir: PathBuf,
    every: Duration,
    latest: Latest,
    max_series: u32,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut sampler = tokio::task::spawn_blocking(move || Sampler::new(&data_dir))
            .await
            .ok();
        let mut ticks = crate::jobs::every(every, stop);
        while ticks.tick().await {
            let Some(mut current) = sampler.take() else {
                break;
            };
            let Ok((back, sample)) = tokio::task::spawn_blocking(move || {
                let sample = current.sample();
                (current, sample)
            })
            .await
            else {
                break;
            };
            sampler = Some(back);
            if let Err(error) = storage
                .store_metric_points(&points(&sample), sample.ts_ms, max_series)
                .await
            {
                tracing::warn!(%error, "Could not store the system sample.");
            }
            *latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(sample);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_reads_this_machine() {
        let mut sampler = Sampler::new(Path::new("."));
        std::thread::sleep(Duration::from_millis(250));
        let s = sampler.sample();
        assert!(
            s.memory_used_mb > 0.0 && s.memory_percent > 0.0 && s.memory_percent <= 100.0,
            "{s:?}"
        );
        assert!((0.0..=100.0).contains(&s.disk_percent), "{s:?}");
        assert!(s.process_rss_mb > 0.0);
        assert_eq!(points(&s).len(), 9);
    }
}

/// What the System view charts: (stored metric, unit shown, how to read it).
const CHARTED: [(&str, &str, Reading); 8] = [
    ("system.cpu.utilization", "%", Reading::Average),
    ("system.memory.utilization", "%", Reading::Average),
    ("system.disk.utilization", "%", Reading::Average),
    ("system.memory.used", "MiB", Reading::Average),
    ("process.memory.rss", "MiB", Reading::Average),
    ("system.network.received", "B/s", Reading::RatePerSecond),
    ("system.network.transmitted", "B/s", Reading::RatePerSecond),
    ("system.connections.open", "connections", Reading::Average),
];

#[derive(Clone, Copy)]
enum Reading {
    Average,
    /// A running total: its increase per second between buckets.
    RatePerSecond,
}

/// The System view's ranges: (name, length, bucket) in seconds.
const RANGES: [(&str, i64, i64); 4] = [
    ("1h", 3_600, 15),
    ("6h", 21_600, 60),
    ("24h", 86_400, 300),
    ("7d", 604_800, 1_800),
];

/// The host's metrics over `range` up to `now_ms`, one average per bucket
/// (buckets no finer than the sampling interval).
pub async fn history(
    storage: &Storage,
    range: &str,
    interval: Duration,
    now_ms: i64,
) -> Result<Option<app::types::SystemView>, sqlx::Error> {
    let Some((name, length_s, bucket_s)) = RANGES.iter().copied().find(|(n, ..)| *n == range)
    else {
        return Ok(None);
    };
    let bucket_s = bucket_s.max(i64::try_from(interval.as_secs()).unwrap_or(i64::MAX));
    let bucket_ms = bucket_s * 1000;
    let from_ms = (now_ms - length_s * 1000).div_euclid(bucket_ms) * bucket_ms;
    let own = BTreeMap::from([("service.name".to_owned(), "tally".to_owned())]);
    let mut series = Vec::with_capacity(CHARTED.len());
    for (metric, unit, reading) in CHARTED {
        let rate = matches!(reading, Reading::RatePerSecond);
        let buckets = storage
            .metric_buckets(metric, &own, (from_ms, now_ms + 1), bucket_ms, rate)
            .await?;
        let points = if rate { per_second(&buckets) } else { buckets };
        series.push(app::types::SystemSeries {
            metric: metric.to_owned(),
            unit: unit.to_owned(),
            points: points
                .into_iter()
                .map(|(ts_ms, value)| app::types::SystemPoint { ts_ms, value })
                .collect(),
        });
    }
    Ok(Some(app::types::SystemView {
        range: name.to_owned(),
        bucket_seconds: bucket_s.unsigned_abs(),
        series,
    }))
}

/// The increase per second of a running total between consecutive buckets;
/// a decrease (a reset) gives no point.
fn per_second(totals: &[(i64, f64)]) -> Vec<(i64, f64)> {
    totals
        .windows(2)
        .filter_map(|pair| {
            let ((t0, v0), (t1, v1)) = (pair[0], pair[1]);
            (v1 >= v0 && t1 > t0).then(|| (t1, (v1 - v0) * 1000.0 / (t1 - t0) as f64))
        })
        .collect()
}

#[cfg(test)]
mod view_tests {
    use super::per_second;

    #[test]
    fn running_totals_become_rates_and_resets_are_skipped() {
        let totals = [
            (0, 1000.0),
            (15_000, 4000.0),
            (30_000, 100.0),
            (45_000, 1600.0),
        ];
        assert_eq!(per_second(&totals), vec![(15_000, 200.0), (45_000, 100.0)]);
        assert!(per_second(&totals[..1]).is_empty());
    }
}
