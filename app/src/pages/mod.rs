//! Top-level pages of the dashboard.

mod board;
mod dashboard;
mod not_found;

pub use dashboard::Dashboard;
pub use not_found::NotFound;
