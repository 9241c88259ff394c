//! The results table: each measure with its limit, ratio and target.

use std::path::Path;

use serde::Serialize;

use crate::Scale;

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub group: &'static str,
    pub measure: String,
    pub value: f64,
    pub unit: &'static str,
    /// What the value is measured against, in the same run.
    pub limit: Option<(String, f64)>,
    /// value ÷ limit (or limit ÷ value for times, so bigger is better).
    pub ratio: Option<f64>,
    pub target: Option<String>,
    pub met: Option<bool>,
}

#[derive(Serialize)]
pub struct Report {
    pub date: String,
    pub commit: String,
    pub machine: String,
    pub quick: bool,
    pub binary: String,
    pub rows: Vec<Row>,
    /// Every combination of the query view matrix (the rows above show only
    /// the worst of each dataset, view and period).
    pub combinations: Vec<Combination>,
}

/// One cell of the query view matrix: a view called with one period, time
/// zone and key filter, `runs` times after a dropped warm-up call.
#[derive(Clone, Debug, Serialize)]
pub struct Combination {
    pub dataset: String,
    pub view: &'static str,
    pub period: &'static str,
    pub tz: &'static str,
    /// `all keys`, or which key the view is filtered by.
    pub filter: &'static str,
    /// The 16-hex prefix passed as `api_key_hash`, if filtered.
    pub key_prefix: Option<String>,
    pub runs: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

impl Report {
    pub fn new(scale: Scale, binary: &Path) -> Self {
        let commit = std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let cpus = std::thread::available_parallelism().map_or(0, usize::from);
        let model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
            })
            .unwrap_or_default();
        Self {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            commit,
            machine: format!("{cpus} cores, {model}"),
            quick: scale.quick,
            binary: binary.display().to_string(),
            rows: Vec::new(),
            combinations: Vec::new(),
        }
    }

    pub fn add(&mut self, row: Row) {
        println!(
            "  {:<58} {:>12} {:<8}{}",
            row.measure,
            format_value(row.value),
            row.unit,
            row.ratio
                .map(|r| format!(" ratio {r:.3}"))
                .unwrap_or_default()
        );
        self.rows.push(row);
    }

    pub fn print(&self) {
        println!(
            "\n## Tally benchmarks — {} — commit {} — {}{}\n",
            self.date,
            self.commit,
            self.machine,
            if self.quick { " — QUICK" } else { "" }
        );
        println!("| group | measure | value | limit (same run) | ratio | target | met |");
        println!("|---|---|---|---|---|---|---|");
        for r in &self.rows {
            println!(
                "| {} | {} | {} {} | {} | {} | {} | {} |",
                r.group,
                r.measure,
                format_value(r.value),
                r.unit,
                r.limit
                    .as_ref()
                    .map(|(name, v)| format!("{name}: {}", format_value(*v)))
                    .unwrap_or_default(),
                r.ratio.map(|x| format!("{x:.3}")).unwrap_or_default(),
                r.target.clone().unwrap_or_default(),
                match r.met {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "",
                }
            );
        }
    }

    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self)?)?;
        Ok(())
    }
}

pub fn format_value(v: f64) -> String {
    if v.abs() >= 1000.0 {
        let s = format!("{v:.0}");
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// Median of a sample.
pub fn median(values: &mut [f64]) -> f64 {
    percentile(values, 0.5)
}

/// Nearest-rank percentile of a sample.
pub fn percentile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

/// RSS of a process in MB.
pub fn rss_mb(pid: u32) -> f64 {
    tally::system::process_rss_mb(&pid.to_string())
}

/// The unit of `/proc/<pid>/stat` times: Linux reports them in USER_HZ
/// ticks, 100 a second on every architecture it exports to user space.
const USER_HZ: f64 = 100.0;

/// CPU time (user + system) a process has used, in seconds, from
/// `/proc/<pid>/stat` (`"self"` for this process); 0 where unreadable.
pub fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name, which ends with the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat(5); 12 and 13 here.
    (ticks(11) + ticks(12)) / USER_HZ
}

/// A group name made at run time (from a dataset's size). Rows keep
/// `&'static str` groups; the handful of names a run makes live until exit.
pub fn group(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}
