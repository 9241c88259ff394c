//! The Tally dashboard and the contract between it and the server.
//!
//! * [`types`]: request and response types shared by the browser and the
//!   server, so both agree by construction.
//! * [`error`]: [`error::AppError`], the one error of the application layer,
//!   carried by every server function and matched by the dashboard.
//! * [`api`]: `#[server]` functions the dashboard calls. Their bodies (built
//!   with the `ssr` feature) are thin: they hand the work to a [`backend::Backend`]
//!   the server provides as Leptos context.
//! * [`App`]: the `/monitoring` single-page application (built with `csr`):
//!   its pages under `pages`, the building blocks they share under `ui`.

pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
mod browser;
pub mod charts;
pub mod error;
pub mod filters;
mod location;
mod order;
mod pages;
mod session;
pub mod types;
mod ui;

use leptos::prelude::*;

use crate::location::{Location, Route};

/// The root component mounted by the `frontend` crate.
#[component]
pub fn App() -> impl IntoView {
    // Asked once, above the routes: moving between the board and a key's
    // page keeps the session.
    provide_context(session::Auth::ask());
    let location = Location::follow();
    provide_context(location);
    // Drawn again when the page changes between found and not found only:
    // the board follows its key and filters itself.
    let found = Memo::new(move |_| location.route() != Route::NotFound);
    move || {
        if found.get() {
            view! { <pages::Dashboard /> }.into_any()
        } else {
            view! { <pages::NotFound /> }.into_any()
        }
    }
}
