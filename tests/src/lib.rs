//! Shared harness for Tally's integration and end-to-end tests: start the
//! real application on a free loopback port with its own database, and drive
//! a real headless Chromium.
//!
//! Set `TEST_LOG=1` to see the application's logs.

pub mod browser;
pub mod dashboard;
pub mod process;
pub mod redis_server;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Once,
};

use clap::Parser;
use tally::{config::Config, startup::Application, telemetry};
use tempfile::TempDir;
use tokio::{sync::oneshot, task::JoinHandle};

pub const MASTER_KEY: &str = "test-master-key-0123456789abcdef";

/// The repository root (the tests crate sits one level below it).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A running application. Stopped gracefully by [`TestApp::stop`], or
/// aborted when dropped.
pub struct TestApp {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>`
    pub base_url: String,
    pub client: reqwest::Client,
    pub data_dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.path().join("metrics.db")
    }

    pub fn archive_dir(&self) -> PathBuf {
        self.data_dir.path().join("archive")
    }

    /// A second handle on the app's database file, as another process would have.
    pub async fn storage(&self) -> tally::storage::Storage {
        tally::storage::Storage::open(
            tally::storage::Location::File(&self.db_path()),
            tally::storage::Tuning::default(),
        )
        .await
        .expect("open the app's database")
    }

    /// POSTs a JSON body to an ingest endpoint with the master key.
    pub async fn post_events(&self, kind: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/api/v1/events/{kind}")))
            .header("x-api-key", MASTER_KEY)
            .json(body)
            .send()
            .await
            .expect("send events")
    }

    /// [`Self::post_events`], and the answer's JSON body (whatever the status).
    pub async fn post_events_json(
        &self,
        kind: &str,
        body: &serde_json::Value,
    ) -> serde_json::Value {
        self.post_events(kind, body)
            .await
            .json()
            .await
            .expect("a JSON answer")
    }

    /// GETs an admin endpoint with the master key; panics unless 2xx.
    async fn admin_response(&self, path: &str) -> reqwest::Response {
        let response = self
            .client
            .get(self.url(path))
            .header("x-api-key", MASTER_KEY)
            .send()
            .await
            .expect("send admin request");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response
    }

    /// GETs a JSON admin endpoint with the master key.
    pub async fn admin_get(&self, path: &str) -> serde_json::Value {
        let response = self.admin_response(path).await;
        response.json().await.expect("JSON body")
    }

    /// Holds the database's write lock from another connection (as another
    /// process would) until [`WriteLock::release`]: the writer waits, so
    /// what Tally buffers stays buffered.
    pub async fn hold_write_lock(&self) -> WriteLock {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", self.db_path().display()))
            .await
            .expect("open the database");
        let mut connection = pool.acquire().await.expect("a connection");
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *connection)
            .await
            .expect("take the write lock");
        WriteLock { connection }
    }

    /// GETs a text admin endpoint (Prometheus, CSV) with the master key.
    pub async fn admin_text(&self, path: &str) -> String {
        let response = self.admin_response(path).await;
        response.text().await.expect("text body")
    }

    /// Sends the shutdown signal and waits for the server to finish. Returns
    /// the data directory, so a test can start another app on the same files.
    pub async fn stop(mut self) -> anyhow::Result<TempDir> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await??;
        }
        let placeholder = tempfile::tempdir()?;
        Ok(std::mem::replace(&mut self.data_dir, placeholder))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            telemetry::init(telemetry::LogFormat::Text);
        }
    });
}

/// The arguments every test app gets; `extra` may override any of them.
fn config_for(data_dir: &Path, extra: &[&str]) -> Config {
    let db = data_dir.join("metrics.db");
    let archive = data_dir.join("archive");
    let dist = repo_root().join("dist");
    let mut args: Vec<String> = [
        "tally",
        "--bind",
        "127.0.0.1:0",
        "--master-api-key",
        MASTER_KEY,
        "--sqlite-metrics-db-path",
        db.to_str().expect("temp paths are UTF-8"),
        "--assets-dir",
        dist.to_str().expect("repo path is UTF-8"),
        "--metrics-archive-dir",
        archive.to_str().expect("temp paths are UTF-8"),
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    Config::parse_from(args)
}

/// Starts the real application on a free port with a fresh database.
/// The write lock of a test's database, held by [`TestApp::hold_write_lock`].
pub struct WriteLock {
    connection: sqlx::pool::PoolConnection<sqlx::Sqlite>,
}

impl WriteLock {
    /// Lets the writer go on.
    pub async fn release(mut self) {
        sqlx::query("ROLLBACK")
            .execute(&mut *self.connection)
            .await
            .expect("release the write lock");
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Like [`spawn_app`], with extra command-line flags.
pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    init_logs();
    let data_dir = tempfile::tempdir().expect("create a temporary directory");
    let config = config_for(data_dir.path(), extra);
    let app = Application::build(config)
        .await
        .expect("build the application");
    let addr = app.local_addr();
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = shutdown_rx.await;
    }));
    TestApp {
        addr,
        base_url: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("build an HTTP client"),
        data_dir,
        shutdown: Some(shutdown_tx),
        server: Some(server),
    }
}

/// Fails with a clear message when the dashboard has not been built.
pub fn require_dist() {
    let index = repo_root().join("dist/index.html");
    assert!(
        index.exists(),
        "{} is missing: build the dashboard first (`trunk build --release`, done by scripts/test.sh)",
        index.display()
    );
}
