//! `/monitoring`: the login form until the caller has a session, then the
//! board.

use leptos::prelude::*;

use crate::{
    api::{login, whoami},
    pages::board::Board,
};

/// Whether the viewer is logged in: `None` while asking the server.
#[derive(Clone, Copy)]
pub struct Auth(pub RwSignal<Option<bool>>);

impl Auth {
    /// Called when a server function answers `AppError::Unauthenticated`.
    pub fn expired(&self) {
        self.0.set(Some(false));
    }
}

#[component]
pub fn Dashboard() -> impl IntoView {
    let auth = Auth(RwSignal::new(None));
    provide_context(auth);
    // Ask once: is there a session already?
    leptos::task::spawn_local(async move {
        auth.0.set(Some(whoami().await.unwrap_or(false)));
    });

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
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let entered = key.get_untracked();
        if entered.trim().is_empty() {
            error.set(Some("Enter the master key.".to_owned()));
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            match login(entered).await {
                Ok(()) => {
                    key.set(String::new());
                    error.set(None);
                    auth.0.set(Some(true));
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
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
                    error
                        .get()
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
