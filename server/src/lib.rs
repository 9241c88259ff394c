//! Tally: a usage-metrics service for API platforms.
//!
//! `main.rs` only parses the configuration and starts [`startup::Application`];
//! everything else lives here so tests can start the real application.

pub mod alerts;
pub mod clock;
pub mod config;
pub mod counters;
pub mod export;
pub mod health;
pub mod histogram;
pub mod http;
pub mod ingest;
pub mod jobs;
pub mod model;
pub mod otlp_export;
pub mod otlp_mapping;
pub mod query;
pub mod self_metrics;
pub mod service;
pub mod sessions;
pub mod simulator;
pub mod startup;
pub mod state;
pub mod storage;
pub mod system;
pub mod telemetry;

#[cfg(test)]
mod module_graph;
