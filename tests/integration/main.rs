//! Integration tests: the real application on loopback, real SQLite files,
//! a real headless Chromium.

mod accuracy;
mod alerts;
mod client_layer;
mod client_retries;
mod clients;
mod counters;
mod dashboard_e2e;
mod dashboard_pages;
mod health;
mod ingest;
mod load;
mod otlp;
mod prometheus;
mod queries;
mod reliability;
mod retention;
mod security;
mod server_fns;
mod tenants;
mod upgrade;
mod upgrade_grains;
