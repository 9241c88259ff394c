//! Builds and runs the application: storage, counters, writer, jobs, router,
//! listener; and stops them in order.

use std::{
    future::Future,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::{net::TcpListener, task::JoinHandle};

use crate::{
    config::Config,
    counters::{self, CounterStore, Counters},
    http,
    ingest::writer::{Writer, WriterTask},
    jobs::{self, retention},
    simulator,
    state::AppState,
    storage::{Location, Storage},
};

pub struct Application {
    listener: TcpListener,
    state: AppState,
    writer_task: WriterTask,
    counters_task: JoinHandle<()>,
    /// Retention, the host sampler, the alert rules and their webhooks, and
    /// (when configured) Tally's own metrics over OTLP.
    background: jobs::Tasks,
}

impl Application {
    /// Opens the database, applies migrations, starts the writer, counters
    /// and maintenance tasks, and binds the listener. Bind to port 0 to get a
    /// free port (tests); [`Self::local_addr`] tells which.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let location = if config.sqlite_metrics_enabled {
            Location::File(&config.sqlite_metrics_db_path)
        } else {
            tracing::warn!(
                "SQLITE_METRICS_ENABLED=false: events are kept in memory and lost at exit."
            );
            Location::Memory
        };
        let tuning = crate::storage::Tuning {
            busy_timeout: Duration::from_millis(config.sqlite_busy_timeout_ms),
            max_pages: config.sqlite_max_pages,
            cache_bytes: usize::try_from(config.query_cache_mb << 20).unwrap_or(usize::MAX),
            ingest_page_cache_bytes: usize::try_from(config.sqlite_ingest_cache_mb << 20)
                .unwrap_or(usize::MAX),
            durable_against_power_loss: config.sqlite_synchronous == "full",
        };
        let storage = Storage::open(location, tuning).await.with_context(|| {
            format!(
                "opening the database {}",
                config.sqlite_metrics_db_path.display()
            )
        })?;

        let store: Arc<dyn CounterStore> = match &config.redis_url {
            Some(url) => Arc::new(
                counters::redis_store::RedisStore::new(
                    url,
                    &config.redis_key_prefix,
                    Duration::from_millis(config.redis_timeout_ms),
                )
                .context("REDIS_URL")?,
            ),
            None => Arc::new(counters::memory_store::MemoryStore::new()),
        };
        let self_metrics = Arc::new(crate::self_metrics::SelfMetrics::default());
        let (counters, counters_task) =
            Counters::start(store, storage.clone(), Arc::clone(&self_metrics));
        let (writer, writer_task) = Writer::start(
            storage.clone(),
            counters.clone(),
            config.metrics_buffer_size as usize,
            Arc::clone(&self_metrics),
        );

        let mut background = jobs::Tasks::default();
        background.add(
            "retention",
            retention::start(
                storage.clone(),
                retention_policy(&config),
                Duration::from_secs(u64::from(config.metrics_aggregation_interval_minutes) * 60),
                background.stop_signal(),
            ),
        );
        let system = crate::system::Latest::default();
        let alert_rules_file = config
            .alert_rules_file
            .clone()
            .unwrap_or_else(|| config.sqlite_metrics_db_path.with_file_name("alerts.toml"));
        let alerts = crate::alerts::AlertRules::load(&alert_rules_file)?;
        let webhooks = crate::alerts::webhooks::Sender::new(
            Duration::from_secs(config.alert_webhook_timeout_seconds),
            config.alert_webhook_secret.clone(),
        )
        .context("building the webhook client")?;
        let data_dir = config
            .sqlite_metrics_db_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(
                || std::path::PathBuf::from("."),
                std::path::Path::to_path_buf,
            );
        background.add(
            "system sampler",
            crate::system::start(
                storage.clone(),
                data_dir,
                Duration::from_secs(config.system_metrics_interval_seconds),
                system.clone(),
                config.max_metric_series,
                background.stop_signal(),
            ),
        );
        if let (Some(endpoint), true) = (&config.otel_exporter_otlp_endpoint, config.enable_tracing)
        {
            let target = crate::otlp_export::ExportTarget::new(
                endpoint,
                config.otel_exporter_otlp_headers.as_deref(),
                &config.tracing_service_name,
                Duration::from_millis(config.otlp_export_interval_ms),
            );
            tracing::info!(url = %target.url, "Exporting Tally's own metrics over OTLP.");
            background.add(
                "OTLP export",
                crate::otlp_export::start(
                    target,
                    Arc::clone(&self_metrics),
                    writer.clone(),
                    background.stop_signal(),
                ),
            );
        }

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
        let state = AppState::new(crate::state::Shared {
            storage,
            writer,
            counters,
            self_metrics,
            system,
            alerts,
            webhooks,
            sessions: Arc::new(crate::sessions::Sessions::new(Duration::from_secs(
                config.session_ttl_seconds,
            ))),
            master_key,
            started_at: Instant::now(),
            config: Arc::new(config),
        });
        let deliver = Arc::new(tokio::sync::Notify::new());
        background.add(
            "alert rules",
            crate::alerts::engine::start(
                state.health_check(),
                state.alerts.clone(),
                Duration::from_secs(state.config.alert_eval_interval_seconds),
                Arc::clone(&deliver),
                background.stop_signal(),
            ),
        );
        background.add(
            "alert webhooks",
            crate::alerts::webhooks::start(
                state.storage.clone(),
                crate::alerts::webhooks::Policy {
                    max_attempts: state.config.alert_webhook_max_attempts,
                    backoff: Duration::from_millis(state.config.alert_webhook_backoff_ms),
                },
                state.webhooks.clone(),
                deliver,
                background.stop_signal(),
            ),
        );
        Ok(Self {
            listener,
            state,
            writer_task,
            counters_task,
            background,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// Serves until `shutdown` completes; then finishes in-flight requests,
    /// commits everything buffered, stops the background tasks and closes
    /// the database.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr();
        let storage = self.state.storage.clone();
        let demo = self
            .state
            .config
            .demo
            .then(|| spawn_demo(&self.state, addr));
        let router = http::router(self.state);
        tracing::info!(%addr, "Tally listening; dashboard at http://{addr}/monitoring");
        let served = axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;

        if let Some(demo) = demo {
            demo.abort();
        }
        // Every request has had its answer, so the buffer only holds batches
        // whose clients went away; they are committed all the same.
        self.writer_task.drain().await;
        self.background.stop().await;
        // The counters task ends once the last handle (in the router) is gone.
        self.counters_task.abort();
        storage.close().await;
        tracing::info!("Tally stopped.");
        served.map_err(Into::into)
    }
}

fn retention_policy(config: &Config) -> retention::Policy {
    retention::Policy {
        execution_retention_days: config.metrics_execution_retention_days,
        daily_retention_days: config.metrics_daily_retention_days,
        archive: config
            .metrics_archive_enabled
            .then(|| retention::ArchivePolicy {
                dir: config.metrics_archive_dir.clone(),
                retention_days: config.metrics_archive_retention_days,
            }),
    }
}

/// Demo mode: the simulator sends history (when the database is empty) and
/// then live traffic to this very server, through its HTTP ingest API.
fn spawn_demo(state: &AppState, addr: SocketAddr) -> JoinHandle<()> {
    let storage = state.storage.clone();
    let master = state.master_key.expose_secret().to_owned();
    let days = state
        .config
        .metrics_execution_retention_days
        .saturating_sub(1)
        .min(90);
    tokio::spawn(async move {
        let empty = matches!(storage.execution_count().await, Ok(0));
        let config = simulator::SimulatorConfig {
            base_url: format!("http://{addr}"),
            ingest_key: master.clone(),
            master_key: Some(master),
            backfill_days: if empty { days } else { 0 },
            ..simulator::SimulatorConfig::default()
        };
        tracing::info!(
            backfill_days = config.backfill_days,
            "Demo mode: simulated traffic starting."
        );
        if let Err(error) = simulator::run(config).await {
            tracing::error!(error = format!("{error:#}"), "Demo simulator stopped.");
        }
    })
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
