//! Output formats besides JSON: CSV of every admin view, and the Prometheus
//! text exposition format.

pub mod csv;
pub mod prometheus;
