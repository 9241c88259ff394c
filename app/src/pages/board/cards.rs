//! The summary cards: the period's headline figures, each with its change
//! against the previous period.

use leptos::prelude::*;

use crate::{charts::group_thousands, types::Summary};

/// `+12.5 %` against the previous value, and whether it went up; nothing
/// when there is no previous value.
fn change(now: f64, before: Option<f64>) -> Option<(String, bool)> {
    let before = before?;
    if before == 0.0 {
        return (now != 0.0).then(|| ("new".to_owned(), true));
    }
    let pct = 100.0 * (now - before) / before;
    Some((
        format!("{}{pct:.1} %", if pct >= 0.0 { "+" } else { "" }),
        pct >= 0.0,
    ))
}

/// One card.
struct Card {
    title: &'static str,
    /// Test hook: `data-testid`.
    id: &'static str,
    shown: String,
    /// The figure unformatted (`data-value`).
    value: f64,
    change: Option<(String, bool)>,
    up_is_good: bool,
}

fn cards(summary: &Summary) -> Vec<Card> {
    let previous = summary.previous.as_deref();
    let card = |title, id, shown, value: fn(&Summary) -> f64, up_is_good| Card {
        title,
        id,
        shown,
        value: value(summary),
        change: change(value(summary), previous.map(value)),
        up_is_good,
    };
    let errors = |s: &Summary| (s.failure_count + s.timeout_count) as f64;
    let p95 = |s: &Summary| s.p95_execution_time_ms.unwrap_or(0.0);
    vec![
        card(
            "Executions",
            "card-total",
            group_thousands(summary.total_executions as f64),
            |s| s.total_executions as f64,
            true,
        ),
        card(
            "Success rate",
            "card-success-rate",
            format!("{:.1} %", summary.success_rate),
            |s| s.success_rate,
            true,
        ),
        card(
            "Failures + timeouts",
            "card-errors",
            group_thousands(errors(summary)),
            errors,
            false,
        ),
        card(
            "Avg time",
            "card-avg-time",
            format!("{} ms", group_thousands(summary.avg_execution_time_ms)),
            |s| s.avg_execution_time_ms,
            false,
        ),
        card(
            "p95 time",
            "card-p95",
            format!("{} ms", group_thousands(p95(summary))),
            p95,
            false,
        ),
        card(
            "Pool hit rate",
            "card-pool-hit",
            format!("{:.1} %", summary.pool_hit_rate),
            |s| s.pool_hit_rate,
            true,
        ),
        card(
            "Active API keys",
            "card-active-keys",
            summary.active_api_keys.to_string(),
            |s| s.active_api_keys as f64,
            true,
        ),
    ]
}

#[component]
pub(super) fn SummaryCards(summary: Summary) -> impl IntoView {
    if summary.total_executions == 0 {
        return view! {
            <div class="empty" data-testid="empty-summary">
                <p>
                    <b>"No executions in this period."</b>
                </p>
                <p class="muted">
                    "Widen the period or clear the filters, or send events to "
                    <code>"POST /api/v1/events/executions"</code> "."
                </p>
            </div>
        }
        .into_any();
    }
    cards(&summary)
        .into_iter()
        .map(|card| {
            let up_is_good = card.up_is_good;
            view! {
                <div class="card stat" data-testid=card.id data-value=card.value.to_string()>
                    <div class="stat-title">{card.title}</div>
                    <div class="stat-value">{card.shown}</div>
                    {card
                        .change
                        .map(|(text, up)| {
                            let good = up == up_is_good;
                            view! {
                                <div class="stat-change" class:good=good class:bad=!good>
                                    {text}
                                    " vs previous"
                                </div>
                            }
                        })}
                </div>
            }
        })
        .collect_view()
        .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_as_signed_percentages() {
        assert_eq!(
            change(110.0, Some(100.0)),
            Some(("+10.0 %".to_owned(), true))
        );
        assert_eq!(
            change(50.0, Some(100.0)),
            Some(("-50.0 %".to_owned(), false))
        );
        assert_eq!(change(3.0, Some(0.0)), Some(("new".to_owned(), true)));
        assert_eq!(change(0.0, Some(0.0)), None);
        assert_eq!(change(3.0, None), None);
    }

    #[test]
    fn a_card_compares_with_the_previous_period() {
        let summary = Summary {
            total_executions: 30,
            failure_count: 2,
            timeout_count: 1,
            previous: Some(Box::new(Summary {
                total_executions: 20,
                ..Summary::default()
            })),
            ..Summary::default()
        };
        let cards = cards(&summary);
        assert_eq!(cards.len(), 7);
        assert_eq!((cards[0].id, cards[0].value), ("card-total", 30.0));
        assert_eq!(cards[0].change, Some(("+50.0 %".to_owned(), true)));
        assert_eq!((cards[2].value, cards[2].up_is_good), (3.0, false));
        assert_eq!(cards[2].change.as_ref().map(|c| c.0.as_str()), Some("new"));
    }
}
