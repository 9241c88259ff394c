//! The Overview's charts: executions, success rate and execution time over
//! time, languages by key, and the activity heatmap.

use std::collections::BTreeMap;

use super::line;
use crate::{
    charts::{ChartSpec, Series},
    types::{Heatmap, Languages, TimeSeries},
};

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
pub(in crate::pages::board) fn executions(s: &TimeSeries) -> ChartSpec {
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
pub(in crate::pages::board) fn success(s: &TimeSeries) -> ChartSpec {
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
pub(in crate::pages::board) fn duration(s: &TimeSeries) -> ChartSpec {
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
pub(in crate::pages::board) fn languages(
    l: &Languages,
    names: &BTreeMap<String, String>,
) -> ChartSpec {
    let mut languages: Vec<(&String, &u64)> = l.by_language.iter().collect();
    crate::order::sort_by(&mut languages, |a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
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
pub(in crate::pages::board) fn heatmap(h: &Heatmap) -> ChartSpec {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::board::chart_specs::lines_of;

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
}
