//! The overview's smaller panels: top languages, the execution queue, the
//! container pool and the API requests.

use leptos::prelude::*;

use super::chart_specs::plotted;
use crate::{
    api::get_custom_series,
    charts::group_thousands,
    types::{
        ColdStartCost, EndpointStats, LanguageCount, MetricsQuery, PoolStats, RequestStats,
        TopLanguages,
    },
    ui::{DataTable, Tick, keyed, reloading},
};

/// `12 ms`, or a dash when there is no figure.
fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{} ms", group_thousands(v)))
}

#[component]
pub(super) fn TopLanguageBars(top: TopLanguages) -> impl IntoView {
    if top.languages.is_empty() {
        return view! { <p class="empty muted">"No executions in this period."</p> }.into_any();
    }
    let max = top
        .languages
        .iter()
        .map(|l| l.count)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let bar = move |l: LanguageCount| {
        view! {
            <li data-testid="top-language" data-language=l.language.clone() data-value=l.count>
                <span class="bar-label">{l.language.clone()}</span>
                <span class="bar-track">
                    <span
                        class="bar-fill"
                        style=format!("width:{:.1}%", 100.0 * l.count as f64 / max)
                    ></span>
                </span>
                <span class="bar-value">{group_thousands(l.count as f64)}</span>
            </li>
        }
    };
    view! {
        <ol class="bars">
            {keyed(move || top.languages.clone(), |l| l.language.clone(), bar)}
        </ol>
    }
    .into_any()
}

/// The overview's queue panel: the latest queue depth and active executions
/// (from OTLP), and the average queue wait of the period.
#[component]
pub(super) fn QueuePanel(
    query: Memo<MetricsQuery>,
    tick: Tick,
    avg_wait_ms: Signal<Option<f64>>,
) -> impl IntoView {
    // The sum of the latest points of the metric's series; none without any
    // (or when the metric cannot be read).
    let latest = |name: &'static str| {
        reloading(
            tick,
            move || query.get(),
            move |q| async move {
                let series = get_custom_series(name.to_owned(), q, String::new())
                    .await
                    .unwrap_or_default();
                let values: Vec<f64> = series
                    .iter()
                    .filter_map(|s| s.points.last().map(plotted))
                    .collect();
                Ok((!values.is_empty()).then(|| values.iter().sum::<f64>()))
            },
        )
    };
    let depth = latest("execution.queue.depth");
    let active = latest("script.executions.active");
    let now = move |resource: crate::ui::Loaded<Option<f64>>| {
        resource.get().and_then(Result::ok).flatten()
    };
    let shown = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), group_thousands);
    view! {
        <div class="mini-stats" data-testid="queue-panel">
            <div data-testid="queue-depth">
                <b>{move || shown(now(depth))}</b>
                <span class="muted">"queued now"</span>
            </div>
            <div>
                <b>{move || shown(now(active))}</b>
                <span class="muted">"running now"</span>
            </div>
            <div>
                <b>{move || ms(avg_wait_ms.get())}</b>
                <span class="muted">"avg queue wait"</span>
            </div>
        </div>
        {move || {
            (now(depth).is_none() && now(active).is_none())
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

#[component]
pub(super) fn PoolPanel(pool: PoolStats) -> impl IntoView {
    let row = |c: ColdStartCost| {
        view! {
            <tr>
                <th scope="row">{c.language}</th>
                <td>{format!("{} ms ({})", group_thousands(c.avg_ms_pool_hit), c.pool_hit_executions)}</td>
                <td>{format!("{} ms ({})", group_thousands(c.avg_ms_pool_miss), c.pool_miss_executions)}</td>
                <td>{format!("{} ms", group_thousands(c.cold_start_penalty_ms))}</td>
            </tr>
        }
    };
    view! {
        <div class="mini-stats">
            <div data-testid="pool-hit-rate" data-value=pool.hit_rate.to_string()>
                <b>{format!("{:.1} %", pool.hit_rate)}</b>
                <span class="muted">"hit rate"</span>
            </div>
            <div data-testid="pool-cold-starts" data-value=pool.cold_starts>
                <b>{group_thousands(pool.cold_starts as f64)}</b>
                <span class="muted">"cold starts"</span>
            </div>
            <div data-testid="pool-exhausted" data-value=pool.exhausted>
                <b>{group_thousands(pool.exhausted as f64)}</b>
                <span class="muted">"exhausted"</span>
            </div>
            <div>
                <b>{format!("{} / {} ms", group_thousands(pool.avg_acquire_ms_hit), group_thousands(pool.avg_acquire_ms_miss))}</b>
                <span class="muted">"acquire: hit / miss"</span>
            </div>
        </div>
        <DataTable
            caption="Cold-start cost: average execution time by container source"
            columns=&["Language", "Pool hit", "Pool miss", "Penalty"]
        >
            {keyed(move || pool.cold_start_cost.clone(), |c| c.language.clone(), row)}
        </DataTable>
    }
}

#[component]
pub(super) fn RequestPanel(stats: RequestStats) -> impl IntoView {
    let row = |e: EndpointStats| {
        view! {
            <tr>
                <th scope="row">
                    <code>{format!("{} {}", e.method, e.endpoint)}</code>
                </th>
                <td>{group_thousands(e.requests as f64)}</td>
                <td>{format!("{:.2}", e.error_rate)}</td>
                <td>{ms(e.p50_ms)}</td>
                <td>{ms(e.p95_ms)}</td>
                <td>{ms(e.p99_ms)}</td>
            </tr>
        }
    };
    view! {
        <div class="mini-stats">
            <div data-testid="requests-total" data-value=stats.total_requests>
                <b>{group_thousands(stats.total_requests as f64)}</b>
                <span class="muted">{format!("requests ({:.2}/s)", stats.requests_per_second)}</span>
            </div>
            <div data-testid="requests-error-rate" data-value=stats.error_rate.to_string()>
                <b>{format!("{:.2} %", stats.error_rate)}</b>
                <span class="muted">"5xx"</span>
            </div>
            <div>
                <b>{format!("{:.2} %", stats.client_error_rate)}</b>
                <span class="muted">"4xx"</span>
            </div>
            <div>
                <b>{ms(stats.p50_ms)}</b>
                <span class="muted">"p50"</span>
            </div>
            <div>
                <b>{ms(stats.p95_ms)}</b>
                <span class="muted">"p95"</span>
            </div>
            <div>
                <b>{ms(stats.p99_ms)}</b>
                <span class="muted">"p99"</span>
            </div>
        </div>
        <DataTable columns=&["Endpoint", "Requests", "5xx %", "p50", "p95", "p99"]>
            {keyed(
                move || stats.endpoints.clone(),
                |e| format!("{} {}", e.method, e.endpoint),
                row,
            )}
        </DataTable>
    }
}
