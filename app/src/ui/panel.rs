//! The card around a widget: a heading, optionally a CSV link and a note,
//! then the widget.

use leptos::prelude::*;

#[component]
pub(crate) fn Panel(
    /// The heading.
    #[prop(into)]
    title: TextProp,
    /// Where the widget's figures download as CSV; no link without one.
    #[prop(optional, into)]
    csv: Option<Signal<String>>,
    /// The section's accessible name, when the heading is not enough.
    #[prop(optional)]
    label: Option<&'static str>,
    /// A small note beside the heading.
    #[prop(optional, into)]
    note: Option<String>,
    children: Children,
) -> impl IntoView {
    let csv_label = format!("Download {} as CSV", title.get());
    view! {
        <section class="card panel" aria-label=label>
            <header class="panel-head">
                <h2>{move || title.get()}</h2>
                {csv
                    .map(|csv| {
                        view! {
                            <a class="csv" href=move || csv.get() download aria-label=csv_label>
                                "CSV"
                            </a>
                        }
                    })}
                {note.map(|note| view! { <span class="muted small">{note}</span> })}
            </header>
            {children()}
        </section>
    }
}
