//! The "Custom metrics" view: metrics received over OTLP, picked by name,
//! filtered by attributes, charted over the period; and the queue panel of
//! the overview (from the well-known queue metrics).

use leptos::prelude::*;

use crate::{
    api::{get_custom_metrics, get_custom_series},
    charts::{ChartSpec, Series, group_thousands},
    components::chart::Chart,
    filters::Filters,
    types::{CustomSeries, MetricsQuery},
};

/// Lines drawn at most (one per series).
const MAX_LINES: usize = 8;

/// The value a point contributes to a chart: the number, or for histograms
/// and summaries the average (sum / count).
fn plotted(point: &crate::types::CustomPoint) -> f64 {
    match point.count {
        Some(count) if count > 0 => point.value / count as f64,
        Some(_) => 0.0,
        None => point.value,
    }
}

fn label_of(series: &CustomSeries) -> String {
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

/// One line per series over the union of their timestamps.
fn chart(series: &[CustomSeries], tz_offset_label: &str) -> ChartSpec {
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
                "{:02}:{:02}{tz_offset_label}",
                (seconds / 3600) % 24,
                (seconds / 60) % 60
            )
        })
        .collect();
    let lines = series
        .iter()
        .take(MAX_LINES)
        .enumerate()
        .map(|(i, s)| Series {
            name: label_of(s),
            values: stamps
                .iter()
                .map(|t| s.points.iter().find(|p| p.ts_ms == *t).map(plotted))
                .collect(),
            color: i,
            faint: false,
        })
        .collect();
    ChartSpec::Lines {
        labels,
        series: lines,
        unit: String::new(),
    }
}

#[component]
pub fn CustomMetricsView(
    filters: Memo<Filters>,
    query: Memo<MetricsQuery>,
    tick: RwSignal<u64>,
    set_filters: impl Fn(Filters) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let catalog = LocalResource::new(move || {
        tick.track();
        get_custom_metrics()
    });
    let series = LocalResource::new(move || {
        let f = filters.get();
        let q = query.get();
        tick.track();
        async move {
            if f.metric.is_empty() {
                return Ok(Vec::new());
            }
            get_custom_series(f.metric.clone(), q, f.attributes().join(",")).await
        }
    });
    let attr_input = RwSignal::new(filters.get_untracked().attr);
    let set = StoredValue::new(set_filters);
    let pick = move |metric: String| {
        let mut next = filters.get_untracked();
        next.metric = metric;
        set.with_value(|s| s(next));
    };
    let apply_attr = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut next = filters.get_untracked();
        next.attr = attr_input.get_untracked();
        set.with_value(|s| s(next));
    };

    view! {
        <section class="card filters" aria-label="Custom metric">
            <label>
                "Metric "
                <select
                    data-testid="metric-picker"
                    aria-label="Metric"
                    on:change=move |ev| pick(event_target_value(&ev))
                >
                    <option value="" selected=move || filters.get().metric.is_empty()>
                        "Choose a metric"
                    </option>
                    {move || {
                        catalog
                            .get()
                            .and_then(Result::ok)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|m| {
                                let name = m.name.clone();
                                let selected = {
                                    let name = name.clone();
                                    move || filters.get().metric == name
                                };
                                view! {
                                    <option value=name.clone() selected=selected>
                                        {format!("{} ({}, {} series)", m.name, m.kind, m.series)}
                                    </option>
                                }
                            })
                            .collect_view()
                    }}
                </select>
            </label>
            <form class="range" on:submit=apply_attr>
                <label>
                    "Attributes "
                    <input
                        type="text"
                        placeholder="key:value, key:value"
                        aria-label="Attribute filter"
                        data-testid="attribute-filter"
                        prop:value=move || attr_input.get()
                        on:input=move |ev| attr_input.set(event_target_value(&ev))
                    />
                </label>
                <button type="submit" class="chip">"Filter"</button>
            </form>
        </section>
        <section class="card panel">
            <header class="panel-head">
                <h2>{move || {
                    let metric = filters.get().metric;
                    if metric.is_empty() { "Custom metrics".to_owned() } else { metric }
                }}</h2>
            </header>
            {move || crate::pages::error_of(series, "the series")}
            {move || match (catalog.get(), filters.get().metric.is_empty()) {
                (Some(Ok(list)), _) if list.is_empty() => {
                    view! {
                        <p class="empty muted" data-testid="custom-empty">
                            "No custom metrics yet: point an OpenTelemetry exporter at "
                            <code>"POST /v1/metrics"</code>
                            " with the ingest key."
                        </p>
                    }
                        .into_any()
                }
                (_, true) => view! { <p class="muted">"Choose a metric above."</p> }.into_any(),
                _ => ().into_any(),
            }}
            <Chart
                id="custom"
                label="The chosen custom metric over time"
                spec=Signal::derive(move || {
                    series
                        .get()
                        .and_then(Result::ok)
                        .filter(|s| !s.is_empty())
                        .map(|s| chart(&s, " UTC"))
                })
            />
            <div class="table-wrap">
                <table class="data" data-testid="custom-series">
                    <thead>
                        <tr>
                            <th scope="col">"Series"</th>
                            <th scope="col">"Kind"</th>
                            <th scope="col">"Points"</th>
                            <th scope="col">"Last value"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || {
                            series
                                .get()
                                .and_then(Result::ok)
                                .unwrap_or_default()
                                .into_iter()
                                .map(|s| {
                                    let last = s.points.last().map(plotted).unwrap_or(0.0);
                                    view! {
                                        <tr data-testid="custom-series-row">
                                            <th scope="row">
                                                <code>
                                                    {s
                                                        .attributes
                                                        .iter()
                                                        .map(|(k, v)| format!("{k}={v}"))
                                                        .collect::<Vec<_>>()
                                                        .join(" ")}
                                                </code>
                                            </th>
                                            <td>{s.kind.clone()}</td>
                                            <td>{s.points.len()}</td>
                                            <td data-value=last.to_string()>{group_thousands(last)}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()
                        }}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

/// The overview's queue panel: the latest queue depth and active executions
/// (from OTLP), and the average queue wait of the period.
#[component]
pub fn QueuePanel(
    query: Memo<MetricsQuery>,
    tick: RwSignal<u64>,
    avg_wait_ms: Signal<Option<f64>>,
) -> impl IntoView {
    let latest = |name: &'static str| {
        LocalResource::new(move || {
            let q = query.get();
            tick.track();
            async move {
                let series = get_custom_series(name.to_owned(), q, String::new())
                    .await
                    .unwrap_or_default();
                let values: Vec<f64> = series
                    .iter()
                    .filter_map(|s| s.points.last().map(plotted))
                    .collect();
                (!values.is_empty()).then(|| values.iter().sum::<f64>())
            }
        })
    };
    let depth = latest("execution.queue.depth");
    let active = latest("script.executions.active");
    let shown =
        |v: Option<Option<f64>>| v.flatten().map_or_else(|| "–".to_owned(), group_thousands);
    view! {
        <div class="mini-stats" data-testid="queue-panel">
            <div data-testid="queue-depth">
                <b>{move || shown(depth.get())}</b>
                <span class="muted">"queued now"</span>
            </div>
            <div>
                <b>{move || shown(active.get())}</b>
                <span class="muted">"running now"</span>
            </div>
            <div>
                <b>{move || avg_wait_ms.get().map_or_else(|| "–".to_owned(), |v| format!("{} ms", group_thousands(v)))}</b>
                <span class="muted">"avg queue wait"</span>
            </div>
        </div>
        {move || {
            (depth.get().flatten().is_none() && active.get().flatten().is_none())
                .then(|| {
                    view! {
                        <p class="muted">
                            "Queue depth and running executions come from the OTLP metrics "
                            <code>"execution.queue.depth"</code> " and "
                            <code>"script.executions.active"</code> "."
                        </p>
                    }
                })
        }}
    }
}
