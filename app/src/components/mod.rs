//! Reusable dashboard components.

pub mod alerts_view;
pub mod chart;
pub mod custom_metrics;
pub mod system_view;
