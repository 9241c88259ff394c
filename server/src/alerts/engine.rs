//! Incidents: every tick reads each enabled rule and moves its incidents
//! along: a firing subject without an open incident opens one (and queues
//! `firing` messages); an open incident whose condition stays clear for the
//! rule's cooldown resolves (and queues `resolved`). In between nothing is
//! sent, so one incident is one message each way however long it lasts or
//! however often it flaps within the cooldown.

use std::{sync::Arc, time::Duration};

use serde::Serialize;
use tokio::{sync::Notify, sync::watch, task::JoinHandle};

use super::{
    AlertRules,
    evaluate::{Reading, evaluate},
    rules::Rule,
};
use crate::{
    clock,
    query::params::format_date,
    state::AppState,
    storage::alerts::{IncidentRow, Message, NewIncident},
};

/// Runs the rules every `interval` until `stop`; wakes `deliver` whenever
/// it queues messages.
pub fn start(
    state: AppState,
    alerts: AlertRules,
    interval: Duration,
    deliver: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.changed() => break,
            }
            match tick(&state, &alerts, clock::now_ms()).await {
                Ok(true) => deliver.notify_one(),
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, "Alert evaluation failed; retrying next tick.")
                }
            }
        }
    })
}

/// One pass over the rules. Returns whether messages were queued.
pub async fn tick(state: &AppState, alerts: &AlertRules, now_ms: i64) -> Result<bool, sqlx::Error> {
    let rules = alerts.rules();
    let storage = &state.storage;
    let open = storage.open_incidents().await?;
    let mut queued = false;
    for rule in rules.rules.iter().filter(|r| r.enabled) {
        let readings = match evaluate(state, rule, now_ms).await {
            Ok(readings) => readings,
            Err(error) => {
                // No verdict: its incidents stay as they are.
                tracing::warn!(rule = %rule.name, %error, "Alert rule could not be read.");
                continue;
            }
        };
        for reading in readings.iter().filter(|r| r.firing) {
            match open
                .iter()
                .find(|i| i.rule == rule.name && i.subject == reading.subject)
            {
                Some(incident) => {
                    storage
                        .incident_still_firing(incident.id, reading.value, &reading.message)
                        .await?;
                }
                None => {
                    let incident = NewIncident {
                        rule: &rule.name,
                        kind: rule.condition.kind(),
                        subject: &reading.subject,
                        value: reading.value,
                        threshold: reading.threshold,
                        message: &reading.message,
                        started_at_ms: now_ms,
                    };
                    let payload = |id| firing_payload(id, &incident);
                    let message = Message {
                        event: "firing",
                        urls: &rules.webhooks,
                        payload: &payload,
                    };
                    storage.open_incident(&incident, &message).await?;
                    tracing::warn!(rule = %rule.name, subject = %reading.subject, message = %reading.message, "Alert firing.");
                    queued |= !rules.webhooks.is_empty();
                }
            }
        }
        for incident in open.iter().filter(|i| i.rule == rule.name) {
            let latest = readings.iter().find(|r| r.subject == incident.subject);
            if latest.is_some_and(|r| r.firing) {
                continue;
            }
            let since = incident.clear_since.unwrap_or(now_ms);
            if now_ms - since >= cooldown_ms(rule) {
                resolve(state, incident, latest, now_ms, &rules.webhooks).await?;
                queued |= !rules.webhooks.is_empty();
            } else if incident.clear_since.is_none() {
                storage.incident_clear_since(incident.id, now_ms).await?;
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
            resolve(state, incident, None, now_ms, &rules.webhooks).await?;
            queued |= !rules.webhooks.is_empty();
        }
    }
    Ok(queued)
}

fn cooldown_ms(rule: &Rule) -> i64 {
    i64::try_from(rule.cooldown_seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
}

async fn resolve(
    state: &AppState,
    incident: &IncidentRow,
    latest: Option<&Reading>,
    now_ms: i64,
    webhooks: &[String],
) -> Result<(), sqlx::Error> {
    let resolved = IncidentRow {
        value: latest.map_or(incident.value, |r| r.value),
        message: latest.map_or_else(
            || format!("no longer firing (last reading: {})", incident.message),
            |r| r.message.clone(),
        ),
        resolved_at: Some(now_ms),
        ..incident.clone()
    };
    let payload = |_| resolved_payload(&resolved);
    let message = Message {
        event: "resolved",
        urls: webhooks,
        payload: &payload,
    };
    state
        .storage
        .resolve_incident(incident.id, now_ms, &message)
        .await?;
    tracing::info!(rule = %incident.rule, subject = %incident.subject, "Alert resolved.");
    Ok(())
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
        started_at: format_date(incident.started_at_ms),
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
        started_at: format_date(incident.started_at),
        resolved_at: incident.resolved_at.map(format_date),
    })
}
