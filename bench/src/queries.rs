//! Every admin view and the dashboard's summary server function on 90-day
//! databases of 12 and 1 000 keys, each at two sizes (1 M and 10 M
//! executions; 20 k and 100 k in quick mode): warm percentiles over the view
//! matrix (`views`), the first call after a start (`cold`), the server's
//! memory after a pass, how the figures grow with events and keys, and the
//! raw-row scan the rollups save.
//!
//! Rows, per dataset: one per view and period with the worst p95 over the
//! zones and key filters (every combination is in the JSON's
//! `combinations`); the RSS after the pass; the raw scan. Then the cold rows
//! (largest 1 000-key set) and the growth rows: their value is the figure
//! on the larger set, the limit the one on the smaller, and the ratio larger
//! ÷ smaller (so here smaller is better). The targets apply to the largest
//! 1 000-key set. The datasets hold executions only: `requests` reads an
//! empty table.

use std::{path::Path, time::Instant};

use tally_tests::process::ServerProcess;

use crate::{
    Scale, cold,
    datasets::{self, Dataset, RETENTION_FLAGS},
    report::{Combination, Report, Row, group, median, rss_mb},
    views::{self, Caller, VIEWS, describe, worst},
};

const DAY_MS: i64 = 86_400_000;

/// A raw-row aggregate over the same 90 days, straight from the executions:
/// what the rollups save. Only `COUNT` and `SUM` over `created_at` are used,
/// so the figure survives changes of the raw table's layout; `None` (with a
/// warning) if even that cannot be read.
async fn raw_scan_ms(db: &Path) -> Option<f64> {
    let scan = async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}?mode=ro", db.display())).await?;
        let from_ms = chrono::Utc::now().timestamp_millis() - 90 * DAY_MS;
        let mut times = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let (count, _sum): (i64, Option<f64>) = sqlx::query_as(
                "SELECT COUNT(*), SUM(execution_time_ms) FROM executions WHERE created_at >= ?",
            )
            .bind(from_ms)
            .fetch_one(&pool)
            .await?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
            anyhow::ensure!(count > 0, "the scan found no rows");
        }
        pool.close().await;
        anyhow::Ok(median(&mut times))
    };
    match scan.await {
        Ok(ms) => Some(ms),
        Err(e) => {
            println!("queries: no raw-row scan on {}: {e:#}", db.display());
            None
        }
    }
}

struct Measured {
    set: Dataset,
    combos: Vec<Combination>,
}

impl Measured {
    /// Worst p95 of a view over every period, zone and filter.
    fn worst_p95(&self, view: &str) -> Option<&Combination> {
        worst(&self.combos, |c| c.view == view)
    }
}

/// The cold rows alone, on the 1 000-key set of the larger size (the case
/// taken from the warm matrix is left out: there is none).
pub async fn cold_only(binary: &Path, scale: Scale, report: &mut Report) -> anyhow::Result<()> {
    let set = Dataset::skewed(scale.query_executions[1]);
    let db = datasets::database(binary, set).await?;
    cold::run(binary, &db, &set.label(), &[], &set.filters(), report).await
}

pub async fn run(binary: &Path, scale: Scale, report: &mut Report) -> anyhow::Result<()> {
    let [small, large] = scale.query_executions;
    let target_set = Dataset::skewed(large);
    // Each key set at both sizes, measured side by side (see
    // `views::matrix`): the growth rows compare figures of the same minutes.
    let pairs = [
        [Dataset::uniform(small), Dataset::uniform(large)],
        [Dataset::skewed(small), target_set],
    ];
    let mut measured = Vec::new();
    for sets in pairs {
        let mut dbs = Vec::new();
        for set in sets {
            dbs.push(datasets::database(binary, set).await?);
        }
        let labels = sets.map(Dataset::label);
        let filters = sets[0].filters();
        println!(
            "queries: {} and {}, side by side: {} combinations × {} calls each …",
            labels[0],
            labels[1],
            views::combinations(filters.len()),
            scale.query_runs + 1
        );
        let started = Instant::now();
        let mut servers = Vec::new();
        for db in &dbs {
            servers.push(ServerProcess::start_measured(binary, db, &RETENTION_FLAGS).await);
        }
        let callers = servers
            .iter()
            .map(|s| Caller::new(&s.base_url))
            .collect::<anyhow::Result<Vec<_>>>()?;
        for caller in &callers {
            caller.settled().await?;
        }
        let pass: Vec<(&Caller, &str)> = callers
            .iter()
            .zip(&labels)
            .map(|(c, l)| (c, l.as_str()))
            .collect();
        let combos = views::matrix(&pass, &filters, scale.query_runs).await?;
        let rss: Vec<f64> = servers.iter().map(|s| rss_mb(s.pid())).collect();
        let mut scans = Vec::new();
        for db in &dbs {
            scans.push(raw_scan_ms(db).await);
        }
        for server in servers {
            datasets::stop(server)?;
        }
        println!(
            "queries: {} and {}: matrix in {:.0} s",
            labels[0],
            labels[1],
            started.elapsed().as_secs_f64()
        );
        for ((((set, db), combos), rss), scan_ms) in
            sets.into_iter().zip(&dbs).zip(combos).zip(rss).zip(scans)
        {
            let targeted = set == target_set;
            add_set_rows(report, set, &combos, rss, scan_ms, targeted, large);
            if targeted {
                cold::run(binary, db, &set.label(), &combos, &filters, report).await?;
            }
            report.combinations.extend(combos.iter().cloned());
            measured.push(Measured { set, combos });
        }
    }
    growth(&measured, report);
    Ok(())
}

/// A dataset's rows: each view and period's worst p95, the summary against
/// the raw-row scan, the server's RSS after the pass.
fn add_set_rows(
    report: &mut Report,
    set: Dataset,
    combos: &[Combination],
    rss: f64,
    scan_ms: Option<f64>,
    targeted: bool,
    large: usize,
) {
    let label = set.label();
    let group = group(format!("queries ({label})"));
    for view in VIEWS {
        for &period in view.periods() {
            let Some(w) = worst(combos, |c| c.view == view.name && c.period == period) else {
                continue;
            };
            report.add(Row {
                group,
                measure: format!("{}, {period}: worst p95 ({})", view.name, describe(w)),
                value: w.p95_ms,
                unit: "ms",
                limit: None,
                ratio: None,
                target: targeted.then(|| "≤ 20 ms".to_owned()),
                met: targeted.then_some(w.p95_ms <= 20.0),
            });
        }
    }
    if let Some(scan_ms) = scan_ms {
        let summary_p50 = combos
            .iter()
            .find(|c| {
                c.view == "summary"
                    && c.period == "quarter"
                    && c.tz == "UTC"
                    && c.key_prefix.is_none()
            })
            .map_or(f64::NAN, |c| c.p50_ms);
        let big = set.executions == large;
        report.add(Row {
            group,
            measure: "summary, quarter, UTC, all keys: p50 vs a raw-row scan".to_owned(),
            value: summary_p50,
            unit: "ms",
            limit: Some(("COUNT, SUM of the raw rows of 90 days".to_owned(), scan_ms)),
            ratio: Some(scan_ms / summary_p50),
            target: big.then(|| "≥ 100× faster than the scan".to_owned()),
            met: big.then_some(scan_ms / summary_p50 >= 100.0),
        });
    }
    report.add(Row {
        group: "memory",
        measure: format!("server RSS after the view matrix, {label}"),
        value: rss,
        unit: "MB",
        limit: None,
        ratio: None,
        target: targeted.then(|| "≤ 200 MB".to_owned()),
        met: targeted.then_some(rss <= 200.0),
    });
}

/// Per view: the worst p95 at the larger size against the smaller (both
/// key sets), and with 1 000 keys against 12 (larger size).
fn growth(measured: &[Measured], report: &mut Report) {
    let find = |keys: usize, executions: usize| {
        measured
            .iter()
            .find(|m| m.set.keys == keys && m.set.executions == executions)
    };
    let sizes = |keys: usize| {
        let mut s: Vec<usize> = measured
            .iter()
            .filter(|m| m.set.keys == keys)
            .map(|m| m.set.executions)
            .collect();
        s.sort_unstable();
        s
    };
    for view in VIEWS {
        for keys in [1_000, 12] {
            let sizes = sizes(keys);
            let (Some(&small), Some(&large)) = (sizes.first(), sizes.last()) else {
                continue;
            };
            let (Some(a), Some(b)) = (
                find(keys, small).and_then(|m| m.worst_p95(view.name)),
                find(keys, large).and_then(|m| m.worst_p95(view.name)),
            ) else {
                continue;
            };
            let ratio = b.p95_ms / a.p95_ms;
            report.add(Row {
                group: "queries: growth",
                measure: format!(
                    "{}: worst p95, {} → {} events, {} keys",
                    view.name,
                    datasets::size(small),
                    datasets::size(large),
                    datasets::thousands(keys)
                ),
                value: b.p95_ms,
                unit: "ms",
                limit: Some((format!("at {}", datasets::size(small)), a.p95_ms)),
                ratio: Some(ratio),
                target: Some("≤ 2× (growth)".to_owned()),
                met: Some(ratio <= 2.0),
            });
        }
        let large = measured.iter().map(|m| m.set.executions).max().unwrap_or(0);
        if let (Some(a), Some(b)) = (
            find(12, large).and_then(|m| m.worst_p95(view.name)),
            find(1_000, large).and_then(|m| m.worst_p95(view.name)),
        ) {
            report.add(Row {
                group: "queries: growth",
                measure: format!(
                    "{}: worst p95, 12 → 1 000 keys, {} events",
                    view.name,
                    datasets::size(large)
                ),
                value: b.p95_ms,
                unit: "ms",
                limit: Some(("with 12 keys".to_owned(), a.p95_ms)),
                ratio: Some(b.p95_ms / a.p95_ms),
                target: None,
                met: None,
            });
        }
    }
}
