//! Reusable dashboard components.

pub mod chart;
