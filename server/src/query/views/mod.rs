//! The views: one file per admin view, each a few aggregations through
//! [`super::aggregate`] turned into the API's response types.

mod api_keys;
mod heatmap;
mod languages;
mod pool;
mod requests;
mod summary;
mod time_series;

pub use api_keys::api_keys;
pub use heatmap::{WEEKDAYS, heatmap};
pub use languages::{language_stats, languages, top_languages};
pub use pool::pool;
pub use requests::requests;
pub use summary::summary;
pub use time_series::time_series;

use super::params::Filter;

/// The filter's range as interval bounds.
fn range_bounds(filter: &Filter) -> [i64; 2] {
    [filter.range.from_ms, filter.range.to_ms]
}
