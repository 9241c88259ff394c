//! The first call after a start, on the largest 1 000-key database: for each
//! view, the server is restarted and, once `/healthz` answers, the very first
//! call is timed on a new connection. Two cases per view: quarter, UTC, all
//! keys; and the heaviest other zone and filter of the warm quarter figures.
//! The OS page cache stays warm (dropping it needs root): "cold" is the
//! server's own state (connections, prepared statements, rollup cache).

use std::path::Path;

use tally_tests::process::ServerProcess;

use crate::{
    datasets::{self, KeyFilter, RETENTION_FLAGS},
    report::{Combination, Report, Row, group},
    views::{Caller, Case, VIEWS, describe, worst},
};

pub async fn run(
    binary: &Path,
    db: &Path,
    label: &str,
    warm: &[Combination],
    filters: &[KeyFilter],
    report: &mut Report,
) -> anyhow::Result<()> {
    let group = group(format!("queries: cold ({label})"));
    let started = std::time::Instant::now();
    let all_keys = &filters[0];
    for view in VIEWS {
        let quarter = |c: &Combination| c.view == view.name && c.period == "quarter";
        let base = (
            Case {
                period: "quarter",
                tz: "UTC",
                filter: all_keys,
            },
            format!("UTC, {}", all_keys.label),
        );
        let mut cases = vec![base];
        let heaviest = worst(warm, |c| {
            quarter(c) && !(c.tz == "UTC" && c.filter == all_keys.label)
        });
        if let Some(h) = heaviest
            && let Some(filter) = filters.iter().find(|f| f.label == h.filter)
        {
            let case = Case {
                period: "quarter",
                tz: h.tz,
                filter,
            };
            cases.push((case, describe(h)));
        }
        for (case, what) in cases {
            let server = ServerProcess::start_measured(binary, db, &RETENTION_FLAGS).await;
            let caller = Caller::new(&server.base_url)?;
            let ms = caller.time(view, case).await?;
            datasets::stop(server)?;
            let warm_p95 = warm
                .iter()
                .find(|c| quarter(c) && c.tz == case.tz && c.filter == case.filter.label)
                .map(|c| c.p95_ms);
            report.add(Row {
                group,
                measure: format!("{}, quarter, {what}: first call", view.name),
                value: ms,
                unit: "ms",
                limit: warm_p95.map(|p95| ("warm p95".to_owned(), p95)),
                ratio: None,
                target: Some("≤ 250 ms".to_owned()),
                met: Some(ms <= 250.0),
            });
        }
    }
    println!(
        "queries: {label}: cold rows in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
