use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <main class="page page-centered">
            <h1>"Page not found"</h1>
            <p>
                "The dashboard is at " <a href="/monitoring">"/monitoring"</a> "."
            </p>
        </main>
    }
}
