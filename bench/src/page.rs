//! `/monitoring` in headless Chromium: from navigation to every chart drawn
//! (the board marks itself `data-ready` and each canvas `data-drawn`); and
//! the size of the WASM the browser downloads.

use std::{io::Write, path::Path, time::Duration};

use fantoccini::Locator;
use tally_tests::{MASTER_KEY, browser::Browser, process::ServerProcess};

use crate::{
    Scale,
    datasets::{self, Dataset, RETENTION_FLAGS},
    report::{Report, Row, median},
};

/// Resolves with `performance.now()` (ms since navigation start) once the
/// board and its five charts are drawn.
const READY: &str = r#"
const done = arguments[arguments.length - 1];
(function check() {
  const ready = document.querySelector('[data-testid=board][data-ready=true]');
  const drawn = document.querySelectorAll('canvas[data-drawn=true]').length;
  if (ready && drawn >= 5) { done(performance.now()); } else { setTimeout(check, 2); }
})();
"#;

pub async fn run(binary: &Path, scale: Scale, report: &mut Report) -> anyhow::Result<()> {
    let dist = Path::new("dist");
    let wasm = std::fs::read_dir(dist)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "wasm"))
        .ok_or_else(|| anyhow::anyhow!("dist/ has no .wasm: run trunk build --release"))?;
    let bytes = std::fs::read(&wasm)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bytes)?;
    let gzipped = gz.finish()?.len();
    report.add(Row {
        group: "page",
        measure: "WASM raw".to_owned(),
        value: bytes.len() as f64 / 1024.0,
        unit: "KiB",
        limit: None,
        ratio: None,
        target: None,
        met: None,
    });
    report.add(Row {
        group: "page",
        measure: "WASM gzipped (as served)".to_owned(),
        value: gzipped as f64 / 1024.0,
        unit: "KiB",
        limit: None,
        ratio: None,
        target: Some("≤ 350 KB".to_owned()),
        met: Some(gzipped <= 350 * 1000),
    });

    // A week of simulated traffic behind the page.
    let dir = tempfile::tempdir_in("target")?;
    let server = ServerProcess::start_measured(binary, &dir.path().join("metrics.db"), &[]).await;
    tally::simulator::run(tally::simulator::SimulatorConfig {
        base_url: server.base_url.clone(),
        ingest_key: MASTER_KEY.to_owned(),
        master_key: Some(MASTER_KEY.to_owned()),
        backfill_days: 7,
        peak_per_hour: if scale.quick { 60.0 } else { 600.0 },
        live: false,
        seed: 5,
    })
    .await?;

    let browser = Browser::start(1280, 1000).await?;
    let ms = navigation_ms(&browser, &server.base_url, scale.page_runs).await?;
    report.add(navigation_row("a simulated week".to_owned(), ms));
    server.kill();

    // The benchmark's 1 000-key database (the queries' skewed set), whose
    // key table and stacked charts are the largest the board draws.
    let set = Dataset::skewed(scale.query_executions[1]);
    let db = datasets::database(binary, set).await?;
    let server = ServerProcess::start_measured(binary, &db, &RETENTION_FLAGS).await;
    let ms = navigation_ms(&browser, &server.base_url, scale.page_runs).await?;
    report.add(navigation_row(set.label(), ms));
    datasets::stop(server)?;
    browser.close().await?;
    Ok(())
}

/// Logs in, then the median of `runs` navigations to the week board until
/// every chart is drawn (a first one fills the browser cache, uncounted).
async fn navigation_ms(browser: &Browser, base_url: &str, runs: usize) -> anyhow::Result<f64> {
    let client = &browser.client;
    client.goto(&format!("{base_url}/monitoring")).await?;
    let input = client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#master-key"))
        .await?;
    input.send_keys(MASTER_KEY).await?;
    client
        .find(Locator::Css("button[type=submit]"))
        .await?
        .click()
        .await?;
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("[data-testid=board][data-ready=true]"))
        .await?;

    let mut times = Vec::new();
    for run in 0..=runs {
        client
            .goto(&format!("{base_url}/monitoring?period=week"))
            .await?;
        let ms = client.execute_async(READY, vec![]).await?;
        if run > 0 {
            times.push(ms.as_f64().unwrap_or(f64::NAN));
        }
    }
    Ok(median(&mut times))
}

fn navigation_row(data: String, ms: f64) -> Row {
    Row {
        group: "page",
        measure: format!("navigation → all charts drawn (week view, {data}, loopback)"),
        value: ms,
        unit: "ms",
        limit: None,
        ratio: None,
        target: Some("≤ 1 s".to_owned()),
        met: Some(ms <= 1000.0),
    }
}
