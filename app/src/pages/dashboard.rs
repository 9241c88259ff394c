//! `/monitoring` and `/monitoring/keys/{hash16}`: the login form until the
//! caller has a session, then the board (of every key, or of one).

use leptos::prelude::*;

use super::board::Board;
use crate::{api::login, session::Auth};

#[component]
pub fn Dashboard() -> impl IntoView {
    let auth = expect_context::<Auth>();

    view! {
        {move || match auth.0.get() {
            None => view! { <div class="page page-centered muted">"Loading…"</div> }.into_any(),
            Some(false) => view! { <Login /> }.into_any(),
            Some(true) => view! { <Board /> }.into_any(),
        }}
    }
}

#[component]
fn Login() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let key = RwSignal::new(String::new());
    // What is wrong with the form before asking the server, if anything.
    let hint = RwSignal::new(None::<String>);
    let log_in = Action::new_local(move |entered: &String| {
        let entered = entered.clone();
        async move {
            let answer = login(entered).await;
            hint.set(None);
            if answer.is_ok() {
                key.set(String::new());
                auth.0.set(Some(true));
            }
            answer
        }
    });
    let answer = log_in.value();
    let error = move || {
        hint.get().or_else(|| match answer.get() {
            Some(Err(e)) => Some(e.to_string()),
            _ => None,
        })
    };
    let busy = log_in.pending();

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let entered = key.get_untracked();
        if entered.trim().is_empty() {
            hint.set(Some("Enter the master key.".to_owned()));
            return;
        }
        log_in.dispatch(entered);
    };

    view! {
        <main class="login">
            <form class="card login-card" on:submit=submit>
                <h1>
                    <span class="brand">"Tally"</span>
                    " monitoring"
                </h1>
                <p class="muted">"Log in with the master key of this Tally instance."</p>
                <label for="master-key">"Master key"</label>
                <input
                    id="master-key"
                    name="master-key"
                    type="password"
                    autocomplete="current-password"
                    required
                    prop:value=move || key.get()
                    on:input=move |ev| key.set(event_target_value(&ev))
                />
                {move || {
                    error()
                        .map(|message| {
                            view! {
                                <p class="error" role="alert" data-testid="login-error">
                                    {message}
                                </p>
                            }
                        })
                }}
                <button type="submit" class="primary" disabled=move || busy.get()>
                    {move || if busy.get() { "Checking…" } else { "Log in" }}
                </button>
            </form>
        </main>
    }
}
