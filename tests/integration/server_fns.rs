use app::{api::GetServerStatus, types::ServerStatus};
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use tally_tests::spawn_app;

#[tokio::test]
async fn server_status_reports_version_over_the_server_fn_route() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url(<GetServerStatus as ServerFn>::PATH))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let status: ServerStatus = response.json().await.unwrap();
    assert_eq!(status.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(status.counters, "in-process");
}
