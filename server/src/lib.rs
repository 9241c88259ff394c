//! Tally: a usage-metrics service for API platforms.
//!
//! `main.rs` only parses the configuration and starts [`startup::Application`];
//! everything else lives here so tests can start the real application.

pub mod backend;
pub mod config;
pub mod http;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
