//! Integration tests: the real application on loopback, real SQLite files,
//! a real headless Chromium.

mod counters;
mod dashboard_e2e;
mod health;
mod ingest;
mod queries;
mod retention;
mod server_fns;
