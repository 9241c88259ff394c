//! The "System" view: the host Tally runs on (CPU, memory, disk, network,
//! connections, Tally's own memory) over 1 h, 6 h, 24 h or 7 d.

use leptos::prelude::*;

use crate::{
    api::get_system,
    charts::{ChartSpec, Series, group_thousands},
    components::chart::Chart,
    filters::{Filters, SYSTEM_RANGES},
    types::{SystemSeries, SystemView},
};

/// One chart of the view.
struct SystemChart {
    title: &'static str,
    /// The canvas id.
    id: &'static str,
    unit: &'static str,
    /// (stored metric, line name).
    lines: &'static [(&'static str, &'static str)],
}

const CHARTS: [SystemChart; 4] = [
    SystemChart {
        title: "CPU, memory and disk",
        id: "system-utilization",
        unit: "%",
        lines: &[
            ("system.cpu.utilization", "CPU"),
            ("system.memory.utilization", "memory"),
            ("system.disk.utilization", "disk (data dir)"),
        ],
    },
    SystemChart {
        title: "Memory",
        id: "system-memory",
        unit: "MiB",
        lines: &[
            ("system.memory.used", "host used"),
            ("process.memory.rss", "Tally RSS"),
        ],
    },
    SystemChart {
        title: "Network",
        id: "system-network",
        unit: "B/s",
        lines: &[
            ("system.network.received", "in"),
            ("system.network.transmitted", "out"),
        ],
    },
    SystemChart {
        title: "Open TCP connections",
        id: "system-connections",
        unit: "",
        lines: &[("system.connections.open", "open")],
    },
];

/// The latest readings shown above the charts: (metric, label, unit).
const LATEST: [(&str, &str, &str); 5] = [
    ("system.cpu.utilization", "CPU", "%"),
    ("system.memory.utilization", "memory", "%"),
    ("system.disk.utilization", "disk", "%"),
    ("process.memory.rss", "Tally RSS", "MiB"),
    ("system.connections.open", "connections", ""),
];

fn series_of<'a>(view: &'a SystemView, metric: &str) -> Option<&'a SystemSeries> {
    view.series.iter().find(|s| s.metric == metric)
}

/// `HH:MM` in UTC; with the weekday for the 7-day range.
fn label(ts_ms: i64, with_day: bool) -> String {
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

/// One chart's lines over the union of their bucket times.
fn chart(view: &SystemView, unit: &str, lines: &[(&str, &str)]) -> Option<ChartSpec> {
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
        .map(|(i, (metric, name))| Series {
            name: (*name).to_owned(),
            values: stamps
                .iter()
                .map(|t| {
                    series_of(view, metric)
                        .and_then(|s| s.points.iter().find(|p| p.ts_ms == *t))
                        .map(|p| p.value)
                })
                .collect(),
            color: i,
            faint: false,
        })
        .collect();
    Some(ChartSpec::Lines {
        labels: stamps.iter().map(|t| label(*t, with_day)).collect(),
        series,
        unit: unit.to_owned(),
    })
}

#[component]
pub fn SystemMetricsView(
    filters: Memo<Filters>,
    tick: RwSignal<u64>,
    set_filters: impl Fn(Filters) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let view_data = LocalResource::new(move || {
        let range = filters.get().system_range().to_owned();
        tick.track();
        get_system(range)
    });
    let set = StoredValue::new(set_filters);
    let loaded = move || view_data.get().and_then(Result::ok);

    view! {
        <section class="card filters" aria-label="System range">
            <div class="presets" role="group" aria-label="Range">
                {SYSTEM_RANGES
                    .iter()
                    .map(|range| {
                        let range = *range;
                        let active = move || filters.get().system_range() == range;
                        view! {
                            <button
                                class="chip"
                                class:active=active
                                aria-pressed=move || active().to_string()
                                data-range=range
                                on:click=move |_| {
                                    let mut next = filters.get_untracked();
                                    next.range = range.to_owned();
                                    set.with_value(|s| s(next));
                                }
                            >
                                {range}
                            </button>
                        }
                    })
                    .collect_view()}
            </div>
            <span class="muted">
                {move || loaded().map(|v| format!("averages per {} s, times in UTC", v.bucket_seconds))}
            </span>
        </section>
        {move || crate::pages::error_of(view_data, "the host metrics")}
        <section class="card mini-stats" data-testid="system-latest" aria-label="Latest readings">
            {move || {
                let view = loaded().unwrap_or_default();
                LATEST
                    .iter()
                    .map(|(metric, name, unit)| {
                        let last = series_of(&view, metric).and_then(|s| s.points.last()).map(|p| p.value);
                        view! {
                            <div data-metric=*metric data-value=last.map(|v| v.to_string()).unwrap_or_default()>
                                <b>{last.map_or_else(|| "–".to_owned(), |v| format!("{} {unit}", group_thousands(v)))}</b>
                                <span class="muted">{*name}</span>
                            </div>
                        }
                    })
                    .collect_view()
            }}
        </section>
        {move || {
            loaded()
                .filter(|v| v.series.iter().all(|s| s.points.is_empty()))
                .map(|_| {
                    view! {
                        <p class="empty muted card" data-testid="system-empty">
                            "No host samples in this range yet: Tally samples every "
                            <code>"SYSTEM_METRICS_INTERVAL_SECONDS"</code>
                            "."
                        </p>
                    }
                })
        }}
        <section class="grid-halves">
            {CHARTS
                .iter()
                .map(|c| {
                    let (unit, lines) = (c.unit, c.lines);
                    view! {
                        <section class="card panel">
                            <header class="panel-head">
                                <h2>{c.title}</h2>
                            </header>
                            <Chart
                                id=c.id
                                label=c.title
                                spec=Signal::derive(move || loaded().and_then(|v| chart(&v, unit, lines)))
                            />
                        </section>
                    }
                })
                .collect_view()}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SystemPoint;

    #[test]
    fn labels_carry_the_weekday_for_a_week() {
        // 2026-11-19T14:05:00Z was a Thursday.
        let ts = 1_795_097_100_000;
        assert_eq!(label(ts, false), "14:05");
        assert_eq!(label(ts, true), "Thu 14:05");
    }

    #[test]
    fn lines_share_the_union_of_bucket_times() {
        let point = |ts_ms, value| SystemPoint { ts_ms, value };
        let view = SystemView {
            range: "1h".into(),
            bucket_seconds: 15,
            series: vec![
                SystemSeries {
                    metric: "system.network.received".into(),
                    unit: "B/s".into(),
                    points: vec![point(0, 1.0), point(60_000, 2.0)],
                },
                SystemSeries {
                    metric: "system.network.transmitted".into(),
                    unit: "B/s".into(),
                    points: vec![point(60_000, 5.0)],
                },
            ],
        };
        let Some(ChartSpec::Lines { labels, series, .. }) = chart(&view, "B/s", CHARTS[2].lines)
        else {
            panic!("a line chart");
        };
        assert_eq!(labels, ["00:00", "00:01"]);
        assert_eq!(series[0].values, [Some(1.0), Some(2.0)]);
        assert_eq!(series[1].values, [None, Some(5.0)]);
        assert!(chart(&view, "%", CHARTS[0].lines).is_none());
    }
}
