//! Incidents: every tick reads each enabled rule and moves its incidents
//! along: a firing subject without an open incident opens one (and queues
//! `firing` messages); an open incident whose condition stays clear for the
//! rule's cooldown resolves (and queues `resolved`). In between nothing is
//! sent, so one incident is one message each way however long it lasts or
//! however often it flaps within the cooldown.

use std::{collections::HashMap, sync::Arc, time::Duration};

use serde::Serialize;
use tokio::{sync::Notify, sync::watch, task::JoinHandle};

use super::{
    AlertRules,
    evaluate::{Reading, evaluate},
    rules::Rule,
};
use crate::{
    clock,
    health::HealthCheck,
    jobs,
    model::time::format_ms,
    storage::alerts::{IncidentRow, NewIncident},
};

/// Runs the rules every `interval` until `stop`; wakes `deliver` whenever
/// it queues messages.
pub fn start(
    check: HealthCheck,
    alerts: AlertRules,
    interval: Duration,
    deliver: Arc<Notify>,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = jobs::every(interval, stop);
        while ticks.tick().await {
            match tick(&check, &alerts, clock::now_ms()).await {
                Ok(true) => deliver.notify_one(),
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, "Alert evaluation failed; retrying next tick.")
                }
            }
        }
    })
}

/// What one rule × subject needs this tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Firing without an open incident: open one, queue `firing`.
    Open,
    /// Firing with an open incident: record the reading, no message.
    StillFiring,
    /// First clear reading of an open incident: the cooldown starts.
    MarkClear,
    /// Clear for the whole cooldown: resolve, queue `resolved`.
    Resolve,
    Nothing,
}

/// The incident state machine. `firing` is `None` when the rule had no
/// verdict (too few events): an open incident then stays as it is.
fn decide(open: Option<&IncidentRow>, firing: Option<bool>, cooldown_ms: i64, now_ms: i64) -> Step {
    match (open, firing) {
        (None, Some(true)) => Step::Open,
        (Some(_), Some(true)) => Step::StillFiring,
        (Some(incident), Some(false)) => match incident.clear_since {
            None if cooldown_ms <= 0 => Step::Resolve,
            None => Step::MarkClear,
            Some(since) if now_ms - since >= cooldown_ms => Step::Resolve,
            Some(_) => Step::Nothing,
        },
        (None, _) | (Some(_), None) => Step::Nothing,
    }
}

/// One pass over the rules. Returns whether messages were queued.
pub async fn tick(
    check: &HealthCheck,
    alerts: &AlertRules,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    alerts.reload_if_changed();
    let rules = alerts.rules();
    let storage = &check.source.storage;
    let open = storage.open_incidents().await?;
    let mut queued = false;
    for rule in rules.rules.iter().filter(|r| r.enabled) {
        let readings = match evaluate(check, rule, now_ms).await {
            Ok(readings) => readings,
            Err(error) => {
                // No verdict: its incidents stay as they are.
                tracing::warn!(rule = %rule.name, %error, "Alert rule could not be read.");
                continue;
            }
        };
        // By subject (a key spike reads every active key).
        let incidents: HashMap<&str, &IncidentRow> = open
            .iter()
            .filter(|i| i.rule == rule.name)
            .map(|i| (i.subject.as_str(), i))
            .collect();
        let by_subject: HashMap<&str, &Reading> =
            readings.iter().map(|r| (r.subject.as_str(), r)).collect();
        // Every subject read now, and every subject with an open incident
        // (a key that went quiet reads as clear).
        let mut subjects: Vec<&str> = by_subject.keys().copied().collect();
        subjects.extend(incidents.keys().copied());
        subjects.sort_unstable();
        subjects.dedup();
        for subject in subjects {
            let reading = by_subject.get(subject).copied();
            let incident = incidents.get(subject).copied();
            let firing = reading.map_or(Some(false), |r| r.firing);
            match (
                decide(incident, firing, cooldown_ms(rule), now_ms),
                incident,
                reading,
            ) {
                (Step::Open, _, Some(reading)) => {
                    let incident = NewIncident {
                        rule: &rule.name,
                        kind: rule.condition.kind(),
                        subject: &reading.subject,
                        value: reading.value,
                        threshold: reading.threshold,
                        message: &reading.message,
                        started_at_ms: now_ms,
                    };
                    storage
                        .open_incident(&incident, &rules.webhooks, |id| {
                            firing_payload(id, &incident)
                        })
                        .await?;
                    tracing::warn!(rule = %rule.name, subject, message = %reading.message, "Alert firing.");
                    queued |= !rules.webhooks.is_empty();
                }
                (Step::StillFiring, Some(incident), Some(reading)) => {
                    storage
                        .incident_still_firing(incident.id, reading.value, &reading.message)
                        .await?;
                }
                (Step::MarkClear, Some(incident), _) => {
                    storage.incident_clear_since(incident.id, now_ms).await?;
                }
                (Step::Resolve, Some(incident), reading) => {
                    queued |= resolve(check, incident, reading, now_ms).await?;
                }
                _ => {}
            }
        }
    }
    // A rule removed or disabled ends its incidents.
    for incident in &open {
        if !rules
            .rules
            .iter()
            .any(|r| r.enabled && r.name == incident.rule)
        {
            queued |= resolve(check, incident, None, now_ms).await?;
        }
    }
    Ok(queued)
}

fn cooldown_ms(rule: &Rule) -> i64 {
    i64::try_from(rule.cooldown_seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// Resolves an incident; its `resolved` message goes to the webhooks that
/// were sent its `firing` one. Returns whether messages were queued.
async fn resolve(
    check: &HealthCheck,
    incident: &IncidentRow,
    latest: Option<&Reading>,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let resolved = IncidentRow {
        value: latest.map_or(incident.value, |r| r.value),
        message: latest.map_or_else(
            || format!("no longer firing (last reading: {})", incident.message),
            |r| r.message.clone(),
        ),
        resolved_at: Some(now_ms),
        ..incident.clone()
    };
    let payload = resolved_payload(&resolved);
    let queued = check
        .source
        .storage
        .resolve_incident(incident.id, now_ms, &payload)
        .await?;
    tracing::info!(rule = %incident.rule, subject = %incident.subject, "Alert resolved.");
    Ok(queued > 0)
}

/// The JSON body of a webhook message; the same shape both ways.
#[derive(Serialize)]
struct Payload<'a> {
    source: &'static str,
    /// `firing` or `resolved`.
    status: &'static str,
    incident_id: i64,
    rule: &'a str,
    kind: &'a str,
    /// The key's 16-hex prefix for key rules; `null` for the platform.
    subject: Option<&'a str>,
    value: f64,
    threshold: f64,
    message: &'a str,
    started_at: String,
    resolved_at: Option<String>,
}

fn to_json(payload: &Payload<'_>) -> String {
    serde_json::to_string(payload).unwrap_or_else(|_| "{}".to_owned())
}

fn firing_payload(id: i64, incident: &NewIncident<'_>) -> String {
    to_json(&Payload {
        source: "tally",
        status: "firing",
        incident_id: id,
        rule: incident.rule,
        kind: incident.kind,
        subject: Some(incident.subject).filter(|s| !s.is_empty()),
        value: incident.value,
        threshold: incident.threshold,
        message: incident.message,
        started_at: format_ms(incident.started_at_ms),
        resolved_at: None,
    })
}

fn resolved_payload(incident: &IncidentRow) -> String {
    to_json(&Payload {
        source: "tally",
        status: "resolved",
        incident_id: incident.id,
        rule: &incident.rule,
        kind: &incident.kind,
        subject: Some(incident.subject.as_str()).filter(|s| !s.is_empty()),
        value: incident.value,
        threshold: incident.threshold,
        message: &incident.message,
        started_at: format_ms(incident.started_at),
        resolved_at: incident.resolved_at.map(format_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(clear_since: Option<i64>) -> IncidentRow {
        IncidentRow {
            id: 1,
            rule: "r".into(),
            kind: "error_rate".into(),
            subject: String::new(),
            value: 50.0,
            threshold: 10.0,
            message: "m".into(),
            started_at: 0,
            clear_since,
            resolved_at: None,
        }
    }

    #[test]
    fn an_incident_opens_once_and_resolves_after_a_clear_cooldown() {
        let cooldown = 60_000;
        assert_eq!(decide(None, Some(true), cooldown, 0), Step::Open);
        assert_eq!(decide(None, Some(false), cooldown, 0), Step::Nothing);
        assert_eq!(decide(None, None, cooldown, 0), Step::Nothing);
        let firing = open(None);
        assert_eq!(
            decide(Some(&firing), Some(true), cooldown, 10),
            Step::StillFiring
        );
        // Clear: the cooldown starts, and only its end resolves.
        assert_eq!(
            decide(Some(&firing), Some(false), cooldown, 20),
            Step::MarkClear
        );
        let clearing = open(Some(20));
        assert_eq!(
            decide(Some(&clearing), Some(false), cooldown, 59_999),
            Step::Nothing
        );
        assert_eq!(
            decide(Some(&clearing), Some(false), cooldown, 60_020),
            Step::Resolve
        );
        // Flapping inside the cooldown: back to firing, same incident.
        assert_eq!(
            decide(Some(&clearing), Some(true), cooldown, 30_000),
            Step::StillFiring
        );
        // No verdict (too few events) neither clears nor fires.
        assert_eq!(decide(Some(&firing), None, cooldown, 90_000), Step::Nothing);
        assert_eq!(
            decide(Some(&clearing), None, cooldown, 90_000),
            Step::Nothing
        );
        // Without a cooldown the first clear reading resolves.
        assert_eq!(decide(Some(&firing), Some(false), 0, 20), Step::Resolve);
    }
}
