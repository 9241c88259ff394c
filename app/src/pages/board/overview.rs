//! The Overview tab: summary cards, the charts over time, languages, the
//! activity heatmap, the API-key table and the queue, pool and request
//! panels, each with its CSV download.

use std::collections::BTreeMap;

use leptos::prelude::*;

use super::{
    FilterState,
    cards::SummaryCards,
    chart_specs,
    key_table::KeyTable,
    panels::{PoolPanel, QueuePanel, RequestPanel, TopLanguageBars},
};
use crate::{
    api::{
        get_api_keys, get_heatmap, get_languages, get_pool, get_requests, get_summary,
        get_time_series, get_top_languages,
    },
    charts::{ChartSpec, group_thousands},
    filters::{Page, encode},
    types::{
        ApiKeyUsage, Heatmap, Languages, MetricsQuery, PoolStats, RequestStats, Summary,
        TimeSeries, TopLanguages,
    },
    ui::{Chart, Loaded, Panel, Tick, error_of, loaded, reloading},
};

/// What the overview shows. The board loads it whichever tab is open, and
/// says when it is [ready](Self::ready).
#[derive(Clone, Copy)]
pub(super) struct Loads {
    summary: Loaded<Summary>,
    series: Loaded<TimeSeries>,
    languages: Loaded<Languages>,
    top: Loaded<TopLanguages>,
    heatmap: Loaded<Heatmap>,
    keys: Loaded<Vec<ApiKeyUsage>>,
    pool: Loaded<PoolStats>,
    requests: Loaded<RequestStats>,
}

/// The board's query changed by `change` (and only when it changes).
fn shaped(query: Memo<MetricsQuery>, change: fn(&mut MetricsQuery)) -> Memo<MetricsQuery> {
    Memo::new(move |_| {
        let mut q = query.get();
        change(&mut q);
        q
    })
}

impl Loads {
    pub(super) fn new(query: Memo<MetricsQuery>, tick: Tick) -> Self {
        // The summary always brings the previous period, for the cards' change.
        let summary_query = shaped(query, |q| q.compare = Some("previous".to_owned()));
        let stacked_query = shaped(query, |q| {
            q.stack_by_api_key = Some(true);
            q.compare = None;
        });
        let top_query = shaped(query, |q| {
            q.limit = Some(8);
            q.compare = None;
        });
        let board = move || query.get();
        Self {
            summary: reloading(tick, move || summary_query.get(), get_summary),
            series: reloading(tick, board, get_time_series),
            languages: reloading(tick, move || stacked_query.get(), get_languages),
            top: reloading(tick, move || top_query.get(), get_top_languages),
            heatmap: reloading(tick, board, get_heatmap),
            keys: reloading(tick, board, get_api_keys),
            pool: reloading(tick, board, get_pool),
            requests: reloading(tick, board, get_requests),
        }
    }

    /// Whether the main widgets have their first answer (the board's
    /// `data-ready`).
    pub(super) fn ready(self) -> bool {
        self.summary.get().is_some()
            && self.series.get().is_some()
            && self.languages.get().is_some()
            && self.heatmap.get().is_some()
            && self.keys.get().is_some()
    }
}

/// The query string of a view request (for CSV links).
fn query_string(q: &MetricsQuery) -> String {
    let fields = [
        ("period", &q.period),
        ("start_date", &q.start_date),
        ("end_date", &q.end_date),
        ("api_key_hash", &q.api_key_hash),
        ("tenant", &q.tenant),
        ("language", &q.language),
        ("tz", &q.tz),
        ("compare", &q.compare),
    ];
    fields
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect::<Vec<_>>()
        .join("&")
}

/// A chart's spec: `build` applied to the resource's value, once loaded.
fn spec<T: Clone + 'static>(
    resource: Loaded<T>,
    build: fn(&T) -> ChartSpec,
) -> Signal<Option<ChartSpec>> {
    Signal::derive(move || resource.get().and_then(Result::ok).map(|v| build(&v)))
}

#[component]
pub(super) fn Overview(
    loads: Loads,
    /// The board, or a key's page (no languages by key, no pool panel:
    /// pool events carry no key).
    page: Page,
    filters: FilterState,
    query: Memo<MetricsQuery>,
    tick: Tick,
    /// Every key of the year, for their names in the languages chart.
    all_keys: Loaded<Vec<ApiKeyUsage>>,
) -> impl IntoView {
    let Loads {
        summary,
        series,
        languages,
        top,
        heatmap,
        keys,
        pool,
        requests,
    } = loads;
    let key_names = Memo::new(move |_| {
        all_keys
            .get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .map(|k| (k.key_hash, k.key_prefix))
            .collect::<BTreeMap<String, String>>()
    });
    let csv = move |view: &'static str| {
        Signal::derive(move || {
            format!(
                "/api/v1/admin/metrics/{view}?{}&format=csv",
                query_string(&query.get())
            )
        })
    };
    let of_key = matches!(page, Page::Key(_));

    view! {
        <section class="cards" aria-label="Summary">
            {move || loaded(summary, "the summary", |s| view! { <SummaryCards summary=s /> })}
        </section>
        <section class="grid-3">
            <Panel title="Executions and errors" csv=csv("time-series")>
                <Chart
                    id="executions"
                    label="Executions and errors over time"
                    spec=spec(series, chart_specs::executions)
                />
                {move || error_of(series, "the time series")}
            </Panel>
            <Panel title="Success rate" csv=csv("time-series")>
                <Chart
                    id="success"
                    label="Success rate over time"
                    spec=spec(series, chart_specs::success)
                />
            </Panel>
            <Panel title="Execution time" csv=csv("time-series")>
                <Chart
                    id="duration"
                    label="Average and 95th percentile execution time"
                    spec=spec(series, chart_specs::duration)
                />
            </Panel>
        </section>
        <section class="grid-2">
            <Panel
                title=if of_key { "Languages" } else { "Languages by API key" }
                csv=csv("languages")
            >
                <Chart
                    id="languages"
                    label="Executions per language, stacked by API key"
                    spec=Signal::derive(move || {
                        languages
                            .get()
                            .and_then(Result::ok)
                            .map(|l| chart_specs::languages(&l, &key_names.get()))
                    })
                />
                {move || error_of(languages, "languages")}
            </Panel>
            <Panel title="Top languages" csv=csv("top-languages")>
                {move || loaded(top, "top languages", |t| view! { <TopLanguageBars top=t /> })}
            </Panel>
        </section>
        <Panel title="Activity by day and hour" csv=csv("heatmap")>
            <Chart
                id="heatmap"
                label="Executions by day of week and hour"
                height=240
                spec=spec(heatmap, chart_specs::heatmap)
            />
            {move || {
                heatmap
                    .get()
                    .and_then(Result::ok)
                    .map(|h| {
                        view! {
                            <p class="legend muted">
                                <span class="swatch low"></span>
                                "0 "
                                <span class="swatch high"></span>
                                {format!(" {} executions per hour ({})", group_thousands(h.max_value as f64), h.timezone)}
                            </p>
                        }
                    })
            }}
            {move || error_of(heatmap, "the heatmap")}
        </Panel>
        <Panel title="API keys" csv=csv("api-keys")>
            {move || loaded(keys, "API keys", move |k| view! { <KeyTable keys=k tick=tick filters=filters /> })}
        </Panel>
        <Panel title="Execution queue" csv=csv("summary")>
            <QueuePanel
                query=query
                tick=tick
                avg_wait_ms=Signal::derive(move || {
                    summary.get().and_then(Result::ok).map(|s| s.avg_queue_wait_ms)
                })
            />
        </Panel>
        <section class="grid-halves">
            {(!of_key)
                .then(|| {
                    view! {
                        <Panel title="Container pool" csv=csv("pool")>
                            {move || loaded(pool, "pool statistics", |p| view! { <PoolPanel pool=p /> })}
                        </Panel>
                    }
                })}
            <Panel title="API requests" csv=csv("requests")>
                {move || loaded(requests, "request statistics", |r| view! { <RequestPanel stats=r /> })}
            </Panel>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_links_carry_the_query() {
        let q = MetricsQuery {
            period: Some("week".into()),
            tz: Some("Europe/Berlin".into()),
            limit: Some(8),
            ..MetricsQuery::default()
        };
        assert_eq!(query_string(&q), "period=week&tz=Europe%2FBerlin");
    }
}
