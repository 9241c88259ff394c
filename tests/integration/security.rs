//! Who may call what, walked over the router's own route table and the
//! registered server functions; login throttling; cookie flags; security
//! headers; the master key never echoed or logged; hostile input.

use std::time::Duration;

use clap::Parser;
use reqwest::{Method, StatusCode, header};
use serde_json::json;
use tally::http::routes::Access;
use tally_tests::{MASTER_KEY, TestApp, process::ServerProcess, spawn_app_with};

/// Server functions anyone may call.
const OPEN_SERVER_FNS: [&str; 4] = ["login", "logout", "whoami", "get_server_status"];

fn server_fns() -> Vec<String> {
    let mut paths: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .filter(|path| path.starts_with(app::api::SERVER_FN_PREFIX))
        .collect();
    paths.sort();
    paths
}

fn is_open(path: &str) -> bool {
    OPEN_SERVER_FNS.iter().any(|name| {
        let last = path.rsplit('/').next().unwrap_or_default();
        last.starts_with(name) && last[name.len()..].chars().all(|c| c.is_ascii_digit())
    })
}

async fn login_cookie(app: &TestApp, key: &str, https: bool) -> reqwest::Response {
    let path = server_fns()
        .into_iter()
        .find(|p| is_open(p) && p.contains("/login"))
        .expect("login is registered");
    let mut request = app
        .client
        .post(app.url(&path))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("key={key}"));
    if https {
        request = request.header("x-forwarded-proto", "https");
    }
    request.send().await.unwrap()
}

fn session_of(response: &reqwest::Response) -> String {
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

#[derive(Clone, Copy, Debug)]
enum Credential<'a> {
    None,
    WrongKey,
    Key,
    Cookie(&'a str),
}

/// Valid arguments for each server function, so only credentials decide.
fn server_fn_args(path: &str) -> String {
    if [
        "get_live",
        "get_custom_metrics",
        "get_alert_rules",
        "get_alert_history",
        "test_alert_webhooks",
    ]
    .iter()
    .any(|f| path.contains(f))
    {
        String::new()
    } else if path.contains("get_system") {
        "range=1h".to_owned()
    } else if path.contains("set_key_tenant") {
        format!("key={}&tenant=acme", "ab".repeat(32))
    } else if path.contains("save_alert_rules") {
        "text=&base_version=".to_owned()
    } else if path.contains("get_custom_series") {
        "name=x&query[period]=day&attributes=".to_owned()
    } else {
        "query[period]=day".to_owned()
    }
}

async fn call(app: &TestApp, method: &str, path: &str, credential: Credential<'_>) -> StatusCode {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app.client.request(method.clone(), app.url(path));
    request = match credential {
        Credential::None => request,
        Credential::WrongKey => request.header("x-api-key", "wrong-key"),
        Credential::Key => request.header("x-api-key", MASTER_KEY),
        Credential::Cookie(cookie) => request.header(header::COOKIE, cookie),
    };
    if path.starts_with(app::api::SERVER_FN_PREFIX) {
        request = request
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(server_fn_args(path));
    } else if method == Method::POST {
        request = request.json(&json!([]));
    } else if method == Method::PUT {
        request = request.json(&json!({"name": "x"}));
    }
    request.send().await.unwrap().status()
}

#[tokio::test]
async fn every_protected_route_refuses_without_credentials() {
    let app = spawn_app_with(&["--session-ttl-seconds", "1"]).await;
    let expired = session_of(&login_cookie(&app, MASTER_KEY, false).await);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // A logged-out session is dead too.
    let logged_out = session_of(&login_cookie(&app, MASTER_KEY, false).await);
    let logout = server_fns()
        .into_iter()
        .find(|p| p.contains("/logout"))
        .unwrap();
    app.client
        .post(app.url(&logout))
        .header(header::COOKIE, &logged_out)
        .send()
        .await
        .unwrap();

    let config = tally::config::Config::parse_from(["tally"]);
    let table = tally::http::route_table(&config);
    assert!(table.len() > 20, "the table lists the routes: {table:?}");
    let mut checked = 0;
    for route in &table {
        let path = route
            .path
            .replace("{key}", "0123456789abcdef")
            .replace("{*path}", "index.html");
        let denied = [
            Credential::None,
            Credential::WrongKey,
            Credential::Cookie(&expired),
            Credential::Cookie(&logged_out),
        ];
        match route.access {
            Access::Admin | Access::PublicPerKey => {
                for credential in denied {
                    let status = call(&app, route.method, &path, credential).await;
                    assert_eq!(
                        status,
                        StatusCode::UNAUTHORIZED,
                        "{} {path} with {credential:?}",
                        route.method
                    );
                }
                // Sessions last a second here: take a fresh one.
                let valid = session_of(&login_cookie(&app, MASTER_KEY, false).await);
                for credential in [Credential::Key, Credential::Cookie(&valid)] {
                    let status = call(&app, route.method, &path, credential).await;
                    assert!(
                        status != StatusCode::UNAUTHORIZED && !status.is_server_error(),
                        "{} {path} with {credential:?}: {status}",
                        route.method
                    );
                }
            }
            Access::Ingest => {
                for credential in denied {
                    let status = call(&app, route.method, &path, credential).await;
                    assert_eq!(
                        status,
                        StatusCode::UNAUTHORIZED,
                        "{} {path} with {credential:?}",
                        route.method
                    );
                }
                // An empty body: refused as a batch or accepted as an
                // empty export, but never for want of credentials.
                let status = call(&app, route.method, &path, Credential::Key).await;
                assert!(
                    status != StatusCode::UNAUTHORIZED && !status.is_server_error(),
                    "{path} with the key: {status}"
                );
            }
            Access::Public | Access::PublicAggregate => {
                let status = call(&app, route.method, &path, Credential::None).await;
                assert!(
                    status.is_success() || status.is_redirection(),
                    "{} {path}: {status}",
                    route.method
                );
            }
            Access::ServerFunctions => {
                for function in server_fns() {
                    if is_open(&function) {
                        continue;
                    }
                    for credential in denied {
                        let status = call(&app, "POST", &function, credential).await;
                        assert_eq!(
                            status,
                            StatusCode::UNAUTHORIZED,
                            "{function} with {credential:?}"
                        );
                    }
                    let valid = session_of(&login_cookie(&app, MASTER_KEY, false).await);
                    for credential in [Credential::Key, Credential::Cookie(&valid)] {
                        let status = call(&app, "POST", &function, credential).await;
                        assert_eq!(status, StatusCode::OK, "{function} with {credential:?}");
                    }
                    checked += 1;
                }
            }
        }
        checked += 1;
    }
    assert!(checked > 30, "checked {checked} routes and functions");
}

#[tokio::test]
async fn wrong_keys_are_throttled_per_client() {
    let app = spawn_app_with(&[]).await;
    for attempt in 0..5 {
        let response = login_cookie(&app, "guess", false).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
        assert!(response.text().await.unwrap().contains("wrong master key"));
    }
    let blocked = login_cookie(&app, "guess", false).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    // Even the right key waits out the block.
    let right = login_cookie(&app, MASTER_KEY, false).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(right.headers().get(header::SET_COOKIE).is_none());

    // Another client (another loopback address) is not blocked.
    let other = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let path = server_fns()
        .into_iter()
        .find(|p| p.contains("/login"))
        .unwrap();
    let response = other
        .post(app.url(&path))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("key={MASTER_KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn session_cookie_flags() {
    let app = spawn_app_with(&["--session-ttl-seconds", "3600"]).await;
    let response = login_cookie(&app, MASTER_KEY, false).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=3600"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    assert!(!cookie.contains(MASTER_KEY));
    let https = login_cookie(&app, MASTER_KEY, true).await;
    assert!(
        https.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );
}

#[tokio::test]
async fn the_dashboard_is_served_with_security_headers() {
    tally_tests::require_dist();
    let app = spawn_app_with(&[]).await;
    let page = app.client.get(app.url("/monitoring")).send().await.unwrap();
    let headers = page.headers();
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    for part in [
        "default-src 'self'",
        "'wasm-unsafe-eval'",
        "'sha256-",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(
        !csp.contains("'unsafe-eval'") && !csp.contains("script-src 'self' 'unsafe-inline'"),
        "{csp}"
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
}

#[tokio::test]
async fn the_master_key_never_appears_in_logs_or_responses() {
    tally_tests::require_dist();
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("metrics.db"), &[]).await;
    let client = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", server.base_url);
    let login = server_fns()
        .into_iter()
        .find(|p| p.contains("/login"))
        .unwrap();
    let mut bodies = Vec::new();
    let requests = [
        client
            .post(url(&login))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("key=wrong"),
        client
            .post(url(&login))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(format!("key={MASTER_KEY}")),
        client
            .get(url("/api/v1/admin/metrics/summary?period=nope"))
            .header("x-api-key", MASTER_KEY),
        client
            .get(url("/api/v1/admin/metrics/summary"))
            .bearer_auth(MASTER_KEY),
        client
            .post(url("/api/v1/events/executions"))
            .header("x-api-key", MASTER_KEY)
            .json(&json!([{"execution_id": MASTER_KEY}])),
        client
            .post(url("/api/v1/events/executions"))
            .header("x-api-key", format!("{MASTER_KEY}x"))
            .json(&json!([])),
        client.get(url("/metrics")).header("x-api-key", MASTER_KEY),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        let headers = format!("{:?}", response.headers());
        bodies.push(headers + &response.text().await.unwrap());
    }
    let log = server.log_text();
    assert!(
        log.contains("Dashboard login"),
        "the log is captured: {log}"
    );
    assert!(!log.contains(MASTER_KEY), "the master key is in the log");
    for body in bodies {
        // The ingest error may quote the *field value* it refuses, never the key itself from a header.
        assert!(!body.contains(&format!("{MASTER_KEY}x")), "{body}");
    }
}

#[tokio::test]
async fn hostile_input_gets_a_4xx_never_a_crash() {
    let app = spawn_app_with(&[]).await;
    let url = app.url("/api/v1/events/executions");
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("deep nesting", deep.into_bytes()),
        ("huge number", br#"[{"execution_id":"a","language":"go","status":"completed","execution_time_ms":1e400}]"#.to_vec()),
        ("NaN", br#"[{"execution_id":"a","language":"go","status":"completed","execution_time_ms":NaN}]"#.to_vec()),
        ("invalid UTF-8", b"[{\"execution_id\":\"\xff\xfe\"}]".to_vec()),
        ("wrong type", br#"[{"execution_id":7,"language":"go","status":"completed","execution_time_ms":1}]"#.to_vec()),
        ("array of numbers", b"[1,2,3]".to_vec()),
        ("null", b"null".to_vec()),
        ("huge integer", br#"[{"execution_id":"a","language":"go","status":"completed","execution_time_ms":1,"files_uploaded":99999999999999999999}]"#.to_vec()),
        ("far past", br#"[{"execution_id":"a","language":"go","status":"completed","execution_time_ms":1,"created_at":"1970-01-01T00:00:00Z"}]"#.to_vec()),
        ("far future", br#"[{"execution_id":"a","language":"go","status":"completed","execution_time_ms":1,"created_at":"9999-12-31T23:59:59Z"}]"#.to_vec()),
    ];
    for (what, body) in bodies {
        let response = app
            .client
            .post(&url)
            .header("x-api-key", MASTER_KEY)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {text}");
        assert!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["error"].is_string(),
            "{what}: {text}"
        );
    }
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}
