//! The dashboard proper: filter bar, live strip, summary cards, charts,
//! heatmap and tables. Every widget loads through a server function with
//! the filters from the URL, and reloads on auto-refresh.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_router::{NavigateOptions, hooks::use_navigate, hooks::use_query_map};

use crate::{
    api::{
        get_api_keys, get_health, get_heatmap, get_languages, get_live, get_pool, get_requests,
        get_summary, get_time_series, get_top_languages, logout,
    },
    browser,
    charts::{ChartSpec, Series, group_thousands},
    components::{
        alerts_view::AlertsView,
        chart::Chart,
        custom_metrics::{CustomMetricsView, QueuePanel},
        system_view::SystemMetricsView,
    },
    error::AppError,
    filters::{Filters, PERIODS, REFRESH, VIEWS, encode},
    pages::dashboard::Auth,
    types::{ApiKeyUsage, MetricsQuery, Summary, TimeSeries},
};

/// Time zones offered besides the browser's.
const ZONES: [&str; 12] = [
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Moscow",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
];

pub(crate) type Loaded<T> = LocalResource<Result<T, AppError>>;

#[component]
pub fn Board() -> impl IntoView {
    let params = use_query_map();
    let filters = Memo::new(move |_| params.with(|p| Filters::from_params(|k| p.get(k))));
    let browser_tz = browser::time_zone();
    let query = {
        let browser_tz = browser_tz.clone();
        Memo::new(move |_| filters.get().to_query(&browser_tz))
    };
    // Bumped by auto-refresh: every widget reloads.
    let tick = RwSignal::new(0u64);
    let navigate = use_navigate();
    let set_filters = move |next: Filters| {
        navigate(
            &format!("/monitoring?{}", next.to_query_string()),
            NavigateOptions::default(),
        );
    };
    let set_view = StoredValue::new(set_filters.clone());

    Effect::new(move |_| {
        let f = filters.get();
        // Views without the filter bar refresh on their own every 30 s.
        let seconds = if f.uses_usage_filters() {
            f.refresh
        } else {
            30
        };
        if seconds == 0 {
            return;
        }
        if let Ok(handle) = set_interval_with_handle(
            move || tick.update(|t| *t += 1),
            std::time::Duration::from_secs(u64::from(seconds)),
        ) {
            on_cleanup(move || handle.clear());
        }
    });

    let with = move |f: fn(&mut MetricsQuery)| {
        Memo::new(move |_| {
            let mut q = query.get();
            f(&mut q);
            q
        })
    };
    // The summary always brings the previous period, for the cards' change.
    let summary_query = with(|q| q.compare = Some("previous".to_owned()));
    let stacked_query = with(|q| {
        q.stack_by_api_key = Some(true);
        q.compare = None;
    });
    let top_query = with(|q| {
        q.limit = Some(8);
        q.compare = None;
    });

    let summary: Loaded<Summary> = LocalResource::new(move || {
        let q = summary_query.get();
        tick.track();
        get_summary(q)
    });
    let series = LocalResource::new(move || {
        let q = query.get();
        tick.track();
        get_time_series(q)
    });
    let languages = LocalResource::new(move || {
        let q = stacked_query.get();
        tick.track();
        get_languages(q)
    });
    let top = LocalResource::new(move || {
        let q = top_query.get();
        tick.track();
        get_top_languages(q)
    });
    let heatmap = LocalResource::new(move || {
        let q = query.get();
        tick.track();
        get_heatmap(q)
    });
    let keys = LocalResource::new(move || {
        let q = query.get();
        tick.track();
        get_api_keys(q)
    });
    let pool = LocalResource::new(move || {
        let q = query.get();
        tick.track();
        get_pool(q)
    });
    let requests = LocalResource::new(move || {
        let q = query.get();
        tick.track();
        get_requests(q)
    });
    // Every key and language ever seen, for the filter choices.
    let all_keys = LocalResource::new(move || {
        tick.track();
        get_api_keys(MetricsQuery {
            period: Some("year".to_owned()),
            ..MetricsQuery::default()
        })
    });
    let all_languages = LocalResource::new(move || {
        tick.track();
        get_languages(MetricsQuery {
            period: Some("year".to_owned()),
            ..MetricsQuery::default()
        })
    });

    let key_names = Memo::new(move |_| {
        all_keys
            .get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .map(|k| (k.key_hash.clone(), k.key_prefix.clone()))
            .collect::<BTreeMap<String, String>>()
    });
    let ready = move || {
        summary.get().is_some()
            && series.get().is_some()
            && languages.get().is_some()
            && heatmap.get().is_some()
            && keys.get().is_some()
    };
    let csv = move |view: &'static str| {
        let q = query.get();
        format!(
            "/api/v1/admin/metrics/{view}?{}&format=csv",
            query_string(&q)
        )
    };

    view! {
        <header class="topbar">
            <span class="brand">"Tally"</span>
            <span class="tagline">"usage metrics"</span>
            <LiveStrip tick=tick />
            <LogoutButton />
        </header>
        <main class="page" data-testid="board" data-ready=move || ready().to_string()>
            // The usage filters mean nothing to the System and Alerts views.
            <div class:hidden=move || !filters.get().uses_usage_filters()>
                <FilterBar
                    filters=filters
                    set_filters=set_filters
                    browser_tz=browser_tz.clone()
                    all_keys=all_keys
                    all_languages=all_languages
                />
            </div>
            <nav class="tabs" aria-label="Views">
                {std::iter::once(("", "Overview"))
                    .chain(VIEWS)
                    .map(|(view, label)| {
                        let active = move || filters.get().view == view;
                        view! {
                            <button
                                class="chip"
                                class:active=active
                                aria-pressed=move || active().to_string()
                                data-view=if view.is_empty() { "overview" } else { view }
                                on:click=move |_| {
                                    let mut next = filters.get_untracked();
                                    next.view = view.to_owned();
                                    set_view.with_value(|s| s(next));
                                }
                            >
                                {label}
                            </button>
                        }
                    })
                    .collect_view()}
            </nav>
            <Show
                when=move || filters.get().is_overview()
                fallback=move || {
                    let set_filters = move |f| set_view.with_value(|s| s(f));
                    match filters.get().view.as_str() {
                        "system" => view! {
                            <SystemMetricsView filters=filters tick=tick set_filters=set_filters />
                        }
                        .into_any(),
                        "alerts" => view! { <AlertsView tick=tick /> }.into_any(),
                        _ => view! {
                            <CustomMetricsView
                                filters=filters
                                query=query
                                tick=tick
                                set_filters=set_filters
                            />
                        }
                        .into_any(),
                    }
                }
            >
            <section class="cards" aria-label="Summary">
                {move || loaded(summary, "the summary", |s| view! { <SummaryCards summary=s /> })}
            </section>
            <section class="grid-3">
                <Panel title="Executions and errors" csv=Signal::derive(move || csv("time-series"))>
                    <Chart
                        id="executions"
                        label="Executions and errors over time"
                        spec=Signal::derive(move || {
                            series.get().and_then(Result::ok).map(|s| executions_chart(&s))
                        })
                    />
                    {move || error_of(series, "the time series")}
                </Panel>
                <Panel title="Success rate" csv=Signal::derive(move || csv("time-series"))>
                    <Chart
                        id="success"
                        label="Success rate over time"
                        spec=Signal::derive(move || {
                            series.get().and_then(Result::ok).map(|s| success_chart(&s))
                        })
                    />
                </Panel>
                <Panel title="Execution time" csv=Signal::derive(move || csv("time-series"))>
                    <Chart
                        id="duration"
                        label="Average and 95th percentile execution time"
                        spec=Signal::derive(move || {
                            series.get().and_then(Result::ok).map(|s| duration_chart(&s))
                        })
                    />
                </Panel>
            </section>
            <section class="grid-2">
                <Panel title="Languages by API key" csv=Signal::derive(move || csv("languages"))>
                    <Chart
                        id="languages"
                        label="Executions per language, stacked by API key"
                        spec=Signal::derive(move || {
                            languages
                                .get()
                                .and_then(Result::ok)
                                .map(|l| languages_chart(&l, &key_names.get()))
                        })
                    />
                    {move || error_of(languages, "languages")}
                </Panel>
                <Panel title="Top languages" csv=Signal::derive(move || csv("top-languages"))>
                    {move || loaded(top, "top languages", |t| view! { <TopLanguageBars top=t /> })}
                </Panel>
            </section>
            <Panel title="Activity by day and hour" csv=Signal::derive(move || csv("heatmap"))>
                <Chart
                    id="heatmap"
                    label="Executions by day of week and hour"
                    height=240
                    spec=Signal::derive(move || {
                        heatmap
                            .get()
                            .and_then(Result::ok)
                            .map(|h| ChartSpec::Heatmap {
                                rows: h.days.clone(),
                                columns: h.hours.iter().map(|h| format!("{h:02}")).collect(),
                                values: h
                                    .matrix
                                    .iter()
                                    .map(|row| row.iter().map(|v| *v as f64).collect())
                                    .collect(),
                            })
                    })
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
            <Panel title="API keys" csv=Signal::derive(move || csv("api-keys"))>
                {move || {
                    loaded(
                        keys,
                        "API keys",
                        move |k| {
                            // A key's name filters the board by that key.
                            let pick = Callback::new(move |key: String| {
                                let mut next = filters.get_untracked();
                                next.keys = vec![key];
                                set_view.with_value(|s| s(next));
                            });
                            view! { <KeyTable keys=k tick=tick pick=pick /> }
                        },
                    )
                }}
            </Panel>
            <Panel title="Execution queue" csv=Signal::derive(move || csv("summary"))>
                <QueuePanel
                    query=query
                    tick=tick
                    avg_wait_ms=Signal::derive(move || {
                        summary.get().and_then(Result::ok).map(|s| s.avg_queue_wait_ms)
                    })
                />
            </Panel>
            <section class="grid-halves">
                <Panel title="Container pool" csv=Signal::derive(move || csv("pool"))>
                    {move || loaded(pool, "pool statistics", |p| view! { <PoolPanel pool=p /> })}
                </Panel>
                <Panel title="API requests" csv=Signal::derive(move || csv("requests"))>
                    {move || {
                        loaded(requests, "request statistics", |r| view! { <RequestPanel stats=r /> })
                    }}
                </Panel>
            </section>
            </Show>
        </main>
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

/// A resource's view: a skeleton while loading, the error (logging out on
/// an expired session), or the rendered value.
pub(crate) fn loaded<T, V>(
    resource: Loaded<T>,
    what: &'static str,
    render: impl Fn(T) -> V,
) -> AnyView
where
    T: Clone + 'static,
    V: IntoView + 'static,
{
    match resource.get() {
        None => view! { <div class="skeleton" aria-busy="true" aria-label=format!("Loading {what}")></div> }
            .into_any(),
        Some(Err(error)) => failure(&error, what).into_any(),
        Some(Ok(value)) => render(value).into_any(),
    }
}

/// The resource's error, if it failed (logging out on an expired session).
pub(crate) fn error_of<T: Clone + 'static>(
    resource: Loaded<T>,
    what: &'static str,
) -> Option<AnyView> {
    match resource.get() {
        Some(Err(error)) => Some(failure(&error, what).into_any()),
        _ => None,
    }
}

fn failure(error: &AppError, what: &'static str) -> impl IntoView + use<> {
    if *error == AppError::Unauthenticated
        && let Some(auth) = use_context::<Auth>()
    {
        auth.expired();
    }
    view! {
        <p class="error" role="alert">
            {format!("Could not load {what}: {error}")}
        </p>
    }
}

#[component]
fn Panel(
    title: &'static str,
    #[prop(into)] csv: Signal<String>,
    children: Children,
) -> impl IntoView {
    view! {
        <section class="card panel">
            <header class="panel-head">
                <h2>{title}</h2>
                <a class="csv" href=move || csv.get() download aria-label=format!("Download {title} as CSV")>
                    "CSV"
                </a>
            </header>
            {children()}
        </section>
    }
}

#[component]
fn LogoutButton() -> impl IntoView {
    let auth = expect_context::<Auth>();
    view! {
        <button
            class="ghost"
            on:click=move |_| {
                leptos::task::spawn_local(async move {
                    let _ = logout().await;
                    auth.expired();
                });
            }
        >
            "Log out"
        </button>
    }
}

#[component]
fn LiveStrip(tick: RwSignal<u64>) -> impl IntoView {
    let live = LocalResource::new(move || {
        tick.track();
        get_live()
    });
    let health = LocalResource::new(move || {
        tick.track();
        get_health()
    });
    view! {
        <div class="live" aria-label="Live counters" aria-live="polite">
            {move || {
                live.get()
                    .and_then(Result::ok)
                    .map(|l| {
                        view! {
                            <span data-testid="live-minute" data-value=l.this_minute.executions>
                                <b>{group_thousands(l.this_minute.executions as f64)}</b>
                                " this minute"
                            </span>
                            <span data-testid="live-hour" data-value=l.this_hour.executions>
                                <b>{group_thousands(l.this_hour.executions as f64)}</b>
                                " this hour"
                            </span>
                            <span data-testid="live-today" data-value=l.today.executions>
                                <b>{group_thousands(l.today.executions as f64)}</b>
                                " today (UTC)"
                            </span>
                            {(!l.fresh).then(|| view! { <span class="muted">"(catching up)"</span> })}
                        }
                    })
            }}
            {move || {
                health
                    .get()
                    .and_then(Result::ok)
                    .map(|h| {
                        view! {
                            <span
                                class=format!("health health-{}", h.status)
                                data-testid="health-score"
                                data-value=h.overall_score
                                data-status=h.status.clone()
                                title=h.recommendations.join("\n")
                            >
                                "health "
                                <b>{h.overall_score}</b>
                                {format!(" {}", h.status)}
                            </span>
                        }
                    })
            }}
        </div>
    }
}

#[component]
fn FilterBar(
    filters: Memo<Filters>,
    set_filters: impl Fn(Filters) + Clone + Send + Sync + 'static,
    browser_tz: String,
    all_keys: Loaded<Vec<ApiKeyUsage>>,
    all_languages: Loaded<crate::types::Languages>,
) -> impl IntoView {
    let start = RwSignal::new(filters.get_untracked().start);
    let end = RwSignal::new(filters.get_untracked().end);
    let update = {
        let set_filters = set_filters.clone();
        move |change: &dyn Fn(&mut Filters)| {
            let mut next = filters.get_untracked();
            change(&mut next);
            set_filters(next);
        }
    };
    let update = StoredValue::new(update);
    let apply = move |f: &dyn Fn(&mut Filters)| update.with_value(|u| u(f));
    let mut zones: Vec<String> = ZONES.iter().map(|z| (*z).to_owned()).collect();
    if !zones.contains(&browser_tz) {
        zones.insert(0, browser_tz.clone());
    }
    let browser_label = format!("{browser_tz} (browser)");

    view! {
        <section class="card filters" aria-label="Filters">
            <div class="presets" role="group" aria-label="Period">
                {PERIODS
                    .iter()
                    .map(|(value, label)| {
                        let value = *value;
                        view! {
                            <button
                                class="chip"
                                class:active=move || {
                                    let f = filters.get();
                                    !f.is_custom() && f.period == value
                                }
                                aria-pressed=move || {
                                    let f = filters.get();
                                    (!f.is_custom() && f.period == value).to_string()
                                }
                                data-period=value
                                on:click=move |_| {
                                    apply(&|f| {
                                        f.period = value.to_owned();
                                        f.start.clear();
                                        f.end.clear();
                                    })
                                }
                            >
                                {*label}
                            </button>
                        }
                    })
                    .collect_view()}
            </div>
            <form
                class="range"
                on:submit=move |ev| {
                    ev.prevent_default();
                    let (s, e) = (start.get_untracked(), end.get_untracked());
                    if !s.is_empty() && !e.is_empty() {
                        apply(&|f| {
                            f.start = s.clone();
                            f.end = e.clone();
                        });
                    }
                }
            >
                <label>
                    "From "
                    <input
                        type="date"
                        prop:value=move || start.get()
                        on:input=move |ev| start.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "to "
                    <input
                        type="date"
                        prop:value=move || end.get()
                        on:input=move |ev| end.set(event_target_value(&ev))
                    />
                </label>
                <button type="submit" class="chip">"Apply"</button>
            </form>
            <details class="keys">
                <summary data-testid="key-filter">
                    {move || match filters.get().keys.len() {
                        0 => "All API keys".to_owned(),
                        1 => "1 API key".to_owned(),
                        n => format!("{n} API keys"),
                    }}
                </summary>
                <div class="key-list" role="group" aria-label="API keys">
                    {move || {
                        all_keys
                            .get()
                            .and_then(Result::ok)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|key| {
                                let hash = key.key_hash.clone();
                                let checked = {
                                    let hash = hash.clone();
                                    move || filters.get().keys.contains(&hash)
                                };
                                let toggle = hash.clone();
                                view! {
                                    <label class="check">
                                        <input
                                            type="checkbox"
                                            data-key=hash.clone()
                                            prop:checked=checked
                                            on:change=move |_| {
                                                let hash = toggle.clone();
                                                apply(&move |f| {
                                                    if let Some(i) = f.keys.iter().position(|k| *k == hash) {
                                                        f.keys.remove(i);
                                                    } else {
                                                        f.keys.push(hash.clone());
                                                    }
                                                })
                                            }
                                        />
                                        {key.name.clone().unwrap_or_else(|| hash.clone())}
                                        <code>{hash.clone()}</code>
                                    </label>
                                }
                            })
                            .collect_view()
                    }}
                </div>
            </details>
            <label>
                <span class="sr-only">"Tenant"</span>
                <select
                    aria-label="Tenant"
                    data-testid="tenant-filter"
                    on:change=move |ev| {
                        let value = event_target_value(&ev);
                        apply(&move |f| f.tenant = value.clone())
                    }
                >
                    <option value="" selected=move || filters.get().tenant.is_empty()>
                        "All tenants"
                    </option>
                    {move || {
                        let mut tenants: Vec<String> = all_keys
                            .get()
                            .and_then(Result::ok)
                            .unwrap_or_default()
                            .into_iter()
                            .filter_map(|k| k.tenant)
                            .collect();
                        let current = filters.get_untracked().tenant;
                        if !current.is_empty() {
                            tenants.push(current);
                        }
                        tenants.sort();
                        tenants.dedup();
                        tenants
                            .into_iter()
                            .map(|tenant| {
                                let selected = {
                                    let tenant = tenant.clone();
                                    move || filters.get().tenant == tenant
                                };
                                view! {
                                    <option value=tenant.clone() selected=selected>
                                        {tenant.clone()}
                                    </option>
                                }
                            })
                            .collect_view()
                    }}
                </select>
            </label>
            <label>
                <span class="sr-only">"Language"</span>
                <select
                    aria-label="Language"
                    data-testid="language-filter"
                    on:change=move |ev| {
                        let value = event_target_value(&ev);
                        apply(&move |f| f.language = value.clone())
                    }
                >
                    <option value="" selected=move || filters.get().language.is_empty()>
                        "All languages"
                    </option>
                    {move || {
                        all_languages
                            .get()
                            .and_then(Result::ok)
                            .map(|l| l.by_language.into_keys().collect::<Vec<_>>())
                            .unwrap_or_default()
                            .into_iter()
                            .map(|language| {
                                let selected = {
                                    let language = language.clone();
                                    move || filters.get().language == language
                                };
                                view! {
                                    <option value=language.clone() selected=selected>
                                        {language.clone()}
                                    </option>
                                }
                            })
                            .collect_view()
                    }}
                </select>
            </label>
            <label>
                <span class="sr-only">"Time zone"</span>
                <select
                    aria-label="Time zone"
                    on:change=move |ev| {
                        let value = event_target_value(&ev);
                        apply(&move |f| f.tz = value.clone())
                    }
                >
                    <option value="" selected=move || filters.get().tz.is_empty()>
                        {browser_label}
                    </option>
                    {zones
                        .into_iter()
                        .map(|zone| {
                            let selected = {
                                let zone = zone.clone();
                                move || filters.get().tz == zone
                            };
                            view! {
                                <option value=zone.clone() selected=selected>
                                    {zone.clone()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <label class="check">
                <input
                    type="checkbox"
                    data-testid="compare"
                    prop:checked=move || filters.get().compare
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        apply(&move |f| f.compare = on)
                    }
                />
                "Compare with previous period"
            </label>
            <label>
                "Refresh "
                <select
                    aria-label="Auto-refresh"
                    on:change=move |ev| {
                        let value = event_target_value(&ev).parse().unwrap_or(0);
                        apply(&move |f| f.refresh = value)
                    }
                >
                    {REFRESH
                        .iter()
                        .map(|(seconds, label)| {
                            let seconds = *seconds;
                            view! {
                                <option
                                    value=seconds.to_string()
                                    selected=move || filters.get().refresh == seconds
                                >
                                    {*label}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
        </section>
    }
}

/// `+12.5 %` against the previous value, or nothing when there is none.
fn change(now: f64, before: Option<f64>) -> Option<(String, bool)> {
    let before = before?;
    if before == 0.0 {
        return (now != 0.0).then(|| ("new".to_owned(), true));
    }
    let pct = 100.0 * (now - before) / before;
    Some((
        format!("{}{pct:.1} %", if pct >= 0.0 { "+" } else { "" }),
        pct >= 0.0,
    ))
}

#[component]
fn SummaryCards(summary: Summary) -> impl IntoView {
    if summary.total_executions == 0 {
        return view! {
            <div class="empty" data-testid="empty-summary">
                <p>
                    <b>"No executions in this period."</b>
                </p>
                <p class="muted">
                    "Widen the period or clear the filters, or send events to "
                    <code>"POST /api/v1/events/executions"</code> "."
                </p>
            </div>
        }
        .into_any();
    }
    let previous = summary.previous.as_deref().cloned();
    let p = |f: fn(&Summary) -> f64| previous.as_ref().map(f);
    let p95 = summary.p95_execution_time_ms.unwrap_or(0.0);
    // (title, test id, shown value, raw value, change, whether up is good)
    type Card = (
        &'static str,
        &'static str,
        String,
        f64,
        Option<(String, bool)>,
        bool,
    );
    let cards: Vec<Card> = vec![
        (
            "Executions",
            "card-total",
            group_thousands(summary.total_executions as f64),
            summary.total_executions as f64,
            change(
                summary.total_executions as f64,
                p(|s| s.total_executions as f64),
            ),
            true,
        ),
        (
            "Success rate",
            "card-success-rate",
            format!("{:.1} %", summary.success_rate),
            summary.success_rate,
            change(summary.success_rate, p(|s| s.success_rate)),
            true,
        ),
        (
            "Failures + timeouts",
            "card-errors",
            group_thousands((summary.failure_count + summary.timeout_count) as f64),
            (summary.failure_count + summary.timeout_count) as f64,
            change(
                (summary.failure_count + summary.timeout_count) as f64,
                p(|s| (s.failure_count + s.timeout_count) as f64),
            ),
            false,
        ),
        (
            "Avg time",
            "card-avg-time",
            format!("{} ms", group_thousands(summary.avg_execution_time_ms)),
            summary.avg_execution_time_ms,
            change(
                summary.avg_execution_time_ms,
                p(|s| s.avg_execution_time_ms),
            ),
            false,
        ),
        (
            "p95 time",
            "card-p95",
            format!("{} ms", group_thousands(p95)),
            p95,
            change(p95, p(|s| s.p95_execution_time_ms.unwrap_or(0.0))),
            false,
        ),
        (
            "Pool hit rate",
            "card-pool-hit",
            format!("{:.1} %", summary.pool_hit_rate),
            summary.pool_hit_rate,
            change(summary.pool_hit_rate, p(|s| s.pool_hit_rate)),
            true,
        ),
        (
            "Active API keys",
            "card-active-keys",
            summary.active_api_keys.to_string(),
            summary.active_api_keys as f64,
            change(
                summary.active_api_keys as f64,
                p(|s| s.active_api_keys as f64),
            ),
            true,
        ),
    ];
    cards
        .into_iter()
        .map(|(title, id, text, value, delta, up_is_good)| {
            view! {
                <div class="card stat" data-testid=id data-value=value.to_string()>
                    <div class="stat-title">{title}</div>
                    <div class="stat-value">{text}</div>
                    {delta
                        .map(|(text, up)| {
                            let good = up == up_is_good;
                            view! {
                                <div class="stat-change" class:good=good class:bad=!good>
                                    {text}
                                    " vs previous"
                                </div>
                            }
                        })}
                </div>
            }
        })
        .collect_view()
        .into_any()
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

fn executions_chart(s: &TimeSeries) -> ChartSpec {
    let mut series = vec![
        Series {
            name: "executions".into(),
            values: as_f64(&s.executions),
            color: 0,
            faint: false,
        },
        Series {
            name: "errors".into(),
            values: as_f64(&s.errors),
            color: 1,
            faint: false,
        },
    ];
    if let Some(previous) = &s.previous {
        series.push(Series {
            name: "previous period".into(),
            values: as_f64(&previous.executions),
            color: 0,
            faint: true,
        });
    }
    ChartSpec::Lines {
        labels: short_labels(s),
        series,
        unit: String::new(),
    }
}

fn success_chart(s: &TimeSeries) -> ChartSpec {
    let mut series = vec![Series {
        name: "success".into(),
        values: where_any(&s.success_rate, &s.executions),
        color: 2,
        faint: false,
    }];
    if let Some(previous) = &s.previous {
        series.push(Series {
            name: "previous period".into(),
            values: where_any(&previous.success_rate, &previous.executions),
            color: 2,
            faint: true,
        });
    }
    ChartSpec::Lines {
        labels: short_labels(s),
        series,
        unit: " %".into(),
    }
}

fn duration_chart(s: &TimeSeries) -> ChartSpec {
    let series = vec![
        Series {
            name: "average".into(),
            values: where_any(&s.avg_duration, &s.executions),
            color: 3,
            faint: false,
        },
        Series {
            name: "p95".into(),
            values: s.p95_duration.clone(),
            color: 4,
            faint: false,
        },
    ];
    ChartSpec::Lines {
        labels: short_labels(s),
        series,
        unit: " ms".into(),
    }
}

/// The ten biggest languages, stacked by key (named where a name is known).
fn languages_chart(l: &crate::types::Languages, names: &BTreeMap<String, String>) -> ChartSpec {
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

#[component]
fn TopLanguageBars(top: crate::types::TopLanguages) -> impl IntoView {
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
    view! {
        <ol class="bars">
            {top
                .languages
                .into_iter()
                .map(|l| {
                    let width = format!("width:{:.1}%", 100.0 * l.count as f64 / max);
                    view! {
                        <li data-testid="top-language" data-language=l.language.clone() data-value=l.count>
                            <span class="bar-label">{l.language.clone()}</span>
                            <span class="bar-track">
                                <span class="bar-fill" style=width></span>
                            </span>
                            <span class="bar-value">{group_thousands(l.count as f64)}</span>
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
    .into_any()
}

/// A column of the API-key table: header, and the value of a row.
type KeyColumn = (&'static str, fn(&ApiKeyUsage) -> f64);

const KEY_COLUMNS: [KeyColumn; 8] = [
    ("Executions", |k| k.usage_count as f64),
    ("Success %", |k| {
        if k.usage_count > 0 {
            100.0 * k.success_count as f64 / k.usage_count as f64
        } else {
            0.0
        }
    }),
    ("Errors", |k| k.error_count as f64),
    ("CPU s", |k| k.cpu_time_ms / 1000.0),
    ("Memory MB·s", |k| k.memory_mb_seconds),
    ("Files out", |k| k.files_generated as f64),
    ("Output MB", |k| k.output_bytes as f64 / 1e6),
    ("API requests", |k| k.api_requests as f64),
];

#[component]
fn KeyTable(keys: Vec<ApiKeyUsage>, tick: RwSignal<u64>, pick: Callback<String>) -> impl IntoView {
    if keys.is_empty() {
        return view! {
            <p class="empty muted">"No API keys yet: they appear with the first events that carry one."</p>
        }
        .into_any();
    }
    // (column, descending); column `None` sorts by name.
    let sort = RwSignal::new((Some(0usize), true));
    let rows = move || {
        let (column, descending) = sort.get();
        let mut rows = keys.clone();
        match column {
            Some(c) => rows.sort_by(|a, b| KEY_COLUMNS[c].1(a).total_cmp(&KEY_COLUMNS[c].1(b))),
            None => rows.sort_by(|a, b| a.key_prefix.cmp(&b.key_prefix)),
        }
        if descending {
            rows.reverse();
        }
        rows
    };
    let header = move |column: Option<usize>, title: &'static str| {
        let aria = move || {
            let (c, d) = sort.get();
            if c == column {
                if d { "descending" } else { "ascending" }
            } else {
                "none"
            }
        };
        view! {
            <th aria-sort=aria scope="col">
                <button
                    class="sort"
                    on:click=move |_| {
                        sort.update(|(c, d)| {
                            if *c == column {
                                *d = !*d;
                            } else {
                                *c = column;
                                *d = column.is_some();
                            }
                        })
                    }
                >
                    {title}
                </button>
            </th>
        }
    };
    view! {
        <div class="table-wrap">
            <table class="data" data-testid="key-table">
                <thead>
                    <tr>
                        {header(None, "API key")}
                        <th scope="col">"Tenant"</th>
                        {KEY_COLUMNS
                            .iter()
                            .enumerate()
                            .map(|(i, (title, _))| header(Some(i), title))
                            .collect_view()}
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        rows()
                            .into_iter()
                            .map(|k| {
                                let cells: Vec<String> = KEY_COLUMNS
                                    .iter()
                                    .map(|(_, value)| group_thousands(value(&k)))
                                    .collect();
                                view! {
                                    <tr data-testid="key-row" data-key=k.key_hash.clone() data-usage=k.usage_count>
                                        <th scope="row">
                                            <button
                                                type="button"
                                                class="link"
                                                data-testid="key-link"
                                                title="Show this key only"
                                                on:click={
                                                    let key = k.key_hash.clone();
                                                    move |_| pick.run(key.clone())
                                                }
                                            >
                                                {k.name.clone().unwrap_or_default()}
                                                " "
                                                <code>{k.key_hash.clone()}</code>
                                            </button>
                                        </th>
                                        <td>
                                            <TenantCell key=k.key_hash.clone() tenant=k.tenant.clone().unwrap_or_default() tick=tick />
                                        </td>
                                        {cells.into_iter().map(|c| view! { <td>{c}</td> }).collect_view()}
                                    </tr>
                                }
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// A key's tenant, editable in place: Enter or leaving the field saves it
/// (empty: out of its tenant), then the board reloads.
#[component]
fn TenantCell(key: String, tenant: String, tick: RwSignal<u64>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let saved = StoredValue::new(tenant.clone());
    let save = move |value: String| {
        if value.trim() == saved.get_value() {
            return;
        }
        let key = key.clone();
        leptos::task::spawn_local(async move {
            match crate::api::set_key_tenant(key, value.clone()).await {
                Ok(_) => {
                    saved.set_value(value.trim().to_owned());
                    error.set(None);
                    tick.update(|t| *t += 1);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let save = StoredValue::new(save);
    view! {
        <input
            class="tenant"
            data-testid="tenant-input"
            aria-label="Tenant"
            placeholder="—"
            maxlength="64"
            value=tenant
            aria-invalid=move || error.get().is_some().to_string()
            title=move || error.get().unwrap_or_else(|| "Tenant of this key: Enter saves, empty removes".to_owned())
            on:change=move |ev| {
                let value = event_target_value(&ev);
                save.with_value(|s| s(value));
            }
        />
    }
}

#[component]
fn PoolPanel(pool: crate::types::PoolStats) -> impl IntoView {
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
        <div class="table-wrap">
            <table class="data">
                <caption>"Cold-start cost: average execution time by container source"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Language"</th>
                        <th scope="col">"Pool hit"</th>
                        <th scope="col">"Pool miss"</th>
                        <th scope="col">"Penalty"</th>
                    </tr>
                </thead>
                <tbody>
                    {pool
                        .cold_start_cost
                        .into_iter()
                        .map(|c| {
                            view! {
                                <tr>
                                    <th scope="row">{c.language}</th>
                                    <td>{format!("{} ms ({})", group_thousands(c.avg_ms_pool_hit), c.pool_hit_executions)}</td>
                                    <td>{format!("{} ms ({})", group_thousands(c.avg_ms_pool_miss), c.pool_miss_executions)}</td>
                                    <td>{format!("{} ms", group_thousands(c.cold_start_penalty_ms))}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn RequestPanel(stats: crate::types::RequestStats) -> impl IntoView {
    let ms =
        |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{} ms", group_thousands(v)));
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
        <div class="table-wrap">
            <table class="data">
                <thead>
                    <tr>
                        <th scope="col">"Endpoint"</th>
                        <th scope="col">"Requests"</th>
                        <th scope="col">"5xx %"</th>
                        <th scope="col">"p50"</th>
                        <th scope="col">"p95"</th>
                        <th scope="col">"p99"</th>
                    </tr>
                </thead>
                <tbody>
                    {stats
                        .endpoints
                        .into_iter()
                        .map(|e| {
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
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
