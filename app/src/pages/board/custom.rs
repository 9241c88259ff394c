//! The "Custom metrics" view: metrics received over OTLP, picked by name,
//! filtered by attributes, charted over the period.

use leptos::prelude::*;

use super::{
    FilterState,
    chart_specs::{self, plotted},
};
use crate::{
    api::{get_custom_metrics, get_custom_series},
    charts::group_thousands,
    types::{CustomMetric, CustomSeries, MetricsQuery},
    ui::{Chart, DataTable, Panel, Tick, error_of, keyed, reloading},
};

/// A row of the series table.
struct SeriesRow {
    attributes: String,
    kind: String,
    points: usize,
    /// The last value, unformatted (`data-value`) and shown.
    last: String,
    shown: String,
}

impl SeriesRow {
    fn of(s: &CustomSeries) -> Self {
        let last = s.points.last().map(plotted).unwrap_or(0.0);
        Self {
            attributes: s
                .attributes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
            kind: s.kind.clone(),
            points: s.points.len(),
            last: last.to_string(),
            shown: group_thousands(last),
        }
    }

    /// What the row shows: it is drawn again when that changes.
    fn key(&self) -> String {
        format!(
            "{} {} {} {}",
            self.attributes, self.kind, self.points, self.last
        )
    }
}

#[component]
pub(super) fn CustomMetricsView(
    filters: FilterState,
    query: Memo<MetricsQuery>,
    tick: Tick,
) -> impl IntoView {
    let catalog = reloading(tick, || (), |()| get_custom_metrics());
    let series = reloading(
        tick,
        move || (filters.get(), query.get()),
        |(f, q)| async move {
            if f.metric.is_empty() {
                return Ok(Vec::new());
            }
            get_custom_series(f.metric.clone(), q, f.attributes().join(",")).await
        },
    );
    let attr_input = RwSignal::new(filters.untracked().attr);
    let apply_attr = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        filters.update(|f| f.attr = attr_input.get_untracked());
    };
    let metrics = move || catalog.get().and_then(Result::ok).unwrap_or_default();
    let rows = move || {
        series
            .get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .iter()
            .map(SeriesRow::of)
            .collect::<Vec<_>>()
    };

    view! {
        <section class="card filters" aria-label="Custom metric">
            <label>
                "Metric "
                <select
                    data-testid="metric-picker"
                    aria-label="Metric"
                    on:change=move |ev| {
                        let metric = event_target_value(&ev);
                        filters.update(|f| f.metric = metric)
                    }
                >
                    <option value="" selected=move || filters.get().metric.is_empty()>
                        "Choose a metric"
                    </option>
                    // Keyed by what the option says, which changes with the series count.
                    {keyed(
                        metrics,
                        |m| format!("{} ({}, {} series)", m.name, m.kind, m.series),
                        move |m| view! { <MetricChoice metric=m filters=filters /> },
                    )}
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
        <Panel title=move || {
            let metric = filters.get().metric;
            if metric.is_empty() { "Custom metrics".to_owned() } else { metric }
        }>
            {move || error_of(series, "the series")}
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
                        .map(|s| chart_specs::custom(&s, " UTC"))
                })
            />
            <DataTable testid="custom-series" columns=&["Series", "Kind", "Points", "Last value"]>
                {keyed(
                    rows,
                    SeriesRow::key,
                    |row| {
                        view! {
                            <tr data-testid="custom-series-row">
                                <th scope="row">
                                    <code>{row.attributes}</code>
                                </th>
                                <td>{row.kind}</td>
                                <td>{row.points}</td>
                                <td data-value=row.last>{row.shown}</td>
                            </tr>
                        }
                    },
                )}
            </DataTable>
        </Panel>
    }
}

/// A metric's option in the picker.
#[component]
fn MetricChoice(metric: CustomMetric, filters: FilterState) -> impl IntoView {
    let name = metric.name.clone();
    let selected = move || filters.get().metric == name;
    view! {
        <option value=metric.name.clone() selected=selected>
            {format!("{} ({}, {} series)", metric.name, metric.kind, metric.series)}
        </option>
    }
}
