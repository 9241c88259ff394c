//! Builds and runs the application: storage, state, router, listener.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Instant};

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::{config::Config, http, state::AppState, storage::Storage};

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Opens the database, applies migrations and binds the listener.
    /// Bind to port 0 to get a free port (tests); [`Self::local_addr`] tells which.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let storage = Storage::open(&config.sqlite_metrics_db_path)
            .await
            .with_context(|| {
                format!(
                    "opening the database {}",
                    config.sqlite_metrics_db_path.display()
                )
            })?;
        let (master_key, generated) = config.master_key_or_generate();
        if generated {
            // Printed once, to the terminal only: never through the log pipeline.
            eprintln!(
                "\nMASTER_API_KEY is not set; generated one for this run:\n\n    {}\n\n\
                 Log in at /monitoring with it, or set MASTER_API_KEY to choose your own.\n",
                master_key.expose_secret()
            );
        }
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding {}", config.bind))?;
        let state = AppState {
            config: Arc::new(config),
            storage,
            master_key,
            started_at: Instant::now(),
        };
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests
    /// and closes the database.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr();
        let storage = self.state.storage.clone();
        let router = http::router(self.state);
        tracing::info!(%addr, "Tally listening; dashboard at http://{addr}/monitoring");
        axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await?;
        storage.close().await;
        tracing::info!("Tally stopped.");
        Ok(())
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "Cannot listen for Ctrl-C.");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "Cannot listen for SIGTERM.");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("Shutdown signal received; draining.");
}
