//! How a widget shows data that is not there yet, or could not be loaded.

use leptos::prelude::*;

use super::Loaded;
use crate::{error::AppError, session::Auth};

/// A resource's view: a placeholder while loading, the error (logging out
/// on an expired session), or the rendered value.
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
        None => loading(what).into_any(),
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

/// The skeleton shown in place of a widget whose data is on its way.
fn loading(what: &'static str) -> impl IntoView + use<> {
    view! { <div class="skeleton" aria-busy="true" aria-label=format!("Loading {what}")></div> }
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
