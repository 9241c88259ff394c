//! The "Alerts" view: the incidents (firing first, then the latest
//! resolved) with their webhook deliveries, and the rules file, editable.

use leptos::prelude::*;

use crate::{
    api::{get_alert_history, get_alert_rules, save_alert_rules, test_alert_webhooks},
    charts::group_thousands,
    pages::loaded,
    types::{AlertDelivery, AlertIncident, AlertRulesDoc},
};

/// "firing → hooks.example.com: delivered after 2 attempts".
fn delivery_text(d: &AlertDelivery) -> String {
    let attempts = if d.attempts == 1 {
        "1 attempt".to_owned()
    } else {
        format!("{} attempts", d.attempts)
    };
    let mut text = format!("{} → {}: {} ({attempts})", d.event, d.target, d.state);
    if let Some(error) = d.last_error.as_ref().filter(|_| d.state != "delivered") {
        text.push_str(&format!(", last error: {error}"));
    }
    text
}

/// "2026-11-21 22:05:13" from RFC 3339.
fn when(rfc3339: &str) -> String {
    rfc3339
        .replacen('T', " ", 1)
        .trim_end_matches('Z')
        .to_owned()
        + " UTC"
}

#[component]
pub fn AlertsView(tick: RwSignal<u64>) -> impl IntoView {
    let history = LocalResource::new(move || {
        tick.track();
        get_alert_history()
    });
    // Not on the refresh tick: that would throw away an edit in progress.
    // Reloaded after a save, or on request.
    let reload = RwSignal::new(0u32);
    let rules = LocalResource::new(move || {
        reload.track();
        get_alert_rules()
    });
    // Outlives the editor, which is drawn again from the saved rules.
    let outcome = RwSignal::new(None::<Result<String, String>>);

    view! {
        <section class="card panel" aria-label="Alert history">
            <header class="panel-head">
                <h2>"Incidents"</h2>
            </header>
            {move || {
                loaded(history, "the alerts", |incidents| {
                    if incidents.is_empty() {
                        view! {
                            <p class="empty muted" data-testid="alerts-empty">
                                "No incidents yet. Rules below decide when one opens."
                            </p>
                        }
                            .into_any()
                    } else {
                        view! { <IncidentTable incidents=incidents /> }.into_any()
                    }
                })
            }}
        </section>
        {move || {
            loaded(rules, "the alert rules", move |doc| {
                view! { <RulesEditor doc=doc tick=tick reload=reload outcome=outcome /> }
            })
        }}
    }
}

#[component]
fn IncidentTable(incidents: Vec<AlertIncident>) -> impl IntoView {
    let mut incidents = incidents;
    // Firing first, then newest first (the order they came in).
    incidents.sort_by_key(|i| i.status != "firing");
    view! {
        <div class="table-wrap">
            <table class="data alerts" data-testid="alert-history">
                <thead>
                    <tr>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Rule"</th>
                        <th scope="col">"Subject"</th>
                        <th scope="col">"Value / threshold"</th>
                        <th scope="col">"Started"</th>
                        <th scope="col">"Resolved"</th>
                        <th scope="col">"Webhooks"</th>
                    </tr>
                </thead>
                <tbody>
                    {incidents
                        .into_iter()
                        .map(|i| {
                            let status_class = format!("badge {}", i.status);
                            view! {
                                <tr data-testid="alert-row" data-status=i.status.clone() data-rule=i.rule.clone()>
                                    <td><span class=status_class>{i.status.clone()}</span></td>
                                    <th scope="row" title=i.message.clone()>
                                        {i.rule.clone()}
                                        <span class="muted small">{format!(" {}", i.kind)}</span>
                                        <div class="muted small">{i.message.clone()}</div>
                                    </th>
                                    <td><code>{i.subject.clone().unwrap_or_else(|| "platform".to_owned())}</code></td>
                                    <td>{format!("{} / {}", group_thousands(i.value), group_thousands(i.threshold))}</td>
                                    <td>{when(&i.started_at)}</td>
                                    <td>{i.resolved_at.as_deref().map(when).unwrap_or_else(|| "–".to_owned())}</td>
                                    <td class="small">
                                        {if i.deliveries.is_empty() {
                                            view! { <span class="muted">"no webhooks"</span> }.into_any()
                                        } else {
                                            i.deliveries
                                                .iter()
                                                .map(|d| view! { <div data-state=d.state.clone()>{delivery_text(d)}</div> })
                                                .collect_view()
                                                .into_any()
                                        }}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn RulesEditor(
    doc: AlertRulesDoc,
    tick: RwSignal<u64>,
    /// Bumped to load the rules again.
    reload: RwSignal<u32>,
    /// The last save's message.
    outcome: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let text = RwSignal::new(doc.text.clone());
    let version = doc.version.clone();
    let tests = RwSignal::new(None::<Result<Vec<crate::types::WebhookTest>, String>>);
    let send_test = move |_| {
        tests.set(Some(Ok(Vec::new())));
        leptos::task::spawn_local(async move {
            tests.set(Some(test_alert_webhooks().await.map_err(|e| e.to_string())));
        });
    };
    let has_webhooks = doc.webhooks > 0;
    let saving = RwSignal::new(false);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        saving.set(true);
        let version = version.clone();
        leptos::task::spawn_local(async move {
            let result = save_alert_rules(text.get_untracked(), version).await;
            saving.set(false);
            outcome.set(Some(match result {
                Ok(saved) => Ok(format!(
                    "Saved: {} rules, {} webhooks, in force from the next evaluation.",
                    saved.rules.len(),
                    saved.webhooks
                )),
                Err(e) => Err(e.to_string()),
            }));
            if outcome.get_untracked().is_some_and(|o| o.is_ok()) {
                reload.update(|r| *r += 1);
                tick.update(|t| *t += 1);
            }
        });
    };
    view! {
        <section class="card panel" aria-label="Alert rules">
            <header class="panel-head">
                <h2>"Rules"</h2>
                <span class="muted small">{format!("{} · {} webhooks", doc.path, doc.webhooks)}</span>
            </header>
            {doc
                .file_error
                .clone()
                .map(|e| {
                    view! {
                        <p class="error" role="alert" data-testid="rules-file-error">
                            {format!("The rules file was changed on disk and does not parse, so the rules below stay in force: {e}")}
                        </p>
                    }
                })}
            <ul class="rule-list" data-testid="alert-rules">
                {doc
                    .rules
                    .iter()
                    .map(|r| {
                        view! {
                            <li class:muted=!r.enabled>
                                <b>{r.name.clone()}</b>
                                {format!(" {} · cooldown {} s{}", r.kind, r.cooldown_seconds, if r.enabled { "" } else { " · disabled" })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            <form class="rules-editor" on:submit=save>
                <label for="alert-rules-text" class="muted small">
                    "The rules file (TOML). Saving checks it first: nothing changes if it is wrong."
                </label>
                <textarea
                    id="alert-rules-text"
                    data-testid="alert-rules-text"
                    spellcheck="false"
                    rows="18"
                    prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))
                ></textarea>
                <div class="editor-actions">
                    <button type="submit" class="chip active" disabled=move || saving.get()>
                        {move || if saving.get() { "Saving…" } else { "Save rules" }}
                    </button>
                    <button
                        type="button"
                        class="chip"
                        data-testid="test-webhooks"
                        disabled=!has_webhooks
                        title=if has_webhooks { "POST a test message to every saved webhook" } else { "No webhooks saved yet" }
                        on:click=send_test
                    >
                        "Send a test message"
                    </button>
                    {move || match outcome.get() {
                        Some(Ok(message)) => view! { <span class="ok" role="status" data-testid="rules-saved">{message}</span> }.into_any(),
                        Some(Err(message)) => {
                            let stale = message.contains("changed since");
                            view! {
                                <span class="error" role="alert" data-testid="rules-error">{message}</span>
                                {stale
                                    .then(|| {
                                        view! {
                                            <button
                                                type="button"
                                                class="chip"
                                                on:click=move |_| {
                                                    outcome.set(None);
                                                    reload.update(|r| *r += 1);
                                                }
                                            >
                                                "Reload the rules"
                                            </button>
                                        }
                                    })}
                            }
                                .into_any()
                        }
                        None => ().into_any(),
                    }}
                </div>
            </form>
            {move || match tests.get() {
                None => ().into_any(),
                Some(Err(message)) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
                Some(Ok(results)) if results.is_empty() => {
                    view! { <p class="muted" aria-busy="true">"Sending…"</p> }.into_any()
                }
                Some(Ok(results)) => {
                    view! {
                        <ul class="rule-list" data-testid="webhook-tests">
                            {results
                                .into_iter()
                                .map(|r| {
                                    view! {
                                        <li class=if r.delivered { "ok" } else { "error" } data-delivered=r.delivered.to_string()>
                                            {format!("{}: {}", r.target, r.detail)}
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_read_as_a_sentence() {
        let mut d = AlertDelivery {
            event: "firing".into(),
            target: "hooks.example.com".into(),
            state: "delivered".into(),
            attempts: 2,
            last_error: Some("answered 500".into()),
            delivered_at: None,
        };
        assert_eq!(
            delivery_text(&d),
            "firing → hooks.example.com: delivered (2 attempts)"
        );
        d.state = "pending".into();
        d.attempts = 1;
        assert_eq!(
            delivery_text(&d),
            "firing → hooks.example.com: pending (1 attempt), last error: answered 500"
        );
        assert_eq!(when("2026-11-21T22:05:13Z"), "2026-11-21 22:05:13 UTC");
    }
}
