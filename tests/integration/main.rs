//! Integration tests: the real application on loopback, real SQLite files,
//! a real headless Chromium.

mod dashboard_e2e;
mod health;
mod server_fns;
