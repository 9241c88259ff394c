//! The dashboard as a user meets it: headless Chromium against the real
//! server with a database seeded by the traffic simulator through HTTP.

use std::time::Duration;

use fantoccini::Locator;
use tally_tests::{
    MASTER_KEY,
    browser::Browser,
    dashboard::{
        WAIT, assert_between, assert_url_has, attr, browser_zone, click, log_in, rest, seed,
        set_value, wait_attr, wait_for, wait_ready, wait_text, wait_total,
    },
    require_dist, spawn_app,
};

#[tokio::test]
async fn monitoring_page_renders_the_wasm_app() {
    require_dist();
    let app = spawn_app().await;
    let browser = Browser::start(1280, 900)
        .await
        .expect("start headless Chromium");
    browser.client.goto(&app.url("/monitoring")).await.unwrap();
    // The WASM app asked the server and shows the login form.
    wait_for(&browser.client, "#master-key").await;
    let brand = browser.client.find(Locator::Css(".brand")).await.unwrap();
    assert_eq!(brand.text().await.unwrap(), "Tally");
    browser.close().await.unwrap();
}

#[tokio::test]
async fn the_dashboard_from_login_to_logout() {
    require_dist();
    let app = spawn_app().await;
    seed(&app).await;
    let browser = Browser::start(1280, 1000)
        .await
        .expect("start headless Chromium");
    let client = &browser.client;

    // A wrong key is refused with a message; the right one opens the board.
    client.goto(&app.url("/monitoring")).await.unwrap();
    log_in(client, "not-the-key").await;
    let error = wait_for(client, "[data-testid=login-error]").await;
    assert!(error.text().await.unwrap().contains("wrong master key"));
    let tz = browser_zone(client).await;
    let day = format!("period=day&tz={tz}");
    let before = (
        rest(&app, "summary", &day).await,
        rest(&app, "top-languages", "period=day&limit=8").await,
        rest(&app, "requests", "period=day").await,
        rest(&app, "pool", "period=day").await,
    );
    log_in(client, MASTER_KEY).await;
    wait_ready(client).await;

    // The session cookie is HttpOnly: scripts cannot read it, nor the key.
    let cookies = client
        .execute("return document.cookie", vec![])
        .await
        .unwrap();
    assert!(
        !cookies
            .as_str()
            .unwrap_or_default()
            .contains("tally_session")
    );
    let storage = client
        .execute(
            "return JSON.stringify(localStorage) + JSON.stringify(sessionStorage)",
            vec![],
        )
        .await
        .unwrap();
    assert!(!storage.as_str().unwrap().contains(MASTER_KEY));

    // Every widget shows the numbers of the REST API for the same filters.
    let summary = rest(&app, "summary", &day).await;
    assert!(
        summary["total_executions"].as_u64().unwrap() > 0,
        "the seed reaches the last day"
    );
    assert_between(
        &attr(client, "[data-testid=card-total]", "data-value").await,
        &before.0["total_executions"],
        &summary["total_executions"],
        "card-total",
    );
    for (card, field) in [
        ("card-active-keys", "active_api_keys"),
        ("card-success-rate", "success_rate"),
    ] {
        let shown: f64 = attr(client, &format!("[data-testid={card}]"), "data-value")
            .await
            .parse()
            .unwrap();
        // Asked between the two REST calls: one of their answers (an event
        // leaving the window's start in between changes them).
        let (then, now) = (
            before.0[field].as_f64().unwrap(),
            summary[field].as_f64().unwrap(),
        );
        assert!(
            shown == then || shown == now,
            "{card}: the dashboard shows {shown}, the REST API {then} before and {now} after"
        );
    }
    let top = rest(&app, "top-languages", "period=day&limit=8").await;
    let first = &top["languages"][0];
    assert_eq!(
        attr(client, "[data-testid=top-language]", "data-language").await,
        first["language"].as_str().unwrap()
    );
    assert_between(
        &attr(client, "[data-testid=top-language]", "data-value").await,
        &before.1["languages"][0]["count"],
        &first["count"],
        "top-language",
    );
    let keys = rest(&app, "api-keys", "period=day").await;
    let busiest = &keys[0];
    assert_eq!(
        attr(
            client,
            &format!(
                "[data-testid=key-row][data-key=\"{}\"]",
                busiest["key_hash"].as_str().unwrap()
            ),
            "data-usage"
        )
        .await,
        busiest["usage_count"].to_string()
    );
    let requests = rest(&app, "requests", "period=day").await;
    assert_between(
        &attr(client, "[data-testid=requests-total]", "data-value").await,
        &before.2["total_requests"],
        &requests["total_requests"],
        "requests-total",
    );
    let pool = rest(&app, "pool", "period=day").await;
    assert_between(
        &attr(client, "[data-testid=pool-cold-starts]", "data-value").await,
        &before.3["cold_starts"],
        &pool["cold_starts"],
        "pool-cold-starts",
    );
    // The health score in the live strip is the one of the REST API.
    let score: u32 = attr(client, "[data-testid=health-score]", "data-value")
        .await
        .parse()
        .unwrap();
    assert!(score <= 100, "health {score}");
    let status = attr(client, "[data-testid=health-score]", "data-status").await;
    assert_eq!(status, tally::health::status_of(score));
    client.set_window_size(1280, 2300).await.unwrap();
    wait_ready(client).await;
    browser.screenshot("dashboard-1280").await.unwrap();
    client.set_window_size(1280, 1000).await.unwrap();

    // Multi-series charts name their series in a legend.
    for (chart, names) in [
        ("executions", vec!["executions", "errors"]),
        ("duration", vec!["average", "p95"]),
    ] {
        let css = format!("[data-testid=legend][data-chart={chart}] li[data-series]");
        wait_for(client, &css).await;
        let mut shown = Vec::new();
        for entry in client.find_all(Locator::Css(&css)).await.unwrap() {
            shown.push(entry.attr("data-series").await.unwrap().unwrap());
        }
        assert_eq!(shown, names, "legend of {chart}");
    }

    // Hovering a chart reads out the value under the pointer.
    let canvas = client
        .find(Locator::Css("canvas[data-chart=executions]"))
        .await
        .unwrap();
    client
        .execute(
            "const c = arguments[0], r = c.getBoundingClientRect();
             c.dispatchEvent(new MouseEvent('mousemove', {clientX: r.left + r.width * 0.6, clientY: r.top + r.height / 2, bubbles: true}));",
            vec![serde_json::to_value(&canvas).unwrap()],
        )
        .await
        .unwrap();
    let readout = wait_for(client, ".readout").await.text().await.unwrap();
    assert!(readout.contains("executions"), "{readout}");

    // The period filter changes the numbers and the URL.
    let week_query = format!("period=week&tz={tz}");
    let week = rest(&app, "summary", &week_query).await;
    client
        .find(Locator::Css("button[data-period=week]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_total(client, &app, &week_query, &week).await;
    assert_url_has(client, "period=week").await;
    assert_ne!(week["total_executions"], summary["total_executions"]);

    // So does the API-key filter.
    let key = keys[1]["key_hash"].as_str().unwrap().to_owned();
    client
        .find(Locator::Css("[data-testid=key-filter]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let one_key_query = format!("period=week&tz={tz}&api_key_hash={key}");
    let one_key = rest(&app, "summary", &one_key_query).await;
    wait_for(client, &format!("input[data-key=\"{key}\"]"))
        .await
        .click()
        .await
        .unwrap();
    wait_total(client, &app, &one_key_query, &one_key).await;
    assert_url_has(client, format!("api_key_hash={key}")).await;

    // A pasted URL restores its view.
    let python_query = format!("period=month&language=python&tz={tz}");
    let python = rest(&app, "summary", &python_query).await;
    client
        .goto(&app.url(&format!(
            "/monitoring?period=month&language=python&tz={}",
            tz.replace('/', "%2F")
        )))
        .await
        .unwrap();
    wait_ready(client).await;
    wait_total(client, &app, &python_query, &python).await;
    let selected = client
        .execute(
            "return document.querySelector('[data-testid=language-filter]').value",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(selected.as_str(), Some("python"));

    // A key's name in the key table opens that key's page, with the filters.
    let key = attr(client, "[data-testid=key-row]", "data-key").await;
    let key_query = format!("period=month&language=python&tz={tz}&api_key_hash={key}");
    let of_key = rest(&app, "summary", &key_query).await;
    click(
        client,
        &format!("[data-testid=key-row][data-key='{key}'] [data-testid=key-link]"),
    )
    .await;
    wait_total(client, &app, &key_query, &of_key).await;
    assert_url_has(client, format!("/monitoring/keys/{key}?")).await;
    assert_url_has(client, "language=python").await;

    // Phone width: still usable; screenshot for the README.
    client
        .goto(&app.url("/monitoring?period=week"))
        .await
        .unwrap();
    client.set_window_size(390, 1400).await.unwrap();
    wait_ready(client).await;
    browser.screenshot("dashboard-390").await.unwrap();
    client.set_window_size(1280, 1000).await.unwrap();

    // Logging out locks the page again, also after a reload.
    client
        .find(Locator::Css("button.ghost"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(client, "#master-key").await;
    client.refresh().await.unwrap();
    wait_for(client, "#master-key").await;
    browser.close().await.unwrap();
}

#[tokio::test]
async fn tally_metrics_exported_to_another_tally_show_on_its_custom_metrics_view() {
    require_dist();
    let receiver = spawn_app().await;
    let headers = format!("x-api-key={MASTER_KEY}");
    let sender = tally_tests::spawn_app_with(&[
        "--otel-exporter-otlp-endpoint",
        &receiver.base_url,
        "--otel-exporter-otlp-headers",
        &headers,
        "--tracing-service-name",
        "tally-sender",
        "--otlp-export-interval-ms",
        "200",
    ])
    .await;
    let events: Vec<serde_json::Value> = (0..12)
        .map(|i| serde_json::json!({"execution_id": format!("e2e-{i}"), "language": "go", "status": "completed", "execution_time_ms": 4}))
        .collect();
    assert!(
        sender
            .post_events("executions", &serde_json::json!(events))
            .await
            .status()
            .is_success()
    );
    // Wait until the receiver has the sender's ingest counter.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let catalog = receiver.admin_get("/api/v1/admin/metrics/custom").await;
        if catalog["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "ingest.events.total")
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no metrics arrived");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;

    let browser = Browser::start(1280, 1000)
        .await
        .expect("start headless Chromium");
    let client = &browser.client;
    client.goto(&receiver.url("/monitoring")).await.unwrap();
    log_in(client, MASTER_KEY).await;
    wait_for(client, "[data-testid=board]").await;
    client
        .find(Locator::Css("button[data-view=custom]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // Pick the metric as a user does: the select's value changes.
    wait_for(
        client,
        "[data-testid=metric-picker] option[value=\"ingest.events.total\"]",
    )
    .await;
    client
        .execute(
            "const s = document.querySelector('[data-testid=metric-picker]');
             s.value = 'ingest.events.total';
             s.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![],
        )
        .await
        .unwrap();
    wait_for(client, "canvas[data-chart=custom][data-drawn=true]").await;
    let row = wait_for(client, "[data-testid=custom-series-row]").await;
    let text = row.text().await.unwrap();
    assert!(
        text.contains("service.name=tally-sender") && text.contains("kind=executions"),
        "{text}"
    );
    let value = attr(
        client,
        "[data-testid=custom-series-row] td[data-value]",
        "data-value",
    )
    .await;
    assert_eq!(value, "12");
    let url = client.current_url().await.unwrap();
    assert!(
        url.as_str().contains("view=custom") && url.as_str().contains("metric=ingest.events.total"),
        "{url}"
    );
    browser.screenshot("custom-metrics-1280").await.unwrap();
    browser.close().await.unwrap();
}

#[tokio::test]
async fn tenants_system_and_alerts_as_an_admin_uses_them() {
    require_dist();
    let app = tally_tests::spawn_app_with(&[
        "--system-metrics-interval-seconds",
        "1",
        "--alert-eval-interval-seconds",
        "1",
    ])
    .await;
    seed(&app).await;
    let browser = Browser::start(1280, 1000)
        .await
        .expect("start headless Chromium");
    let client = &browser.client;
    client.goto(&app.url("/monitoring")).await.unwrap();
    log_in(client, MASTER_KEY).await;
    wait_ready(client).await;

    // Tenants: put the top key into `acme` from the key table, then filter by it.
    let key = attr(client, "[data-testid=key-row]", "data-key").await;
    set_value(
        client,
        &format!("[data-testid=key-row][data-key='{key}'] [data-testid=tenant-input]"),
        "acme",
    )
    .await;
    wait_for(client, "[data-testid=tenant-filter] option[value=acme]").await;
    let tz = browser_zone(client).await;
    let key_query = format!("period=day&api_key_hash={key}&tz={tz}");
    let of_key = rest(&app, "summary", &key_query).await;
    set_value(client, "[data-testid=tenant-filter]", "acme").await;
    wait_ready(client).await;
    assert_url_has(client, "tenant=acme").await;
    // The tenant's figures are its one key's.
    let tenant_query = format!("period=day&tenant=acme&tz={tz}");
    wait_total(client, &app, &tenant_query, &of_key).await;
    let of_tenant = rest(&app, "summary", &tenant_query).await;
    let key_now = rest(&app, "summary", &key_query).await;
    assert_between(
        &of_tenant["total_executions"].to_string(),
        &of_key["total_executions"],
        &key_now["total_executions"],
        "the tenant's total",
    );

    // System: the host's charts, with the range in the URL.
    click(client, "button[data-view=system]").await;
    wait_for(
        client,
        "canvas[data-chart=system-utilization][data-drawn=true]",
    )
    .await;
    wait_for(client, "canvas[data-chart=system-memory][data-drawn=true]").await;
    let cpu = attr(
        client,
        "[data-metric='system.cpu.utilization']",
        "data-value",
    )
    .await;
    let cpu: f64 = cpu.parse().expect("a CPU reading");
    assert!((0.0..=100.0).contains(&cpu), "{cpu}");
    click(client, "button[data-range='6h']").await;
    wait_attr(client, "button[data-range='6h']", "aria-pressed", "true").await;
    assert_url_has(client, "range=6h").await;
    wait_for(
        client,
        "canvas[data-chart=system-utilization][data-drawn=true]",
    )
    .await;
    browser.screenshot("system-1280").await.unwrap();

    // Alerts: a wrong rules file is refused with the reason; a right one saved.
    click(client, "button[data-view=alerts]").await;
    set_value(
        client,
        "[data-testid=alert-rules-text]",
        "webhooks = [\"ftp://example.com/x\"]",
    )
    .await;
    click(client, ".rules-editor button[type=submit]").await;
    wait_text(client, "[data-testid=rules-error]", "http or https").await;
    let rules = "[[rule]]\nname = \"Pool exhausted\"\nkind = \"pool_exhaustion\"\n";
    set_value(client, "[data-testid=alert-rules-text]", rules).await;
    click(client, ".rules-editor button[type=submit]").await;
    wait_text(client, "[data-testid=rules-saved]", "1 rules").await;
    wait_for(client, "[data-testid=alert-rules] li").await;

    // An incident: the history shows it firing.
    let exhausted = app
        .post_events(
            "pool",
            &serde_json::json!([{"kind": "exhausted", "language": "go"}]),
        )
        .await;
    assert!(exhausted.status().is_success());
    let deadline = std::time::Instant::now() + WAIT;
    while app.admin_get("/api/v1/admin/alerts/history").await[0]["status"] != "firing" {
        assert!(std::time::Instant::now() < deadline, "no incident opened");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    client
        .goto(&app.url("/monitoring?view=alerts"))
        .await
        .unwrap();
    wait_for(
        client,
        "[data-testid=alert-row][data-status=firing][data-rule='Pool exhausted']",
    )
    .await;
    browser.screenshot("alerts-1280").await.unwrap();
    browser.close().await.unwrap();
}
