//! The heading of a key's page: which key (its name, hash prefix and
//! tenant), and the way back to the board of every key with the same
//! filters.

use leptos::prelude::*;

use super::FilterState;
use crate::{filters::Page, types::ApiKeyUsage, ui::Loaded};

#[component]
pub(super) fn KeyHeading(
    /// The key's 16 hex digits.
    key: String,
    filters: FilterState,
    /// Every key of the year, for the key's name and tenant.
    all_keys: Loaded<Vec<ApiKeyUsage>>,
) -> impl IntoView {
    let back = move || {
        let mut board = filters.get();
        board.keys.clear();
        Page::Board.url(&board)
    };
    // `None` while loading; then the key's row, if it had events this year.
    let about = {
        let key = key.clone();
        Memo::new(move |_| {
            all_keys
                .get()
                .and_then(Result::ok)
                .map(|keys| keys.into_iter().find(|k| k.key_hash == key))
        })
    };
    let name = move || {
        about
            .get()
            .flatten()
            .and_then(|k| k.name)
            .unwrap_or_else(|| "API key".to_owned())
    };
    let detail = move || match about.get() {
        None => String::new(),
        Some(None) => "No events of this key in the last year.".to_owned(),
        Some(Some(k)) => match k.tenant {
            Some(tenant) => format!("Tenant {tenant}"),
            None => "No tenant".to_owned(),
        },
    };
    view! {
        <section class="key-heading" aria-label="API key" data-testid="key-page" data-key=key.clone()>
            <a href=back data-testid="back-to-board">
                "← All API keys"
            </a>
            <h2>
                {name}
                " "
                <code>{key.clone()}</code>
            </h2>
            <p class="muted">{detail}</p>
        </section>
    }
}
