//! Alerts end to end: rules from a file or the admin API, incidents from
//! crafted traffic, webhook messages to a real HTTP receiver on loopback.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, extract::State, http::StatusCode as AxumStatus, routing::post};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tally_tests::{MASTER_KEY, TestApp, spawn_app_with};

/// What the receiver got: (status it answered, body); and the signatures.
type Received = Arc<Mutex<Vec<(u16, Value)>>>;
type Signatures = Arc<Mutex<Vec<(String, String)>>>;

/// A webhook receiver that answers 500 to its first `failures` requests,
/// then 200. Returns its URL and what it received.
async fn receiver(failures: usize) -> (String, Received, Signatures) {
    let received: Received = Arc::default();
    let signatures: Signatures = Arc::default();
    let app = Router::new()
        .route(
            "/hook",
            post(
                move |State((received, signatures)): State<(Received, Signatures)>,
                      headers: axum::http::HeaderMap,
                      body: String| async move {
                    let signature = headers
                        .get("x-tally-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    signatures.lock().unwrap().push((signature, body.clone()));
                    let mut received = received.lock().unwrap();
                    let status = if received.len() < failures { 500 } else { 200 };
                    received.push((status, serde_json::from_str(&body).unwrap_or(Value::Null)));
                    AxumStatus::from_u16(status).unwrap()
                },
            ),
        )
        .with_state((Arc::clone(&received), Arc::clone(&signatures)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received, signatures)
}

fn executions(prefix: &str, n: usize, status: &str) -> Value {
    json!(
        (0..n)
            .map(|i| json!({
                "execution_id": format!("{prefix}-{i}"),
                "api_key": "sk-alerts",
                "language": "python",
                "status": status,
                "execution_time_ms": 12.0,
            }))
            .collect::<Vec<_>>()
    )
}

/// Waits (up to 30 s) until `done` holds for what the receiver got.
async fn wait_for(received: &Received, what: &str, done: impl Fn(&[(u16, Value)]) -> bool) {
    for _ in 0..300 {
        if done(&received.lock().unwrap()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: got {:?}", received.lock().unwrap());
}

async fn put_rules(app: &TestApp, text: &str, key: Option<&str>) -> reqwest::Response {
    let mut request = app
        .client
        .put(app.url("/api/v1/admin/alerts/rules"))
        .body(text.to_owned());
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn one_incident_sends_one_firing_and_one_resolved_message_with_retries() {
    let (url, received, signatures) = receiver(1).await;
    let dir = tempfile::tempdir().unwrap();
    let rules_file = dir.path().join("alerts.toml");
    std::fs::write(
        &rules_file,
        format!(
            r#"webhooks = ["{url}"]

[[rule]]
name = "Executions failing"
kind = "error_rate"
above_percent = 20.0
window_seconds = 600
min_events = 5
cooldown_seconds = 2
"#
        ),
    )
    .unwrap();
    let app = spawn_app_with(&[
        "--alert-rules-file",
        rules_file.to_str().unwrap(),
        "--alert-eval-interval-seconds",
        "1",
        "--alert-webhook-backoff-ms",
        "300",
        "--alert-webhook-secret",
        "s3cret",
    ])
    .await;

    // The incident: 10 of 10 executions fail.
    let sent = app
        .post_events("executions", &executions("bad", 10, "failed"))
        .await;
    assert_eq!(sent.status(), StatusCode::OK);
    // The first attempt gets a 500; the retry after the backoff gets through.
    wait_for(&received, "a firing message retried after a 500", |r| {
        r.iter().any(|(status, _)| *status == 200)
    })
    .await;
    // Still failing for a few more evaluations: no further message.
    tokio::time::sleep(Duration::from_secs(3)).await;
    {
        let got = received.lock().unwrap();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!((got[0].0, got[1].0), (500, 200));
        assert_eq!(got[0].1, got[1].1, "a retry sends the same message");
        let firing = &got[1].1;
        assert_eq!(firing["status"], "firing");
        assert_eq!(firing["rule"], "Executions failing");
        assert_eq!(firing["kind"], "error_rate");
        assert_eq!(firing["value"], 100.0);
        assert_eq!(firing["threshold"], 20.0);
        assert_eq!(firing["subject"], Value::Null);
        assert!(
            firing["message"]
                .as_str()
                .unwrap()
                .contains("100.0 % of 10 executions")
        );
    }

    // Recovery: 10 failed of 110 is 9 %; after the 2 s cooldown it resolves.
    let sent = app
        .post_events("executions", &executions("good", 100, "completed"))
        .await;
    assert_eq!(sent.status(), StatusCode::OK);
    wait_for(&received, "a resolved message", |r| {
        r.iter().any(|(_, body)| body["status"] == "resolved")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = received.lock().unwrap().clone();
    let delivered: Vec<&Value> = got
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        delivered.len(),
        2,
        "exactly one firing and one resolved: {got:?}"
    );
    assert_eq!(delivered[0]["status"], "firing");
    assert_eq!(delivered[1]["status"], "resolved");
    assert_eq!(delivered[0]["incident_id"], delivered[1]["incident_id"]);
    assert!(delivered[1]["resolved_at"].is_string());
    assert!((delivered[1]["value"].as_f64().unwrap() - 100.0 * 10.0 / 110.0).abs() < 0.01);

    // Every message is signed over its raw body.
    for (signature, body) in signatures.lock().unwrap().iter() {
        assert_eq!(
            *signature,
            tally::alerts::webhooks::signature(b"s3cret", body.as_bytes())
        );
    }

    // The history tells the same story.
    let history = app.admin_get("/api/v1/admin/alerts/history").await;
    let incidents = history.as_array().unwrap();
    assert_eq!(incidents.len(), 1);
    let incident = &incidents[0];
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["rule"], "Executions failing");
    let deliveries = incident["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[0]["event"], "firing");
    assert_eq!(deliveries[0]["state"], "delivered");
    assert_eq!(deliveries[0]["attempts"], 2);
    assert_eq!(deliveries[1]["event"], "resolved");
    assert_eq!(deliveries[1]["attempts"], 1);
    assert_eq!(deliveries[0]["target"], "127.0.0.1");
}

#[tokio::test]
async fn rules_saved_through_the_api_fire_for_each_kind() {
    let app = spawn_app_with(&["--alert-eval-interval-seconds", "1"]).await;
    let rules_file = app.db_path().with_file_name("alerts.toml");

    // Without a file: the template, no rules.
    let doc = app.admin_get("/api/v1/admin/alerts/rules").await;
    assert_eq!(doc["rules"].as_array().unwrap().len(), 0);
    assert!(doc["text"].as_str().unwrap().contains("[[rule]]"));

    // Only admins, only http(s) webhooks, only valid rules.
    let anonymous = put_rules(&app, "", None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    for (text, expected) in [
        ("webhooks = [\"ftp://example.com/x\"]", "`ftp` scheme"),
        ("webhooks = [\"file:///etc/passwd\"]", "`file` scheme"),
        (
            "[[rule]]\nname = \"x\"\nkind = \"error_rate\"",
            "`above_percent` is required",
        ),
        (
            "[[rule]]\nname = \"x\"\nkind = \"p95_time\"\nabove_ms = 5\nweeks = 2",
            "`weeks` does not apply",
        ),
        ("[[rule", "line 1"),
    ] {
        let response = put_rules(&app, text, Some(MASTER_KEY)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{text}");
        let body: Value = response.json().await.unwrap();
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(expected), "{text}: {error}");
    }
    assert!(!rules_file.exists(), "a refused file is not written");

    let text = r#"# Crafted to fire.
[[rule]]
name = "Slow executions"
kind = "p95_time"
above_ms = 1000.0
min_events = 3
window_seconds = 600

[[rule]]
name = "Pool exhausted"
kind = "pool_exhaustion"

[[rule]]
name = "Unhealthy"
kind = "health_below"
status = "good"

[[rule]]
name = "Key spike"
kind = "key_spike"
factor = 3.0
weeks = 1
min_executions = 5

[[rule]]
name = "Requests failing"
kind = "error_rate"
source = "requests"
above_percent = 20.0

[[rule]]
name = "Quiet rule"
kind = "pool_exhaustion"
at_least = 1000
"#;
    let saved = put_rules(&app, text, Some(MASTER_KEY)).await;
    assert_eq!(saved.status(), StatusCode::OK);
    let doc: Value = saved.json().await.unwrap();
    assert_eq!(doc["rules"].as_array().unwrap().len(), 6);
    assert_eq!(
        std::fs::read_to_string(&rules_file).unwrap(),
        text,
        "saved verbatim, comments kept"
    );

    let now = chrono::Utc::now();
    let slow: Vec<Value> = (0..6)
        .map(|i| {
            json!({"execution_id": format!("slow-{i}"), "api_key": "sk-spiky", "language": "go",
                   "status": "completed", "execution_time_ms": 4000.0})
        })
        .collect();
    // The same hour a week ago: one execution, so 6 now is a spike.
    let week_ago = (now - chrono::Duration::days(7) - chrono::Duration::minutes(20)).to_rfc3339();
    let past = json!([{"execution_id": "past-0", "api_key": "sk-spiky", "language": "go",
                       "status": "completed", "execution_time_ms": 10.0, "created_at": week_ago}]);
    let pool = json!([{"kind": "exhausted", "language": "go"}]);
    let requests: Vec<Value> = (0..10)
        .map(|i| json!({"method": "POST", "endpoint": "/run", "status_code": if i % 2 == 0 { 503 } else { 200 },
                        "duration_ms": 3000.0}))
        .collect();
    // The history first, so no evaluation sees the spike without it.
    for (kind, body) in [
        ("executions", past),
        ("executions", json!(slow)),
        ("pool", pool),
        ("requests", json!(requests)),
    ] {
        let response = app.post_events(kind, &body).await;
        assert_eq!(response.status(), StatusCode::OK, "{kind}");
    }

    let mut firing: Vec<String> = Vec::new();
    for _ in 0..100 {
        let history = app.admin_get("/api/v1/admin/alerts/history").await;
        firing = history
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["status"] == "firing")
            .map(|i| i["rule"].as_str().unwrap().to_owned())
            .collect();
        firing.sort();
        if firing.len() >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        firing,
        [
            "Key spike",
            "Pool exhausted",
            "Requests failing",
            "Slow executions",
            "Unhealthy"
        ],
        "the quiet rule stays quiet"
    );
    let history = app.admin_get("/api/v1/admin/alerts/history").await;
    let spike = history
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["rule"] == "Key spike")
        .unwrap();
    let key = tally::model::KeyHash::of_raw_key("sk-spiky");
    assert_eq!(spike["subject"], key.prefix());
    assert_eq!(spike["value"], 6.0);
    assert_eq!(spike["threshold"], 3.0);
    // No webhooks configured: incidents are recorded, nothing is sent.
    assert!(spike["deliveries"].as_array().unwrap().is_empty());
    let exposition = app.admin_text("/api/v1/admin/metrics/prometheus").await;
    assert!(
        exposition
            .lines()
            .any(|l| l == "tally_alert_incidents_open 5"),
        "{exposition}"
    );

    // Removing the rules ends their incidents.
    let cleared = put_rules(&app, "", Some(MASTER_KEY)).await;
    assert_eq!(cleared.status(), StatusCode::OK);
    for _ in 0..100 {
        let history = app.admin_get("/api/v1/admin/alerts/history").await;
        if history
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "resolved")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("incidents of removed rules did not resolve");
}

#[tokio::test]
async fn file_edits_are_picked_up_and_stale_saves_refused() {
    let app = spawn_app_with(&["--alert-eval-interval-seconds", "1"]).await;
    let rules_file = app.db_path().with_file_name("alerts.toml");
    let doc = app.admin_get("/api/v1/admin/alerts/rules").await;
    let version = doc["version"].as_str().unwrap().to_owned();

    // Saved against the version read: accepted; against an older one: 409.
    let save = |text: &'static str, version: String| {
        let request = app
            .client
            .put(app.url("/api/v1/admin/alerts/rules"))
            .header("x-api-key", MASTER_KEY)
            .header("if-match", format!("\"{version}\""))
            .body(text);
        async move { request.send().await.unwrap() }
    };
    let first = save("# first\n", version.clone()).await;
    assert_eq!(first.status(), StatusCode::OK);
    let stale = save("# second\n", version).await;
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    let body: Value = stale.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("changed since"));
    assert_eq!(std::fs::read_to_string(&rules_file).unwrap(), "# first\n");

    // Someone edits the file: it is in force without a restart.
    tokio::time::sleep(Duration::from_millis(20)).await;
    std::fs::write(
        &rules_file,
        "[[rule]]\nname = \"From the file\"\nkind = \"pool_exhaustion\"\n",
    )
    .unwrap();
    let mut names = Vec::new();
    for _ in 0..50 {
        let doc = app.admin_get("/api/v1/admin/alerts/rules").await;
        names = doc["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect();
        if !names.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(names, ["From the file"]);
    // A broken edit keeps the rules in force and says why.
    tokio::time::sleep(Duration::from_millis(20)).await;
    std::fs::write(&rules_file, "[[rule]]\nname = \"Broken\"\n").unwrap();
    let doc = app.admin_get("/api/v1/admin/alerts/rules").await;
    assert_eq!(doc["rules"][0]["name"], "From the file");
    assert!(
        doc["file_error"]
            .as_str()
            .unwrap()
            .contains("`kind` is required"),
        "{doc}"
    );
}

#[tokio::test]
async fn a_test_message_reaches_each_target_and_failures_are_reported() {
    let (url, received, _) = receiver(0).await;
    // A port nobody listens on any more.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/gone", listener.local_addr().unwrap())
    };
    let app = spawn_app_with(&[]).await;
    let text = format!("webhooks = [\"{url}\", \"{closed}\"]\n");
    let saved = app
        .client
        .put(app.url("/api/v1/admin/alerts/rules"))
        .header("x-api-key", MASTER_KEY)
        .body(text)
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::OK);

    let anonymous = app
        .client
        .post(app.url("/api/v1/admin/alerts/test"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let results: Value = app
        .client
        .post(app.url("/api/v1/admin/alerts/test"))
        .header("x-api-key", MASTER_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(results[0]["delivered"], true, "{results}");
    assert_eq!(results[0]["detail"], "answered 200 OK");
    assert_eq!(results[1]["delivered"], false, "{results}");
    assert_eq!(results[1]["detail"], "could not connect");
    assert_eq!(results[1]["target"], "127.0.0.1");
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1["status"], "test");
    // A test is not an incident.
    let history = app.admin_get("/api/v1/admin/alerts/history").await;
    assert!(history.as_array().unwrap().is_empty());
}
