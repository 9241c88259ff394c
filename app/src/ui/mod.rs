//! Building blocks every view of the dashboard uses: loading data and
//! showing it loading or failed ([`reloading`], [`loaded`], [`error_of`]),
//! the [`Panel`] around a widget, the [`DataTable`], [`keyed`] lists and
//! the canvas [`Chart`]. Nothing here knows about a particular page.

mod chart;
mod list;
mod panel;
mod resource;
mod status;
mod table;

pub(crate) use chart::Chart;
pub(crate) use list::keyed;
pub(crate) use panel::Panel;
pub(crate) use resource::{Loaded, Tick, reloading};
pub(crate) use status::{error_of, loaded};
pub(crate) use table::DataTable;
