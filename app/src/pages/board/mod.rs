//! The dashboard proper: a header with the live counters, the filter bar,
//! the tabs and the chosen tab. Every widget loads through a server
//! function with the filters from the URL, and reloads on auto-refresh.
//! This module only wires the parts together:
//!
//! * [`filter_bar`]: the usage filters and the tabs.
//! * [`live_strip`]: the header's live counters, health and log-out button.
//! * [`overview`]: the Overview tab, built from [`cards`], [`key_table`] and
//!   [`panels`], its charts drawn from [`chart_specs`].
//! * [`custom`], [`system`], [`alerts`]: the other tabs.

mod alerts;
mod cards;
mod chart_specs;
mod custom;
mod filter_bar;
mod key_table;
mod live_strip;
mod overview;
mod panels;
mod system;

use leptos::prelude::*;
use leptos_router::{
    NavigateOptions,
    hooks::{use_navigate, use_query_map},
};

use self::{
    alerts::AlertsView,
    custom::CustomMetricsView,
    filter_bar::{FilterBar, ViewTabs},
    live_strip::{LiveStrip, LogoutButton},
    overview::{Loads, Overview},
    system::SystemMetricsView,
};
use crate::{
    api::{get_api_keys, get_languages},
    browser,
    filters::{Filters, View},
    types::MetricsQuery,
    ui::{Tick, reloading},
};

/// The board's filters, read from the URL, and the way to change them:
/// navigating to the URL of the new ones.
#[derive(Clone, Copy)]
struct FilterState {
    current: Memo<Filters>,
    navigate: Callback<Filters>,
}

impl FilterState {
    /// The filters, tracked.
    fn get(self) -> Filters {
        self.current.get()
    }

    /// The filters, untracked.
    fn untracked(self) -> Filters {
        self.current.get_untracked()
    }

    /// Changes the current filters with `change`.
    fn update(self, change: impl FnOnce(&mut Filters)) {
        let mut next = self.untracked();
        change(&mut next);
        self.navigate.run(next);
    }
}

/// The query of the filter choices: every key and language of the year.
fn whole_year() -> MetricsQuery {
    MetricsQuery {
        period: Some("year".to_owned()),
        ..MetricsQuery::default()
    }
}

/// Bumps `tick` at the chosen auto-refresh interval.
fn auto_refresh(filters: Memo<Filters>, tick: Tick) {
    Effect::new(move |_| {
        let f = filters.get();
        // Views without the filter bar refresh on their own every 30 s.
        let seconds = if f.view.uses_usage_filters() {
            f.refresh
        } else {
            30
        };
        if seconds == 0 {
            return;
        }
        if let Ok(handle) = set_interval_with_handle(
            move || tick.bump(),
            std::time::Duration::from_secs(u64::from(seconds)),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
}

#[component]
pub fn Board() -> impl IntoView {
    let params = use_query_map();
    let filters = Memo::new(move |_| params.with(|p| Filters::from_params(|k| p.get(k))));
    let browser_tz = browser::time_zone();
    let query = {
        let browser_tz = browser_tz.clone();
        Memo::new(move |_| filters.get().to_query(&browser_tz))
    };
    let navigate = use_navigate();
    let state = FilterState {
        current: filters,
        navigate: Callback::new(move |next: Filters| {
            navigate(
                &format!("/monitoring?{}", next.to_query_string()),
                NavigateOptions::default(),
            );
        }),
    };
    // Bumped by auto-refresh: every widget reloads.
    let tick = Tick::new();
    auto_refresh(filters, tick);
    // The tab is drawn again when it changes, not with every filter.
    let view = Memo::new(move |_| filters.get().view);

    let all_keys = reloading(tick, whole_year, get_api_keys);
    let all_languages = reloading(tick, whole_year, get_languages);
    let overview = Loads::new(query, tick);

    view! {
        <header class="topbar">
            <span class="brand">"Tally"</span>
            <span class="tagline">"usage metrics"</span>
            <LiveStrip tick=tick />
            <LogoutButton />
        </header>
        <main class="page" data-testid="board" data-ready=move || overview.ready().to_string()>
            // The usage filters mean nothing to the System and Alerts views.
            <div class:hidden=move || !view.get().uses_usage_filters()>
                <FilterBar
                    filters=state
                    browser_tz=browser_tz.clone()
                    all_keys=all_keys
                    all_languages=all_languages
                />
            </div>
            <ViewTabs filters=state />
            {move || match view.get() {
                View::Overview => {
                    view! {
                        <Overview
                            loads=overview
                            filters=state
                            query=query
                            tick=tick
                            all_keys=all_keys
                        />
                    }
                        .into_any()
                }
                View::Custom => {
                    view! { <CustomMetricsView filters=state query=query tick=tick /> }
                        .into_any()
                }
                View::System => {
                    view! { <SystemMetricsView filters=state tick=tick /> }.into_any()
                }
                View::Alerts => view! { <AlertsView tick=tick /> }.into_any(),
            }}
        </main>
    }
}
