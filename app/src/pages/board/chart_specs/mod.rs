//! What the board's charts draw: pure functions from server answers to a
//! [`ChartSpec`](crate::charts::ChartSpec), kept apart from the components so they are tested on the
//! host. One file per tab that draws charts.

mod custom;
mod overview;
mod system;

use crate::charts::Series;

pub(super) use self::{
    custom::{custom, plotted},
    overview::{duration, executions, heatmap, languages, success},
    system::{series_of, system},
};

/// One line of a line chart, in palette colour `color`.
fn line(name: &str, values: Vec<Option<f64>>, color: usize, faint: bool) -> Series {
    Series {
        name: name.to_owned(),
        values,
        color,
        faint,
    }
}

/// The lines of a line chart, if `spec` is one: (labels, series, unit).
#[cfg(test)]
fn lines_of(spec: crate::charts::ChartSpec) -> (Vec<String>, Vec<Series>, String) {
    let crate::charts::ChartSpec::Lines {
        labels,
        series,
        unit,
    } = spec
    else {
        panic!("a line chart: {spec:?}");
    };
    (labels, series, unit)
}
