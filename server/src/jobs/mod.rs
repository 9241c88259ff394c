//! Background maintenance, every `METRICS_AGGREGATION_INTERVAL_MINUTES`.

pub mod retention;

use std::time::Duration;

use tokio::{sync::watch, task::JoinHandle};

use crate::storage::Storage;

/// Starts the periodic maintenance task; it stops when `shutdown` turns true.
pub fn start(
    storage: Storage,
    policy: retention::Policy,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => break,
            }
            match retention::run_once(&storage, &policy, crate::clock::now_ms()).await {
                Ok(report) if report.is_empty() => tracing::debug!("Retention: nothing expired."),
                Ok(report) => tracing::info!(?report, "Retention run finished."),
                Err(error) => {
                    tracing::error!(error = format!("{error:#}"), "Retention run failed.")
                }
            }
        }
    })
}
