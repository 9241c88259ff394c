//! The dashboard as a user meets it: headless Chromium loads `/monitoring`,
//! the WASM app starts and renders data fetched from the server.

use std::time::Duration;

use fantoccini::Locator;
use tally_tests::{browser::Browser, require_dist, spawn_app};

#[tokio::test]
async fn monitoring_page_renders_the_wasm_app() {
    require_dist();
    let app = spawn_app().await;
    let browser = Browser::start(1280, 900)
        .await
        .expect("start headless Chromium");

    browser.client.goto(&app.url("/monitoring")).await.unwrap();
    let version = browser
        .client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("[data-testid=server-version]"))
        .await
        .expect("the WASM app rendered the server status");
    assert_eq!(version.text().await.unwrap(), env!("CARGO_PKG_VERSION"));

    let brand = browser.client.find(Locator::Css(".brand")).await.unwrap();
    assert_eq!(brand.text().await.unwrap(), "Tally");

    browser.screenshot("skeleton-1280").await.unwrap();
    browser.close().await.unwrap();
}
