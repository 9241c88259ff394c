//! Output formats besides JSON: CSV and InfluxDB line protocol of every
//! admin view, and the Prometheus text exposition format.

pub mod csv;
pub mod influx;
pub mod prometheus;
