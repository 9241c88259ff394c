//! The dashboard's pages as a reader finds them: a key's page showing the
//! REST API's numbers for that key, and every page (login, board, key page,
//! each tab) at laptop and phone width: nothing wider than a phone's
//! viewport, no serious or critical axe-core violation, a screenshot of each
//! in tests/artifacts/.

use std::time::Duration;

use fantoccini::Client;
use tally_tests::{
    MASTER_KEY, TestApp,
    browser::Browser,
    dashboard::{
        assert_accessible, assert_between, assert_fits_viewport, assert_url_has, attr,
        browser_zone, click, log_in, rest, seed, wait_for, wait_ready, wait_total,
    },
    require_dist,
};

/// Logs in on a fresh browser at 1280 px.
async fn logged_in(app: &TestApp) -> Browser {
    let browser = Browser::start(1280, 1400).await.unwrap();
    browser.client.goto(&app.url("/monitoring")).await.unwrap();
    log_in(&browser.client, MASTER_KEY).await;
    wait_ready(&browser.client).await;
    browser
}

#[tokio::test]
async fn a_key_page_shows_the_numbers_of_the_api_for_its_key() {
    require_dist();
    let app = tally_tests::spawn_app().await;
    seed(&app).await;
    let browser = logged_in(&app).await;
    let client = &browser.client;
    let tz = browser_zone(client).await;
    client
        .goto(&app.url("/monitoring?period=week"))
        .await
        .unwrap();
    wait_ready(client).await;

    let keys = rest(&app, "api-keys", &format!("period=week&tz={tz}")).await;
    let key = keys[1]["key_hash"].as_str().unwrap().to_owned();
    let query = format!("period=week&tz={tz}&api_key_hash={key}");
    let (summary, requests) = (
        rest(&app, "summary", &query).await,
        rest(&app, "requests", &query).await,
    );
    click(
        client,
        &format!("[data-testid=key-row][data-key='{key}'] [data-testid=key-link]"),
    )
    .await;
    wait_for(client, &format!("[data-testid=key-page][data-key='{key}']")).await;
    assert_url_has(client, format!("/monitoring/keys/{key}?period=week")).await;
    wait_ready(client).await;

    // The cards, the key's row and the requests panel are the key's.
    wait_total(client, &app, &query, &summary).await;
    let rows = client
        .find_all(fantoccini::Locator::Css("[data-testid=key-row]"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "a key's page has one row in its key table");
    let of_key = rest(&app, "api-keys", &query).await;
    assert_eq!(of_key.as_array().map(Vec::len), Some(1));
    let usage = attr(client, "[data-testid=key-row]", "data-usage").await;
    assert_between(
        &usage,
        &keys[1]["usage_count"],
        &of_key[0]["usage_count"],
        "key-row usage",
    );
    let after = rest(&app, "requests", &query).await;
    assert_between(
        &attr(client, "[data-testid=requests-total]", "data-value").await,
        &requests["total_requests"],
        &after["total_requests"],
        "requests-total of the key",
    );
    // Every chart has a text alternative: a sentence of what it shows.
    for chart in ["executions", "success", "duration", "languages", "heatmap"] {
        let said = client
            .execute(
                "const c = document.querySelector(`canvas[data-chart=${arguments[0]}]`);
                 return document.getElementById(c.getAttribute('aria-describedby')).textContent;",
                vec![chart.into()],
            )
            .await
            .unwrap();
        let said = said.as_str().unwrap_or_default();
        assert!(
            said.ends_with('.') && said.len() > 20 && !said.starts_with("Loading"),
            "{chart}: {said}"
        );
    }
    let heading = wait_for(client, "[data-testid=key-page] h2").await;
    assert!(heading.text().await.unwrap().contains(&key));

    // Back to every key, with the same period.
    let all = format!("period=week&tz={tz}");
    let board = rest(&app, "summary", &all).await;
    click(client, "[data-testid=back-to-board]").await;
    wait_total(client, &app, &all, &board).await;
    let url = client.current_url().await.unwrap();
    assert!(
        url.path() == "/monitoring" && !url.as_str().contains("api_key_hash"),
        "{url}"
    );
    // The browser's back and forward buttons move between the two pages.
    client.back().await.unwrap();
    wait_for(client, &format!("[data-testid=key-page][data-key='{key}']")).await;
    assert_url_has(client, format!("/monitoring/keys/{key}?period=week")).await;
    client.forward().await.unwrap();
    wait_total(client, &app, &all, &board).await;
    assert!(
        client
            .find_all(fantoccini::Locator::Css("[data-testid=key-page]"))
            .await
            .unwrap()
            .is_empty(),
        "forward leads back to the board of every key"
    );

    // A path that is not a key says so.
    client
        .goto(&app.url("/monitoring/keys/not-a-key"))
        .await
        .unwrap();
    let error = wait_for(client, "p.error[role=alert]").await;
    assert!(
        error.text().await.unwrap().contains("is not an API key"),
        "{:?}",
        error.text().await
    );
    browser.close().await.unwrap();
}

/// Shows `page` at 1280 and 390 px: a screenshot of each, nothing wider
/// than the phone's viewport, axe-core's rules at both widths.
async fn check_page(browser: &Browser, page: &str, ready: impl AsyncFn(&Client)) {
    let client = &browser.client;
    for width in [1280, 390] {
        client.set_window_size(width, 1400).await.unwrap();
        ready(client).await;
        // Charts redraw at the new width on the next frame.
        tokio::time::sleep(Duration::from_millis(300)).await;
        browser
            .screenshot(&format!("{page}-{width}"))
            .await
            .unwrap();
        if width == 390 {
            assert_fits_viewport(client, &format!("{page} at {width} px")).await;
        }
        assert_accessible(client, &format!("{page} at {width} px")).await;
    }
}

#[tokio::test]
async fn every_page_fits_a_phone_and_passes_axe_core() {
    require_dist();
    let app = tally_tests::spawn_app_with(&["--system-metrics-interval-seconds", "1"]).await;
    seed(&app).await;
    let browser = Browser::start(1280, 1400).await.unwrap();
    let client = &browser.client;

    client.goto(&app.url("/monitoring")).await.unwrap();
    check_page(&browser, "login", async |c: &Client| {
        wait_for(c, "#master-key").await;
    })
    .await;
    log_in(client, MASTER_KEY).await;
    wait_ready(client).await;
    let key = attr(client, "[data-testid=key-row]", "data-key").await;

    let pages = [
        ("board", "/monitoring?period=week".to_owned(), None),
        (
            "key-page",
            format!("/monitoring/keys/{key}?period=week"),
            None,
        ),
        (
            "custom",
            "/monitoring?period=week&view=custom".to_owned(),
            Some("[data-testid=metric-picker], [data-testid=custom-empty]"),
        ),
        (
            "system",
            "/monitoring?view=system".to_owned(),
            Some("[data-testid=system-latest]"),
        ),
        (
            "alerts",
            "/monitoring?view=alerts".to_owned(),
            Some("[data-testid=alert-rules-text]"),
        ),
    ];
    for (page, path, marker) in pages {
        client.goto(&app.url(&path)).await.unwrap();
        check_page(&browser, page, async |c: &Client| match marker {
            Some(css) => {
                wait_for(c, css).await;
            }
            None => wait_ready(c).await,
        })
        .await;
    }
    browser.close().await.unwrap();
}
