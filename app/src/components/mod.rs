//! Reusable dashboard components.

pub mod chart;
pub mod custom_metrics;
