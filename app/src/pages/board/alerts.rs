//! The "Alerts" view: the incidents (firing first, then the latest
//! resolved) with their webhook deliveries, and the rules file, editable.

use leptos::prelude::*;

use crate::{
    api::{get_alert_history, get_alert_rules, save_alert_rules, test_alert_webhooks},
    charts::group_thousands,
    error::AppError,
    filters::{Filters, Page},
    types::{AlertDelivery, AlertIncident, AlertRulesDoc},
    ui::{DataTable, Panel, Tick, keyed, loaded, reloading},
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

/// Saving the rules: the text and the version it was edited from.
type SaveRules = Action<(String, String), Result<AlertRulesDoc, AppError>>;

#[component]
pub(super) fn AlertsView(tick: Tick) -> impl IntoView {
    let history = reloading(tick, || (), |()| get_alert_history());
    // Not on the refresh tick: that would throw away an edit in progress.
    // Reloaded after a save, or on request.
    let reload = Tick::new();
    let rules = reloading(reload, || (), |()| get_alert_rules());
    // Here, not in the editor: its outcome outlives the editor, which is
    // drawn again from the saved rules.
    let save: SaveRules = Action::new_local(move |(text, version): &(String, String)| {
        let (text, version) = (text.clone(), version.clone());
        async move {
            let saved = save_alert_rules(text, version).await;
            if saved.is_ok() {
                reload.bump();
                tick.bump();
            }
            saved
        }
    });

    view! {
        <Panel title="Incidents" label="Alert history">
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
        </Panel>
        {move || {
            loaded(rules, "the alert rules", move |doc| {
                view! { <RulesEditor doc=doc reload=reload save=save /> }
            })
        }}
    }
}

#[component]
fn IncidentTable(incidents: Vec<AlertIncident>) -> impl IntoView {
    let mut incidents = incidents;
    // Firing first, then newest first (the order they came in).
    crate::order::sort_by_key(&mut incidents, |i| i.status != "firing");
    view! {
        <DataTable
            class="data alerts"
            testid="alert-history"
            columns=&["Status", "Rule", "Subject", "Value / threshold", "Started", "Resolved", "Webhooks"]
        >
            {keyed(
                move || incidents.clone(),
                |i| i.id.to_string(),
                |i| view! { <IncidentRow incident=i /> },
            )}
        </DataTable>
    }
}

/// What an incident is about: the platform, or a key (linked to its page).
fn subject(subject: Option<String>) -> AnyView {
    match Page::from_key_param(subject.clone()) {
        Ok(page @ Page::Key(_)) => {
            let href = page.url(&Filters::from_params(|_| None));
            view! {
                <a href=href>
                    <code>{subject}</code>
                </a>
            }
            .into_any()
        }
        _ => view! { <code>{subject.unwrap_or_else(|| "platform".to_owned())}</code> }.into_any(),
    }
}

#[component]
fn IncidentRow(incident: AlertIncident) -> impl IntoView {
    let i = incident;
    let status_class = format!("badge {}", i.status);
    view! {
        <tr data-testid="alert-row" data-status=i.status.clone() data-rule=i.rule.clone()>
            <td><span class=status_class>{i.status.clone()}</span></td>
            <th scope="row" title=i.message.clone()>
                {i.rule.clone()}
                <span class="muted small">{format!(" {}", i.kind)}</span>
                <div class="muted small">{i.message.clone()}</div>
            </th>
            <td>{subject(i.subject.clone())}</td>
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
}

/// What the last save said.
fn save_outcome(save: SaveRules, reload: Tick) -> impl IntoView {
    let outcome = save.value();
    move || match outcome.get() {
        Some(Ok(saved)) => {
            let message = format!(
                "Saved: {} rules, {} webhooks, in force from the next evaluation.",
                saved.rules.len(),
                saved.webhooks
            );
            view! { <span class="ok" role="status" data-testid="rules-saved">{message}</span> }
                .into_any()
        }
        Some(Err(error)) => {
            // Someone else saved meanwhile: offer their rules to edit again.
            let stale = matches!(error, AppError::Conflict(_));
            view! {
                <span class="error" role="alert" data-testid="rules-error">{error.to_string()}</span>
                {stale
                    .then(|| {
                        view! {
                            <button
                                type="button"
                                class="chip"
                                on:click=move |_| {
                                    save.clear();
                                    reload.bump();
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
    }
}

#[component]
fn RulesEditor(
    doc: AlertRulesDoc,
    /// Bumped to load the rules again.
    reload: Tick,
    save: SaveRules,
) -> impl IntoView {
    let text = RwSignal::new(doc.text.clone());
    let version = doc.version.clone();
    let send_test = Action::new_local(|_: &()| test_alert_webhooks());
    let (sending, sent) = (send_test.pending(), send_test.value());
    let has_webhooks = doc.webhooks > 0;
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.dispatch((text.get_untracked(), version.clone()));
    };
    let saving = save.pending();
    view! {
        <Panel
            title="Rules"
            label="Alert rules"
            note=format!("{} · {} webhooks", doc.path, doc.webhooks)
        >
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
                // Rule names need not be unique: keyed by place.
                {keyed(
                    move || doc.rules.clone().into_iter().enumerate().collect(),
                    |(i, _)| i.to_string(),
                    |(_, r)| {
                        view! {
                            <li class:muted=!r.enabled>
                                <b>{r.name.clone()}</b>
                                {format!(" {} · cooldown {} s{}", r.kind, r.cooldown_seconds, if r.enabled { "" } else { " · disabled" })}
                            </li>
                        }
                    },
                )}
            </ul>
            <form class="rules-editor" on:submit=submit>
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
                        on:click=move |_| {
                            send_test.dispatch(());
                        }
                    >
                        "Send a test message"
                    </button>
                    {save_outcome(save, reload)}
                </div>
            </form>
            {move || match (sending.get(), sent.get()) {
                (true, _) => view! { <p class="muted" aria-busy="true">"Sending…"</p> }.into_any(),
                (false, None) => ().into_any(),
                (false, Some(Err(error))) => {
                    view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any()
                }
                (false, Some(Ok(results))) => {
                    view! {
                        <ul class="rule-list" data-testid="webhook-tests">
                            {keyed(
                                move || results.clone().into_iter().enumerate().collect(),
                                |(i, _)| i.to_string(),
                                |(_, r)| {
                                    view! {
                                        <li class=if r.delivered { "ok" } else { "error" } data-delivered=r.delivered.to_string()>
                                            {format!("{}: {}", r.target, r.detail)}
                                        </li>
                                    }
                                },
                            )}
                        </ul>
                    }
                        .into_any()
                }
            }}
        </Panel>
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
