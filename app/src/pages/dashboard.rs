use leptos::prelude::*;

use crate::api::get_server_status;

/// The `/monitoring` page.
#[component]
pub fn Dashboard() -> impl IntoView {
    let status = LocalResource::new(get_server_status);

    view! {
        <header class="topbar">
            <span class="brand">"Tally"</span>
            <span class="tagline">"usage metrics"</span>
        </header>
        <main class="page">
            <section class="card" aria-labelledby="status-title">
                <h2 id="status-title">"Server"</h2>
                <Suspense fallback=|| {
                    view! { <p class="muted">"Connecting…"</p> }
                }>
                    {move || Suspend::new(async move {
                        match status.await {
                            Ok(status) => {
                                view! {
                                    <dl class="facts" data-testid="server-status">
                                        <dt>"Version"</dt>
                                        <dd data-testid="server-version">{status.version}</dd>
                                        <dt>"Up for"</dt>
                                        <dd>{format!("{} s", status.uptime_seconds)}</dd>
                                        <dt>"Counters"</dt>
                                        <dd>{status.counters}</dd>
                                    </dl>
                                }
                                    .into_any()
                            }
                            Err(error) => {
                                view! {
                                    <p class="error" role="alert">
                                        {format!("Could not reach the server: {error}")}
                                    </p>
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Suspense>
            </section>
        </main>
    }
}
