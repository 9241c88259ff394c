//! Keyed lists. Every list of the dashboard goes through the one `<For>`
//! here: the keyed diff is generic over the item, key and view types, so a
//! `<For>` per list compiled it once per list (measured: 1.6 KB of gzipped
//! WASM per list). Items are drawn once and keep their DOM while their key
//! stays.

use leptos::prelude::*;

/// A list item, keyed and ready to draw.
struct Item {
    key: String,
    draw: Box<dyn FnOnce() -> AnyView + Send>,
}

/// The items of `items()` drawn by `draw`, keyed by `key`; drawn again when
/// a signal `items` reads changes, keeping the items whose key stays.
pub(crate) fn keyed<T, V>(
    items: impl Fn() -> Vec<T> + Send + 'static,
    key: impl Fn(&T) -> String + Send + 'static,
    draw: impl Fn(T) -> V + Clone + Send + 'static,
) -> AnyView
where
    T: Send + 'static,
    V: IntoView + 'static,
{
    let each = move || {
        items()
            .into_iter()
            .map(|item| {
                let draw = draw.clone();
                Item {
                    key: key(&item),
                    draw: Box::new(move || draw(item).into_any()),
                }
            })
            .collect()
    };
    list(Box::new(each))
}

fn list(each: Box<dyn Fn() -> Vec<Item> + Send>) -> AnyView {
    view! {
        <For each=move || each() key=|item| item.key.clone() let:item>
            {(item.draw)()}
        </For>
    }
    .into_any()
}
