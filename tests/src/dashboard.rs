//! Driving the dashboard in headless Chromium: waiting for what a user
//! waits for, reading what the page shows, and the REST API's answer for
//! the same filters to compare it with.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::Value;
use tally::simulator::{SimulatorConfig, run};

use crate::{MASTER_KEY, TestApp};

/// How long a page may take to show what a test waits for.
pub const WAIT: Duration = Duration::from_secs(30);

/// Fills the database with ten days of simulated traffic through HTTP.
pub async fn seed(app: &TestApp) {
    run(SimulatorConfig {
        base_url: app.base_url.clone(),
        ingest_key: MASTER_KEY.to_owned(),
        master_key: Some(MASTER_KEY.to_owned()),
        backfill_days: 10,
        peak_per_hour: 60.0,
        live: false,
        seed: 11,
    })
    .await
    .expect("seed the database through the ingest API");
}

pub async fn wait_for(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
}

/// Waits until the board has loaded everything and drawn every chart.
pub async fn wait_ready(client: &Client) {
    wait_for(client, "[data-testid=board][data-ready=true]").await;
    for chart in ["executions", "success", "duration", "languages", "heatmap"] {
        wait_for(
            client,
            &format!("canvas[data-chart={chart}][data-drawn=true]"),
        )
        .await;
    }
}

pub async fn attr(client: &Client, css: &str, name: &str) -> String {
    wait_for(client, css)
        .await
        .attr(name)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{css} has no {name}"))
}

/// Polls until the element's attribute equals `expected`.
pub async fn wait_attr(client: &Client, css: &str, name: &str, expected: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let now = match client.find(Locator::Css(css)).await {
            Ok(element) => element.attr(name).await.ok().flatten(),
            Err(_) => None,
        };
        if now.as_deref() == Some(expected) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{css}[{name}] is {now:?}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The page's URL carries `part` (the filters live in the URL).
pub async fn assert_url_has(client: &Client, part: impl AsRef<str>) {
    let url = client.current_url().await.unwrap();
    assert!(
        url.as_str().contains(part.as_ref()),
        "{url} lacks {}",
        part.as_ref()
    );
}

/// The browser's time zone: the dashboard's default `tz`.
pub async fn browser_zone(client: &Client) -> String {
    let zone = client
        .execute(
            "return Intl.DateTimeFormat().resolvedOptions().timeZone",
            vec![],
        )
        .await
        .unwrap();
    zone.as_str().unwrap().to_owned()
}

pub async fn rest(app: &TestApp, view: &str, query: &str) -> Value {
    app.admin_get(&format!("/api/v1/admin/metrics/{view}?{query}"))
        .await
}

/// A count of a window that ends now can only fall as time passes (seeded
/// events leave the window's start, none arrive), so the dashboard's figure,
/// asked at an instant between two REST calls, lies between their answers.
pub fn assert_between(shown: &str, before: &Value, after: &Value, what: &str) {
    let shown: u64 = shown.parse().unwrap_or_else(|_| panic!("{what}: {shown}"));
    let (before, after) = (before.as_u64().unwrap(), after.as_u64().unwrap());
    assert!(
        (after..=before).contains(&shown),
        "{what}: the dashboard shows {shown}, the REST API {before} before and {after} after"
    );
}

/// Polls until the card shows the REST API's count for the same view, asked
/// at an instant between `before` (the answer before the click) and now.
pub async fn wait_total(client: &Client, app: &TestApp, query: &str, before: &Value) {
    let before = before["total_executions"].as_u64().unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let shown = match client.find(Locator::Css("[data-testid=card-total]")).await {
            Ok(element) => element.attr("data-value").await.ok().flatten(),
            Err(_) => None,
        };
        let after = rest(app, "summary", query).await["total_executions"]
            .as_u64()
            .unwrap();
        let shown = shown.and_then(|v| v.parse::<u64>().ok());
        if shown.is_some_and(|v| (after..=before).contains(&v)) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "card-total is {shown:?}, the REST API {before} before and {after} after"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn log_in(client: &Client, key: &str) {
    let input = wait_for(client, "#master-key").await;
    input.clear().await.unwrap();
    input.send_keys(key).await.unwrap();
    client
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Sets a form control's value as typing would, and fires `input` and `change`.
pub async fn set_value(client: &Client, css: &str, value: &str) {
    let element = wait_for(client, css).await;
    client
        .execute(
            "const e = arguments[0]; e.value = arguments[1];
             e.dispatchEvent(new Event('input', {bubbles: true}));
             e.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![serde_json::to_value(&element).unwrap(), Value::from(value)],
        )
        .await
        .unwrap();
}

/// Polls until the element (which may be redrawn meanwhile) contains `text`.
pub async fn wait_text(client: &Client, css: &str, text: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let now = client
            .execute(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
                vec![Value::from(css)],
            )
            .await
            .unwrap();
        if now.as_str().is_some_and(|t| t.contains(text)) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{css} reads {now}, expected {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn click(client: &Client, css: &str) {
    wait_for(client, css).await.click().await.unwrap();
}

/// axe-core's rules (npm, installed by scripts/bootstrap.sh) run on the page
/// as it is: panics listing every serious or critical violation.
pub async fn assert_accessible(client: &Client, page: &str) {
    let path = crate::repo_root().join(".tools/node_modules/axe-core/axe.min.js");
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}: run scripts/bootstrap.sh", path.display()));
    client
        .execute(&format!("{source}\nreturn true;"), vec![])
        .await
        .expect("load axe-core into the page");
    let found = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document)
               .then(r => done({
                 rules: r.passes.length + r.violations.length + r.incomplete.length,
                 lesser: r.violations.filter(v => v.impact !== 'serious' && v.impact !== 'critical').map(v => v.id),
                 violations: r.violations
                   .filter(v => v.impact === 'serious' || v.impact === 'critical')
                   .map(v => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.slice(0, 4).map(n => n.target.join(' ')).join(', ')}`),
               }))
               .catch(e => done({rules: 0, lesser: [], violations: [`axe failed: ${e}`]}));",
            vec![],
        )
        .await
        .expect("run axe-core");
    eprintln!(
        "axe-core on {page}: {} rules applied; minor or moderate: {}",
        found["rules"], found["lesser"]
    );
    assert!(
        found["rules"].as_u64() > Some(10),
        "{page}: axe-core applied no rules"
    );
    let violations: Vec<String> = serde_json::from_value(found["violations"].clone()).unwrap();
    assert!(
        violations.is_empty(),
        "{page}: axe-core finds {} serious or critical violations:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

/// Nothing on the page is wider than the viewport, so the page never
/// scrolls sideways (a table may: inside its own scrolling panel).
pub async fn assert_fits_viewport(client: &Client, page: &str) {
    let found = client
        .execute(
            "const width = document.documentElement.clientWidth;
             const wide = [];
             for (const e of document.querySelectorAll('body *')) {
               if (e.parentElement && e.parentElement.closest('.table-wrap')) continue;
               const r = e.getBoundingClientRect();
               if (r.width > 0 && (r.right > width + 1 || r.left < -1)) {
                 wide.push(`${e.tagName.toLowerCase()}.${e.className} ${Math.round(r.left)}..${Math.round(r.right)}`);
               }
             }
             return {width, scroll: document.documentElement.scrollWidth, wide: wide.slice(0, 8)};",
            vec![],
        )
        .await
        .unwrap();
    let (width, scroll) = (found["width"].as_u64(), found["scroll"].as_u64());
    assert!(
        found["wide"].as_array().is_some_and(Vec::is_empty) && scroll <= width,
        "{page}: wider than the {width:?} px viewport (page scrolls to {scroll:?}): {}",
        found["wide"]
    );
}
