//! The Custom metrics view's chart: one line per series of the chosen
//! metric.

use super::line;
use crate::{
    charts::ChartSpec,
    types::{CustomPoint, CustomSeries},
};

/// Lines of the chart at most (one per series).
const MAX_LINES: usize = 8;

/// The value a point contributes to a chart: the number, or for histograms
/// and summaries the average (sum / count).
pub(in crate::pages::board) fn plotted(point: &CustomPoint) -> f64 {
    match point.count {
        Some(count) if count > 0 => point.value / count as f64,
        Some(_) => 0.0,
        None => point.value,
    }
}

/// A custom series' line name: its attributes but the service name.
fn custom_label(series: &CustomSeries) -> String {
    let text: Vec<String> = series
        .attributes
        .iter()
        .filter(|(k, _)| k.as_str() != "service.name")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if text.is_empty() {
        "all".to_owned()
    } else {
        text.join(" ")
    }
}

/// One line per custom series (eight at most) over the union of their
/// timestamps, labelled `HH:MM` and `tz_label`.
pub(in crate::pages::board) fn custom(series: &[CustomSeries], tz_label: &str) -> ChartSpec {
    let mut stamps: Vec<i64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.ts_ms))
        .collect();
    crate::order::sort_dedup(&mut stamps);
    let labels = stamps
        .iter()
        .map(|ms| {
            let seconds = ms / 1000;
            format!(
                "{:02}:{:02}{tz_label}",
                (seconds / 3600) % 24,
                (seconds / 60) % 60
            )
        })
        .collect();
    let lines = series
        .iter()
        .take(MAX_LINES)
        .enumerate()
        .map(|(i, s)| {
            let values = stamps
                .iter()
                .map(|t| s.points.iter().find(|p| p.ts_ms == *t).map(plotted))
                .collect();
            line(&custom_label(s), values, i, false)
        })
        .collect();
    ChartSpec::Lines {
        labels,
        series: lines,
        unit: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::board::chart_specs::lines_of;

    #[test]
    fn custom_series_are_lines_of_their_averages() {
        let point = |ts_ms, value, count| CustomPoint {
            ts_ms,
            value,
            count,
            ..CustomPoint::default()
        };
        let series = CustomSeries {
            attributes: [
                ("service.name".to_owned(), "tally".to_owned()),
                ("kind".to_owned(), "executions".to_owned()),
            ]
            .into(),
            points: vec![point(60_000, 6.0, Some(3)), point(120_000, 1.0, None)],
            ..CustomSeries::default()
        };
        let (labels, series, _) = lines_of(custom(&[series], " UTC"));
        assert_eq!(labels, ["00:01 UTC", "00:02 UTC"]);
        assert_eq!(series[0].name, "kind=executions");
        assert_eq!(series[0].values, [Some(2.0), Some(1.0)]);
        assert_eq!(plotted(&point(0, 5.0, Some(0))), 0.0);
    }
}
