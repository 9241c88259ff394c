//! The API-key table: usage and resources per key, sortable by any column;
//! a key's name links to its page, its tenant is edited in place.

use leptos::prelude::*;

use super::FilterState;
use crate::{
    api::set_key_tenant,
    charts::group_thousands,
    filters::Page,
    types::ApiKeyUsage,
    ui::{DataTable, Tick, keyed},
};

/// A column of the API-key table: header, and the value of a row.
type KeyColumn = (&'static str, fn(&ApiKeyUsage) -> f64);

const KEY_COLUMNS: [KeyColumn; 8] = [
    ("Executions", |k| k.usage_count as f64),
    ("Success %", |k| {
        if k.usage_count > 0 {
            100.0 * k.success_count as f64 / k.usage_count as f64
        } else {
            0.0
        }
    }),
    ("Errors", |k| k.error_count as f64),
    ("CPU s", |k| k.cpu_time_ms / 1000.0),
    ("Memory MB·s", |k| k.memory_mb_seconds),
    ("Files out", |k| k.files_generated as f64),
    ("Output MB", |k| k.output_bytes as f64 / 1e6),
    ("API requests", |k| k.api_requests as f64),
];

/// The sort order: a column of [`KEY_COLUMNS`] (`None`: the name), and
/// whether descending.
type Sort = (Option<usize>, bool);

fn sorted(mut rows: Vec<ApiKeyUsage>, (column, descending): Sort) -> Vec<ApiKeyUsage> {
    match column {
        Some(c) => crate::order::sort_by(&mut rows, |a, b| {
            KEY_COLUMNS[c].1(a).total_cmp(&KEY_COLUMNS[c].1(b))
        }),
        None => crate::order::sort_by(&mut rows, |a, b| a.key_prefix.cmp(&b.key_prefix)),
    }
    if descending {
        rows.reverse();
    }
    rows
}

/// A sortable column heading.
fn heading(sort: RwSignal<Sort>, column: Option<usize>, title: &'static str) -> impl IntoView {
    let aria = move || {
        let (c, d) = sort.get();
        if c == column {
            if d { "descending" } else { "ascending" }
        } else {
            "none"
        }
    };
    view! {
        <th aria-sort=aria scope="col">
            <button
                class="sort"
                on:click=move |_| {
                    sort.update(|(c, d)| {
                        if *c == column {
                            *d = !*d;
                        } else {
                            *c = column;
                            *d = column.is_some();
                        }
                    })
                }
            >
                {title}
            </button>
        </th>
    }
}

#[component]
pub(super) fn KeyTable(
    keys: Vec<ApiKeyUsage>,
    tick: Tick,
    /// The filters a key's page keeps.
    filters: FilterState,
) -> impl IntoView {
    if keys.is_empty() {
        return view! {
            <p class="empty muted">"No API keys yet: they appear with the first events that carry one."</p>
        }
        .into_any();
    }
    let sort = RwSignal::new((Some(0usize), true));
    let head = view! {
        <tr>
            {heading(sort, None, "API key")}
            <th scope="col">"Tenant"</th>
            {KEY_COLUMNS
                .iter()
                .enumerate()
                .map(|(i, (title, _))| heading(sort, Some(i), title))
                .collect_view()}
        </tr>
    };
    view! {
        <DataTable testid="key-table" head=head.into_any()>
            {keyed(
                move || sorted(keys.clone(), sort.get()),
                |k| k.key_hash.clone(),
                move |usage| view! { <KeyRow usage=usage tick=tick filters=filters /> },
            )}
        </DataTable>
    }
    .into_any()
}

#[component]
fn KeyRow(usage: ApiKeyUsage, tick: Tick, filters: FilterState) -> impl IntoView {
    let cells = KEY_COLUMNS
        .iter()
        .map(|(_, value)| view! { <td>{group_thousands(value(&usage))}</td> })
        .collect_view();
    let page = Page::Key(usage.key_hash.clone());
    let row_key = usage.key_hash.clone();
    view! {
        <tr data-testid="key-row" data-key=row_key data-usage=usage.usage_count>
            <th scope="row">
                <a
                    data-testid="key-link"
                    title="This key's page"
                    href=move || page.url(&filters.get())
                >
                    {usage.name.unwrap_or_default()}
                    " "
                    <code>{usage.key_hash.clone()}</code>
                </a>
            </th>
            <td>
                <TenantCell key=usage.key_hash tenant=usage.tenant.unwrap_or_default() tick=tick />
            </td>
            {cells}
        </tr>
    }
}

/// A key's tenant, editable in place: Enter or leaving the field saves it
/// (empty: out of its tenant), then the board reloads.
#[component]
fn TenantCell(key: String, tenant: String, tick: Tick) -> impl IntoView {
    let saved = StoredValue::new(tenant.clone());
    let save = Action::new_local(move |tenant: &String| {
        let (key, tenant) = (key.clone(), tenant.clone());
        async move {
            let answer = set_key_tenant(key, tenant.clone()).await;
            if answer.is_ok() {
                saved.set_value(tenant.trim().to_owned());
                tick.bump();
            }
            answer
        }
    });
    let answer = save.value();
    let error = move || answer.get().and_then(Result::err);
    view! {
        <input
            class="tenant"
            data-testid="tenant-input"
            aria-label="Tenant"
            placeholder="—"
            maxlength="64"
            value=tenant
            aria-invalid=move || error().is_some().to_string()
            title=move || {
                error()
                    .map_or_else(
                        || "Tenant of this key: Enter saves, empty removes".to_owned(),
                        |e| e.to_string(),
                    )
            }
            on:change=move |ev| {
                let value = event_target_value(&ev);
                if value.trim() != saved.get_value() {
                    save.dispatch(value);
                }
            }
        />
    }
}
