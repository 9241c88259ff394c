use app::{api::GetServerStatus, error::AppError, types::ServerStatus};
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

/// Calls `get_summary` with a form body, as the master key when `admin`.
async fn get_summary(app: &tally_tests::TestApp, body: &str, admin: bool) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(<app::api::GetSummary as ServerFn>::PATH))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if admin {
        request = request.header("x-api-key", tally_tests::MASTER_KEY);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn undecodable_arguments_are_a_bad_request_with_the_error_body() {
    let app = spawn_app().await;
    let response = get_summary(&app, "query[period]=day&query[limit]=many", true).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["kind"], "bad_request", "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("arguments"),
        "{body}"
    );
}

#[tokio::test]
async fn errors_reach_the_client_as_variants() {
    let app = spawn_app().await;
    let anonymous = get_summary(&app, "query[period]=day", false).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let error: AppError = anonymous.json().await.unwrap();
    assert_eq!(error, AppError::Unauthenticated);

    let bad_period = get_summary(&app, "query[period]=fortnight", true).await;
    assert_eq!(bad_period.status(), StatusCode::BAD_REQUEST);
    match bad_period.json::<AppError>().await.unwrap() {
        AppError::BadRequest { field, message } => {
            assert_eq!(field.as_deref(), Some("period"));
            assert!(message.contains("fortnight"), "{message}");
        }
        other => panic!("expected a bad request, got {other:?}"),
    }
}
