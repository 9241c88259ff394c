//! The "System" view: the host Tally runs on (CPU, memory, disk, network,
//! connections, Tally's own memory) over 1 h, 6 h, 24 h or 7 d.

use leptos::prelude::*;

use super::{
    FilterState,
    chart_specs::{self, series_of},
};
use crate::{
    api::get_system,
    charts::group_thousands,
    filters::SYSTEM_RANGES,
    ui::{Chart, Panel, Tick, error_of, reloading},
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

#[component]
pub(super) fn SystemMetricsView(filters: FilterState, tick: Tick) -> impl IntoView {
    let view_data = reloading(
        tick,
        move || filters.get().system_range().to_owned(),
        get_system,
    );
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
                                on:click=move |_| filters.update(|f| f.range = range.to_owned())
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
        {move || error_of(view_data, "the host metrics")}
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
                        <Panel title=c.title>
                            <Chart
                                id=c.id
                                label=c.title
                                spec=Signal::derive(move || {
                                    loaded().and_then(|v| chart_specs::system(&v, unit, lines))
                                })
                            />
                        </Panel>
                    }
                })
                .collect_view()}
        </section>
    }
}
