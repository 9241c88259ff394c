//! Chart specs drawn, hovered and named as a reader sees them.

use plotters::prelude::*;

use super::*;

fn line(name: &str, color: usize, faint: bool) -> Series {
    Series {
        name: name.into(),
        values: vec![Some(1.0), Some(2.0)],
        color,
        faint,
    }
}

#[test]
fn legends_name_every_series_of_a_multi_series_chart() {
    let lines = ChartSpec::Lines {
        labels: vec!["a".into(), "b".into()],
        series: vec![
            line("executions", 0, false),
            line("errors", 1, false),
            line("previous period", 0, true),
        ],
        unit: String::new(),
    };
    let names: Vec<(String, usize, bool)> = legend(&lines)
        .into_iter()
        .map(|e| (e.name, e.color, e.faint))
        .collect();
    assert_eq!(
        names,
        [
            ("executions".to_owned(), 0, false),
            ("errors".to_owned(), 1, false),
            ("previous period".to_owned(), 0, true)
        ]
    );
    let single = ChartSpec::Lines {
        labels: vec!["a".into()],
        series: vec![line("success", 2, false)],
        unit: " %".into(),
    };
    assert!(legend(&single).is_empty());
    let bars = ChartSpec::StackedBars {
        categories: vec!["python".into()],
        parts: vec![("acme".into(), vec![1.0]), ("globex".into(), vec![2.0])],
    };
    let parts: Vec<(String, usize)> = legend(&bars)
        .into_iter()
        .map(|e| (e.name, e.color))
        .collect();
    assert_eq!(parts, [("acme".to_owned(), 0), ("globex".to_owned(), 1)]);
}

#[test]
fn durations_on_an_axis_scale_to_seconds_and_minutes() {
    assert_eq!(axis_label(250.0, " ms"), "250 ms");
    assert_eq!(axis_label(2_500.0, " ms"), "2.5 s");
    assert_eq!(axis_label(30_000.0, " ms"), "30 s");
    assert_eq!(axis_label(150_000.0, " ms"), "2.5 min");
    assert_eq!(axis_label(0.0, " ms"), "0 ms");
    assert_eq!(axis_label(30_000.0, ""), "30k");
    assert_eq!(axis_label(50.0, " %"), "50 %");
}

fn svg(spec: &ChartSpec) -> String {
    svg_focused(spec, None)
}

fn svg_focused(spec: &ChartSpec, focus: Option<usize>) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (640, 220)).into_drawing_area();
        draw(
            &root,
            spec,
            &Theme::light(),
            &Layout::for_spec(spec, 1.0),
            focus,
        )
        .unwrap();
    }
    out
}

#[test]
fn every_chart_kind_draws() {
    let lines = ChartSpec::Lines {
        labels: (0..24).map(|h| format!("{h}:00")).collect(),
        series: vec![Series {
            name: "executions".into(),
            values: (0..24)
                .map(|h| {
                    if h == 5 {
                        None
                    } else {
                        Some(f64::from(h) * 3.0)
                    }
                })
                .collect(),
            color: 0,
            faint: false,
        }],
        unit: String::new(),
    };
    assert!(svg(&lines).contains("<polyline"));
    let bars = ChartSpec::StackedBars {
        categories: vec!["python".into(), "go".into()],
        parts: vec![("a".into(), vec![3.0, 1.0]), ("b".into(), vec![2.0, 0.0])],
    };
    assert!(svg(&bars).matches("<rect").count() >= 3);
    let heat = ChartSpec::Heatmap {
        rows: vec!["Monday".into(), "Tuesday".into()],
        columns: (0..24).map(|h| format!("{h:02}")).collect(),
        values: vec![vec![1.0; 24], vec![0.0; 24]],
    };
    assert!(svg(&heat).matches("<rect").count() >= 48);
}

#[test]
fn hover_reads_the_point_under_the_pointer() {
    let spec = ChartSpec::Lines {
        labels: vec!["a".into(), "b".into(), "c".into()],
        series: vec![Series {
            name: "n".into(),
            values: vec![Some(1.0), Some(2000.0), None],
            color: 0,
            faint: false,
        }],
        unit: " ms".into(),
    };
    let layout = Layout::for_spec(&spec, 1.0);
    // Plot area spans x 56..628 of 640: the middle is point "b".
    assert_eq!(
        hover(&spec, &layout, 640, 220, 342.0, 100.0).unwrap(),
        "b · n 2,000 ms"
    );
    assert_eq!(hover(&spec, &layout, 640, 220, 10.0, 100.0), None);
    let heat = ChartSpec::Heatmap {
        rows: vec!["Monday".into()],
        columns: vec!["00".into(), "01".into()],
        values: vec![vec![5.0, 7.0]],
    };
    let layout = Layout::for_spec(&heat, 1.0);
    assert_eq!(
        hover(&heat, &layout, 640, 220, 600.0, 50.0).unwrap(),
        "Monday 01:00 · 7 executions"
    );
}

#[test]
fn numbers_are_readable() {
    assert_eq!(group_thousands(1_234_567.4), "1,234,567");
    assert_eq!(group_thousands(12.25), "12.2");
    assert_eq!(short_number(25_300.0), "25k");
    assert_eq!(short_number(1_500.0), "1.5k");
}

#[test]
fn a_hovered_legend_entry_mutes_the_other_series() {
    let lines = ChartSpec::Lines {
        labels: vec!["a".into(), "b".into()],
        series: vec![line("executions", 0, false), line("errors", 1, false)],
        unit: String::new(),
    };
    let plain = svg(&lines);
    assert!(!plain.contains("opacity=\"0.2"), "{plain}");
    let focused = svg_focused(&lines, Some(1));
    // The other line is drawn faintly, the hovered one wider and last.
    assert_eq!(focused.matches("opacity=\"0.2").count(), 1, "{focused}");
    let (muted, hovered) = (
        focused.find("opacity=\"0.2").unwrap(),
        focused.rfind("<polyline").unwrap(),
    );
    assert!(muted < hovered);
    assert!(
        focused[hovered..].contains("stroke-width=\"3\""),
        "{focused}"
    );
}

#[test]
fn every_chart_says_what_it_shows_in_a_sentence() {
    let lines = ChartSpec::Lines {
        labels: vec!["13:00".into(), "14:00".into(), "15:00".into()],
        series: vec![Series {
            name: "p95".into(),
            values: vec![Some(120.0), Some(3_400.0), None],
            color: 0,
            faint: false,
        }],
        unit: " ms".into(),
    };
    assert_eq!(
        summary(&lines),
        "3 points from 13:00 to 15:00. p95: peak 3,400 ms at 14:00, latest 3,400 ms."
    );
    let bars = ChartSpec::StackedBars {
        categories: (0..7).map(|i| format!("lang{i}")).collect(),
        parts: vec![("a".into(), (0..7).map(f64::from).collect())],
    };
    assert_eq!(
        summary(&bars),
        "lang6 6, lang5 5, lang4 4, lang3 3, lang2 2, and 2 more."
    );
    let heat = ChartSpec::Heatmap {
        rows: vec!["Monday".into(), "Tuesday".into()],
        columns: vec!["00".into(), "01".into()],
        values: vec![vec![5.0, 7.0], vec![0.0, 2.0]],
    };
    assert_eq!(
        summary(&heat),
        "Busiest hour Monday 01:00 with 7; quietest Tuesday 00:00 with 0."
    );
    let empty = ChartSpec::Lines {
        labels: Vec::new(),
        series: Vec::new(),
        unit: String::new(),
    };
    assert_eq!(summary(&empty), "No data in this period.");
}
