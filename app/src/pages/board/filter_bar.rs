//! The usage filters (period, range, keys, tenant, language, time zone,
//! comparison, auto-refresh) and the tabs. Both change the URL only: the
//! board reads its filters from there.

use leptos::prelude::*;

use super::FilterState;
use crate::{
    filters::{Filters, PERIODS, REFRESH, View},
    types::{ApiKeyUsage, Languages},
    ui::{Loaded, keyed},
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

#[component]
pub(super) fn ViewTabs(filters: FilterState) -> impl IntoView {
    view! {
        <nav class="tabs" aria-label="Views">
            {View::ALL
                .into_iter()
                .map(|view| {
                    let active = move || filters.get().view == view;
                    view! {
                        <button
                            class="chip"
                            class:active=active
                            aria-pressed=move || active().to_string()
                            data-view=view.id()
                            on:click=move |_| filters.update(|f| f.view = view)
                        >
                            {view.label()}
                        </button>
                    }
                })
                .collect_view()}
        </nav>
    }
}

/// The tenants to offer: those of the keys, and the chosen one.
fn tenant_choices(keys: Vec<ApiKeyUsage>, current: String) -> Vec<String> {
    let mut tenants: Vec<String> = keys.into_iter().filter_map(|k| k.tenant).collect();
    if !current.is_empty() {
        tenants.push(current);
    }
    crate::order::sort_dedup(&mut tenants);
    tenants
}

/// A `<select>` option chosen while `chosen` says so.
fn choice(value: String, chosen: impl Fn(&str) -> bool + Send + 'static) -> impl IntoView {
    let selected = {
        let value = value.clone();
        move || chosen(&value)
    };
    let text = value.clone();
    view! {
        <option value=value selected=selected>
            {text}
        </option>
    }
}

#[component]
pub(super) fn FilterBar(
    filters: FilterState,
    browser_tz: String,
    all_keys: Loaded<Vec<ApiKeyUsage>>,
    all_languages: Loaded<Languages>,
    /// Whether to offer the key filter (not on a key's page).
    key_filter: bool,
) -> impl IntoView {
    let start = RwSignal::new(filters.untracked().start);
    let end = RwSignal::new(filters.untracked().end);
    let mut zones: Vec<String> = ZONES.iter().map(|z| (*z).to_owned()).collect();
    if !zones.contains(&browser_tz) {
        zones.insert(0, browser_tz.clone());
    }
    let browser_label = format!("{browser_tz} (browser)");
    let keys = move || all_keys.get().and_then(Result::ok).unwrap_or_default();
    let tenants = move || tenant_choices(keys(), filters.untracked().tenant);
    let languages = move || {
        all_languages
            .get()
            .and_then(Result::ok)
            .map(|l| l.by_language.into_keys().collect::<Vec<_>>())
            .unwrap_or_default()
    };

    view! {
        <section class="card filters" aria-label="Filters">
            <div class="presets" role="group" aria-label="Period">
                {PERIODS
                    .iter()
                    .map(|(value, label)| {
                        let value = *value;
                        let active = move || {
                            let f = filters.get();
                            !f.is_custom() && f.period == value
                        };
                        view! {
                            <button
                                class="chip"
                                class:active=active
                                aria-pressed=move || active().to_string()
                                data-period=value
                                on:click=move |_| {
                                    filters
                                        .update(|f| {
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
                        filters
                            .update(|f| {
                                f.start = s;
                                f.end = e;
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
            {key_filter
                .then(|| {
                    view! {
                            <details class="keys">
                                <summary data-testid="key-filter">
                                    {move || match filters.get().keys.len() {
                                        0 => "All API keys".to_owned(),
                                        1 => "1 API key".to_owned(),
                                        n => format!("{n} API keys"),
                                    }}
                                </summary>
                                <div class="key-list" role="group" aria-label="API keys">
                                    // Keyed by name too: a renamed key is drawn again.
                                    {keyed(
                                        keys,
                                        |k| format!("{} {:?}", k.key_hash, k.name),
                                        move |key| view! { <KeyChoice key=key filters=filters /> },
                                    )}
                                </div>
                            </details>
                    }
                })}
            <FilterSelect
                label="Tenant"
                testid="tenant-filter"
                all="All tenants"
                choices=Signal::derive(tenants)
                get=|f| &f.tenant
                set=|f, tenant| f.tenant = tenant
                filters=filters
            />
            <FilterSelect
                label="Language"
                testid="language-filter"
                all="All languages"
                choices=Signal::derive(languages)
                get=|f| &f.language
                set=|f, language| f.language = language
                filters=filters
            />
            <label>
                <span class="sr-only">"Time zone"</span>
                <select
                    aria-label="Time zone"
                    on:change=move |ev| {
                        let value = event_target_value(&ev);
                        filters.update(|f| f.tz = value)
                    }
                >
                    <option value="" selected=move || filters.get().tz.is_empty()>
                        {browser_label}
                    </option>
                    {zones
                        .into_iter()
                        .map(|zone| choice(zone, move |z| filters.get().tz == z))
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
                        filters.update(|f| f.compare = on)
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
                        filters.update(|f| f.refresh = value)
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

/// The `<select>` of one usage filter: every value (empty) or one of
/// `choices`; `get` and `set` name the filter.
#[component]
fn FilterSelect(
    label: &'static str,
    testid: &'static str,
    /// The label of the empty choice.
    all: &'static str,
    choices: Signal<Vec<String>>,
    get: fn(&Filters) -> &String,
    set: fn(&mut Filters, String),
    filters: FilterState,
) -> impl IntoView {
    view! {
        <label>
            <span class="sr-only">{label}</span>
            <select
                aria-label=label
                data-testid=testid
                on:change=move |ev| {
                    let value = event_target_value(&ev);
                    filters.update(|f| set(f, value))
                }
            >
                <option value="" selected=move || get(&filters.get()).is_empty()>
                    {all}
                </option>
                {keyed(
                    move || choices.get(),
                    String::clone,
                    move |value| choice(value, move |v| get(&filters.get()) == v),
                )}
            </select>
        </label>
    }
}

/// A key's checkbox in the key filter.
#[component]
fn KeyChoice(key: ApiKeyUsage, filters: FilterState) -> impl IntoView {
    let hash = key.key_hash;
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
                    filters
                        .update(|f| {
                            if let Some(i) = f.keys.iter().position(|k| *k == toggle) {
                                f.keys.remove(i);
                            } else {
                                f.keys.push(toggle.clone());
                            }
                        })
                }
            />
            {key.name.unwrap_or_else(|| hash.clone())}
            <code>{hash}</code>
        </label>
    }
}
