//! What the board's charts draw: pure functions from server answers to a
//! [`ChartSpec`], kept apart from the components so they are tested on the
//! host.

use std::collections::BTreeMap;

use crate::{
    charts::{ChartSpec, Series},
    types::{CustomPoint, CustomSeries, Heatmap, Languages, SystemSeries, SystemView, TimeSeries},
};

/// Lines of the custom-metric chart at most (one per series).
const MAX_CUSTOM_LINES: usize = 8;

fn line(name: &str, values: Vec<Option<f64>>, color: usize, faint: bool) -> Series {
    Series {
        name: name.to_owned(),
        values,
        color,
        faint,
    }
}

/// Short labels for bucket timestamps (RFC 3339 in the chosen zone):
/// `MM-DD` for days, `HH:MM` for minutes, `HH:00` for hours within a day
/// and `MM-DD HHh` beyond.
fn short_labels(series: &TimeSeries) -> Vec<String> {
    let part = |t: &str, r: std::ops::Range<usize>| t.get(r).unwrap_or_default().to_owned();
    let hours_span_days = series.timestamps.len() > 25;
    series
        .timestamps
        .iter()
        .map(|t| match series.granularity.as_str() {
            "day" => part(t, 5..10),
            "minute" => part(t, 11..16),
            _ if hours_span_days => format!("{} {}h", part(t, 5..10), part(t, 11..13)),
            _ => part(t, 11..16),
        })
        .collect()
}

fn as_f64(values: &[u64]) -> Vec<Option<f64>> {
    values.iter().map(|v| Some(*v as f64)).collect()
}

/// Values only where the bucket had executions.
fn where_any(values: &[f64], counts: &[u64]) -> Vec<Option<f64>> {
    values
        .iter()
        .zip(counts)
        .map(|(v, n)| (*n > 0).then_some(*v))
        .collect()
}

fn lines(s: &TimeSeries, series: Vec<Series>, unit: &str) -> ChartSpec {
    ChartSpec::Lines {
        labels: short_labels(s),
        series,
        unit: unit.to_owned(),
    }
}

/// Executions and errors per bucket, with the previous period's executions.
pub(super) fn executions(s: &TimeSeries) -> ChartSpec {
    let mut series = vec![
        line("executions", as_f64(&s.executions), 0, false),
        line("errors", as_f64(&s.errors), 1, false),
    ];
    if let Some(previous) = &s.previous {
        series.push(line(
            "previous period",
            as_f64(&previous.executions),
            0,
            true,
        ));
    }
    lines(s, series, "")
}

/// The success rate of the buckets that had executions.
pub(super) fn success(s: &TimeSeries) -> ChartSpec {
    let mut series = vec![line(
        "success",
        where_any(&s.success_rate, &s.executions),
        2,
        false,
    )];
    if let Some(previous) = &s.previous {
        let values = where_any(&previous.success_rate, &previous.executions);
        series.push(line("previous period", values, 2, true));
    }
    lines(s, series, " %")
}

/// Average and 95th percentile execution time.
pub(super) fn duration(s: &TimeSeries) -> ChartSpec {
    let series = vec![
        line(
            "average",
            where_any(&s.avg_duration, &s.executions),
            3,
            false,
        ),
        line("p95", s.p95_duration.clone(), 4, false),
    ];
    lines(s, series, " ms")
}

/// The ten biggest languages, stacked by key (named where a name is known).
pub(super) fn languages(l: &Languages, names: &BTreeMap<String, String>) -> ChartSpec {
    let mut languages: Vec<(&String, &u64)> = l.by_language.iter().collect();
    languages.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    languages.truncate(10);
    let categories: Vec<String> = languages.iter().map(|(name, _)| (*name).clone()).collect();
    let keys: Vec<String> = l
        .by_api_key
        .as_ref()
        .map(|k| k.keys().cloned().collect())
        .unwrap_or_default();
    let parts = keys
        .iter()
        .map(|key| {
            let values = categories
                .iter()
                .map(|language| {
                    l.matrix
                        .as_ref()
                        .and_then(|m| m.get(language))
                        .and_then(|row| row.get(key))
                        .copied()
                        .unwrap_or(0) as f64
                })
                .collect();
            (
                names.get(key).cloned().unwrap_or_else(|| key.clone()),
                values,
            )
        })
        .collect();
    ChartSpec::StackedBars { categories, parts }
}

/// Executions by weekday (rows) and hour (columns).
pub(super) fn heatmap(h: &Heatmap) -> ChartSpec {
    ChartSpec::Heatmap {
        rows: h.days.clone(),
        columns: h.hours.iter().map(|h| format!("{h:02}")).collect(),
        values: h
            .matrix
            .iter()
            .map(|row| row.iter().map(|v| *v as f64).collect())
            .collect(),
    }
}

/// The host series of a stored metric, if the view has it.
pub(super) fn series_of<'a>(view: &'a SystemView, metric: &str) -> Option<&'a SystemSeries> {
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
pub(super) fn system(view: &SystemView, unit: &str, lines: &[(&str, &str)]) -> Option<ChartSpec> {
    let mut stamps: Vec<i64> = lines
        .iter()
        .filter_map(|(metric, _)| series_of(view, metric))
        .flat_map(|s| s.points.iter().map(|p| p.ts_ms))
        .collect();
    if stamps.is_empty() {
        return None;
    }
    stamps.sort_unstable();
    stamps.dedup();
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

/// The value a point contributes to a chart: the number, or for histograms
/// and summaries the average (sum / count).
pub(super) fn plotted(point: &CustomPoint) -> f64 {
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
pub(super) fn custom(series: &[CustomSeries], tz_label: &str) -> ChartSpec {
    let mut stamps: Vec<i64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.ts_ms))
        .collect();
    stamps.sort_unstable();
    stamps.dedup();
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
        .take(MAX_CUSTOM_LINES)
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
    use crate::types::SystemPoint;

    fn hours() -> TimeSeries {
        TimeSeries {
            timestamps: vec![
                "2026-11-19T13:00:00+01:00".into(),
                "2026-11-19T14:00:00+01:00".into(),
            ],
            executions: vec![4, 0],
            errors: vec![1, 0],
            success_rate: vec![75.0, 0.0],
            avg_duration: vec![12.5, 0.0],
            p95_duration: vec![Some(20.0), None],
            granularity: "hour".into(),
            ..TimeSeries::default()
        }
    }

    fn lines_of(spec: ChartSpec) -> (Vec<String>, Vec<Series>, String) {
        let ChartSpec::Lines {
            labels,
            series,
            unit,
        } = spec
        else {
            panic!("a line chart: {spec:?}");
        };
        (labels, series, unit)
    }

    #[test]
    fn labels_are_as_short_as_the_granularity_allows() {
        let mut s = hours();
        assert_eq!(short_labels(&s), ["13:00", "14:00"]);
        s.granularity = "day".into();
        assert_eq!(short_labels(&s), ["11-19", "11-19"]);
        s.granularity = "hour".into();
        s.timestamps = vec!["2026-11-19T13:00:00Z".into(); 26];
        assert_eq!(short_labels(&s)[0], "11-19 13h");
    }

    #[test]
    fn executions_and_errors_with_the_previous_period_faint() {
        let mut s = hours();
        let (labels, series, unit) = lines_of(executions(&s));
        assert_eq!((labels.len(), unit.as_str()), (2, ""));
        assert_eq!(series[0].values, [Some(4.0), Some(0.0)]);
        assert_eq!(series[1].name, "errors");
        s.previous = Some(Box::new(hours()));
        let (_, series, _) = lines_of(executions(&s));
        assert_eq!((series.len(), series[2].faint), (3, true));
    }

    #[test]
    fn success_rate_only_where_there_were_executions() {
        let mut s = hours();
        s.previous = Some(Box::new(hours()));
        let (_, series, unit) = lines_of(success(&s));
        assert_eq!(unit, " %");
        assert_eq!(series[0].values, [Some(75.0), None]);
        assert_eq!(series[1].name, "previous period");
    }

    #[test]
    fn duration_has_the_average_and_the_p95() {
        let (_, series, unit) = lines_of(duration(&hours()));
        assert_eq!(unit, " ms");
        assert_eq!(series[0].values, [Some(12.5), None]);
        assert_eq!(series[1].values, [Some(20.0), None]);
    }

    #[test]
    fn languages_stack_by_key_under_its_name() {
        let l = Languages {
            by_language: [("go".into(), 1), ("python".into(), 5)].into(),
            by_api_key: Some([("aaaa".into(), 4), ("bbbb".into(), 2)].into()),
            matrix: Some(
                [
                    (
                        "python".into(),
                        [("aaaa".into(), 4), ("bbbb".into(), 1)].into(),
                    ),
                    ("go".into(), [("bbbb".into(), 1)].into()),
                ]
                .into(),
            ),
            ..Languages::default()
        };
        let names = [("aaaa".to_owned(), "ci".to_owned())].into();
        let ChartSpec::StackedBars { categories, parts } = languages(&l, &names) else {
            panic!("stacked bars");
        };
        assert_eq!(categories, ["python", "go"]);
        assert_eq!(parts[0], ("ci".to_owned(), vec![4.0, 0.0]));
        assert_eq!(parts[1], ("bbbb".to_owned(), vec![1.0, 1.0]));
    }

    #[test]
    fn heatmap_has_a_row_per_day_and_a_column_per_hour() {
        let h = Heatmap {
            matrix: vec![vec![0, 3], vec![1, 0]],
            days: vec!["Mon".into(), "Tue".into()],
            hours: vec![0, 13],
            ..Heatmap::default()
        };
        assert_eq!(
            heatmap(&h),
            ChartSpec::Heatmap {
                rows: vec!["Mon".into(), "Tue".into()],
                columns: vec!["00".into(), "13".into()],
                values: vec![vec![0.0, 3.0], vec![1.0, 0.0]],
            }
        );
    }

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
