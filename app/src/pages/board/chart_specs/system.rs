//! The System view's charts: host metrics over the union of their bucket
//! times.

use super::line;
use crate::{
    charts::ChartSpec,
    types::{SystemSeries, SystemView},
};

/// The host series of a stored metric, if the view has it.
pub(in crate::pages::board) fn series_of<'a>(
    view: &'a SystemView,
    metric: &str,
) -> Option<&'a SystemSeries> {
    view.series.iter().find(|s| s.metric == metric)
}

/// `HH:MM` in UTC; with the weekday for the 7-day range.
fn system_label(ts_ms: i64, with_day: bool) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let seconds = ts_ms.div_euclid(1000);
    let time = format!("{:02}:{:02}", (seconds / 3600) % 24, (seconds / 60) % 60);
    if with_day {
        format!(
            "{} {time}",
            DAYS[seconds.div_euclid(86_400).rem_euclid(7) as usize]
        )
    } else {
        time
    }
}

/// One System chart: its `lines` (stored metric, line name) over the union
/// of their bucket times; `None` when none of them has a point.
pub(in crate::pages::board) fn system(
    view: &SystemView,
    unit: &str,
    lines: &[(&str, &str)],
) -> Option<ChartSpec> {
    let mut stamps: Vec<i64> = lines
        .iter()
        .filter_map(|(metric, _)| series_of(view, metric))
        .flat_map(|s| s.points.iter().map(|p| p.ts_ms))
        .collect();
    if stamps.is_empty() {
        return None;
    }
    crate::order::sort_dedup(&mut stamps);
    let with_day = view.range == "7d";
    let series = lines
        .iter()
        .enumerate()
        .map(|(i, (metric, name))| {
            let values = stamps
                .iter()
                .map(|t| {
                    series_of(view, metric)
                        .and_then(|s| s.points.iter().find(|p| p.ts_ms == *t))
                        .map(|p| p.value)
                })
                .collect();
            line(name, values, i, false)
        })
        .collect();
    Some(ChartSpec::Lines {
        labels: stamps.iter().map(|t| system_label(*t, with_day)).collect(),
        series,
        unit: unit.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{pages::board::chart_specs::lines_of, types::SystemPoint};

    #[test]
    fn system_labels_carry_the_weekday_for_a_week() {
        // 2026-11-19T14:05:00Z was a Thursday.
        let ts = 1_795_097_100_000;
        assert_eq!(system_label(ts, false), "14:05");
        assert_eq!(system_label(ts, true), "Thu 14:05");
    }

    #[test]
    fn system_lines_share_the_union_of_bucket_times() {
        let point = |ts_ms, value| SystemPoint { ts_ms, value };
        let series = |metric: &str, points| SystemSeries {
            metric: metric.into(),
            unit: "B/s".into(),
            points,
        };
        let view = SystemView {
            range: "1h".into(),
            bucket_seconds: 15,
            series: vec![
                series(
                    "system.network.received",
                    vec![point(0, 1.0), point(60_000, 2.0)],
                ),
                series("system.network.transmitted", vec![point(60_000, 5.0)]),
            ],
        };
        let network = [
            ("system.network.received", "in"),
            ("system.network.transmitted", "out"),
        ];
        let (labels, series, _) = lines_of(system(&view, "B/s", &network).unwrap());
        assert_eq!(labels, ["00:00", "00:01"]);
        assert_eq!(series[0].values, [Some(1.0), Some(2.0)]);
        assert_eq!(series[1].values, [None, Some(5.0)]);
        assert!(system(&view, "%", &[("system.cpu.utilization", "CPU")]).is_none());
    }
}
