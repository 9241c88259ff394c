use reqwest::StatusCode;
use serde_json::Value;
use tally_tests::spawn_app;

#[tokio::test]
async fn healthz_and_readyz_answer_ok() {
    let app = spawn_app().await;

    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let body: Value = health.json().await.unwrap();
    assert_eq!(body["status"], "ok");

    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "ok");

    app.stop().await.unwrap();
}

#[tokio::test]
async fn database_file_is_created_with_migrations_applied() {
    let app = spawn_app().await;
    assert!(
        app.db_path().exists(),
        "{} missing",
        app.db_path().display()
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn root_redirects_to_the_dashboard() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    assert!(response.status().is_redirection());
    assert_eq!(response.headers()["location"], "/monitoring");
}

#[tokio::test]
async fn dashboard_html_is_revalidated_and_hashed_assets_are_immutable() {
    tally_tests::require_dist();
    let app = spawn_app().await;

    let page = app.client.get(app.url("/monitoring")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-cache");
    let html = page.text().await.unwrap();
    assert!(html.contains("<title>Tally"), "{html}");

    // The page references its wasm through a hashed file name.
    let wasm = html
        .split(['"', '\''])
        .find(|s| s.starts_with("/monitoring/") && s.ends_with("_bg.wasm"))
        .unwrap_or_else(|| panic!("no wasm reference in {html}"));
    let asset = app.client.get(app.url(wasm)).send().await.unwrap();
    assert_eq!(asset.status(), StatusCode::OK);
    assert_eq!(asset.headers()["content-type"], "application/wasm");
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );

    // Client-side routes fall back to the app shell.
    let deep = app
        .client
        .get(app.url("/monitoring/some/view"))
        .send()
        .await
        .unwrap();
    assert_eq!(deep.status(), StatusCode::OK);
    assert!(deep.text().await.unwrap().contains("<title>Tally"));
}
