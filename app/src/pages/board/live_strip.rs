//! The header's right-hand side: live execution counters, the health score
//! and the log-out button.

use leptos::prelude::*;

use crate::{
    api::{get_health, get_live, logout},
    charts::group_thousands,
    session::Auth,
    ui::{Tick, reloading},
};

#[component]
pub(super) fn LogoutButton() -> impl IntoView {
    let auth = expect_context::<Auth>();
    // The page locks again whatever the server answered: at worst the
    // session cookie outlives the page, and the next call says so.
    let log_out = Action::new_local(move |_: &()| async move {
        let _ = logout().await;
        auth.expired();
    });
    view! {
        <button class="ghost" on:click=move |_| {
            log_out.dispatch(());
        }>"Log out"</button>
    }
}

#[component]
pub(super) fn LiveStrip(tick: Tick) -> impl IntoView {
    let live = reloading(tick, || (), |()| get_live());
    let health = reloading(tick, || (), |()| get_health());
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
