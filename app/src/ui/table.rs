//! A table of figures in the dashboard's style, scrolling sideways on
//! narrow screens.

use leptos::prelude::*;

#[component]
pub(crate) fn DataTable(
    /// Column headings (`th scope=col`).
    #[prop(optional)]
    columns: &'static [&'static str],
    /// A header row of the caller's instead of `columns` (sortable ones).
    #[prop(optional)]
    head: Option<AnyView>,
    /// The table's classes.
    #[prop(default = "data")]
    class: &'static str,
    /// Test hook: `data-testid` of the table.
    #[prop(optional)]
    testid: Option<&'static str>,
    #[prop(optional)] caption: Option<&'static str>,
    /// The rows.
    children: Children,
) -> impl IntoView {
    let head = head.unwrap_or_else(|| {
        let cells = columns
            .iter()
            .map(|title| view! { <th scope="col">{*title}</th> })
            .collect_view();
        view! { <tr>{cells}</tr> }.into_any()
    });
    view! {
        // Focusable: a table wider than its panel scrolls by keyboard too.
        <div class="table-wrap" tabindex="0">
            <table class=class data-testid=testid>
                {caption.map(|caption| view! { <caption>{caption}</caption> })}
                <thead>{head}</thead>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}
