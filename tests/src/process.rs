//! The real `tally` binary as a separate process: started on a free port
//! with its own database and log file, killed with SIGKILL or stopped with
//! SIGTERM. scripts/test.sh builds the binary before the tests run.

use std::{
    fs::File,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use crate::{MASTER_KEY, repo_root};

/// Path of the `tally` binary: `TALLY_BIN` if set (e.g. a release build
/// for the long load run), else this workspace's debug build.
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TALLY_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let path = target.join("debug/tally");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --bins` first (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A loopback port nothing listens on (at the moment of asking).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The log filter of a test's server: `TALLY_TEST_RUST_LOG`, else debug.
fn test_log_filter() -> String {
    std::env::var("TALLY_TEST_RUST_LOG")
        .unwrap_or_else(|_| "debug,sqlx=info,hyper=info,h2=info".to_owned())
}

pub struct ServerProcess {
    pub port: u16,
    pub base_url: String,
    pub log: PathBuf,
    child: Child,
}

impl ServerProcess {
    /// Starts the binary on a free port with the database `db` and waits
    /// until it answers `/healthz`. `extra` are more flags.
    pub async fn start(db: &Path, extra: &[&str]) -> Self {
        Self::start_binary(&binary(), db, extra).await
    }

    /// Like [`Self::start`], with a given binary.
    pub async fn start_binary(binary: &Path, db: &Path, extra: &[&str]) -> Self {
        Self::start_logging(binary, db, extra, &test_log_filter()).await
    }

    /// Like [`Self::start_binary`], logging at `info` as a production
    /// server does: the benchmarks measure it without a debug line per
    /// request.
    pub async fn start_measured(binary: &Path, db: &Path, extra: &[&str]) -> Self {
        Self::start_logging(binary, db, extra, "info").await
    }

    /// Like [`Self::start`], on a given port: a server restarted where its
    /// clients left it (see [`free_port`]).
    pub async fn start_on(db: &Path, port: u16, extra: &[&str]) -> Self {
        Self::start_on_port(&binary(), db, port, extra, &test_log_filter()).await
    }

    async fn start_logging(binary: &Path, db: &Path, extra: &[&str], filter: &str) -> Self {
        Self::start_on_port(binary, db, free_port(), extra, filter).await
    }

    async fn start_on_port(
        binary: &Path,
        db: &Path,
        port: u16,
        extra: &[&str],
        filter: &str,
    ) -> Self {
        let log = db.with_extension(format!("{port}.log"));
        let out = File::create(&log).unwrap();
        let child = Command::new(binary)
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .args(["--sqlite-metrics-db-path", db.to_str().unwrap()])
            .args(["--assets-dir", repo_root().join("dist").to_str().unwrap()])
            .args([
                "--metrics-archive-dir",
                db.with_extension("archive").to_str().unwrap(),
            ])
            .args(extra)
            .env("MASTER_API_KEY", MASTER_KEY)
            .env("RUST_LOG", filter)
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("start the tally binary");
        let server = Self {
            port,
            base_url: format!("http://127.0.0.1:{port}"),
            log,
            child,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = client
                .get(format!("{}/healthz", server.base_url))
                .send()
                .await
                && r.status().is_success()
            {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "tally did not start; log:\n{}",
                server.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: the process gets no chance to finish anything.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "tally did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
