//! The dashboard proper: a header with the live counters, the filter bar,
//! the tabs and the chosen tab. Every widget loads through a server
//! function with the filters from the URL, and reloads on auto-refresh.
//! A key's page (`/monitoring/keys/{hash16}`) is the same overview with its
//! key in place of the key filter, under a heading naming the key.
//! This module only wires the parts together:
//!
//! * [`filter_bar`]: the usage filters and the tabs.
//! * [`key_heading`]: the heading of a key's page.
//! * [`live_strip`]: the header's live counters, health and log-out button.
//! * [`overview`]: the Overview tab, built from [`cards`], [`key_table`] and
//!   [`panels`], its charts drawn from [`chart_specs`].
//! * [`custom`], [`system`], [`alerts`]: the other tabs.

mod alerts;
mod cards;
mod chart_specs;
mod custom;
mod filter_bar;
mod key_heading;
mod key_table;
mod live_strip;
mod overview;
mod panels;
mod system;

use leptos::prelude::*;

use self::{
    alerts::AlertsView,
    custom::CustomMetricsView,
    filter_bar::{FilterBar, ViewTabs},
    key_heading::KeyHeading,
    live_strip::{LiveStrip, LogoutButton},
    overview::{Loads, Overview},
    system::SystemMetricsView,
};
use crate::{
    api::{get_api_keys, get_languages},
    browser,
    filters::{Filters, Page, View},
    location::{Location, Route},
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

/// The board of every key (`/monitoring`) or of one (`/monitoring/keys/{hash16}`).
#[component]
pub fn Board() -> impl IntoView {
    let location = expect_context::<Location>();
    let page = Memo::new(move |_| {
        Page::from_key_param(match location.route() {
            Route::Key(key) => Some(key),
            Route::Board | Route::NotFound => None,
        })
    });
    move || match page.get() {
        Ok(page) => view! { <BoardOf page=page /> }.into_any(),
        Err(message) => view! {
            <main class="page">
                <p class="error" role="alert">{message}</p>
                <a href="/monitoring">"All API keys"</a>
            </main>
        }
        .into_any(),
    }
}

#[component]
fn BoardOf(page: Page) -> impl IntoView {
    let location = expect_context::<Location>();
    let filters = {
        let page = page.clone();
        Memo::new(move |_| {
            let here = location.get();
            page.scope(Filters::from_params(|k| here.param(k)))
        })
    };
    let browser_tz = browser::time_zone();
    let query = {
        let browser_tz = browser_tz.clone();
        Memo::new(move |_| filters.get().to_query(&browser_tz))
    };
    let state = FilterState {
        current: filters,
        navigate: {
            let page = page.clone();
            Callback::new(move |next: Filters| location.navigate(&page.url(&next)))
        },
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
            <h1 class="title">
                <span class="brand">"Tally"</span>
                " "
                <span class="tagline">"usage metrics"</span>
            </h1>
            <LiveStrip tick=tick />
            <LogoutButton />
        </header>
        <main class="page" data-testid="board" data-ready=move || overview.ready().to_string()>
            // The usage filters mean nothing to the System and Alerts views.
            {match &page {
                Page::Key(key) => {
                    view! { <KeyHeading key=key.clone() filters=state all_keys=all_keys /> }
                        .into_any()
                }
                Page::Board => ().into_any(),
            }}
            <div class:hidden=move || !view.get().uses_usage_filters()>
                <FilterBar
                    filters=state
                    browser_tz=browser_tz.clone()
                    all_keys=all_keys
                    all_languages=all_languages
                    key_filter=page == Page::Board
                />
            </div>
            // A key's page is its overview only.
            {(page == Page::Board).then(|| view! { <ViewTabs filters=state /> })}
            {move || match view.get() {
                View::Overview => {
                    view! {
                        <Overview
                            loads=overview
                            page=page.clone()
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
