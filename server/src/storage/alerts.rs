//! Alert incidents and the webhook outbox (migration 0008).

use sqlx::FromRow;

use super::Storage;

/// What opens an incident.
#[derive(Clone, Debug)]
pub struct NewIncident<'a> {
    pub rule: &'a str,
    pub kind: &'a str,
    pub subject: &'a str,
    pub value: f64,
    pub threshold: f64,
    pub message: &'a str,
    pub started_at_ms: i64,
}

#[derive(Clone, Debug, FromRow)]
pub struct IncidentRow {
    pub id: i64,
    pub rule: String,
    pub kind: String,
    pub subject: String,
    pub value: f64,
    pub threshold: f64,
    pub message: String,
    pub started_at: i64,
    /// When the condition was first seen clear while open.
    pub clear_since: Option<i64>,
    pub resolved_at: Option<i64>,
}

#[derive(Clone, Debug, FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub incident_id: i64,
    pub event: String,
    pub url: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
}

/// A message due for (another) attempt.
#[derive(Clone, Debug, FromRow)]
pub struct DueDelivery {
    pub id: i64,
    pub url: String,
    pub payload: String,
    pub attempts: i64,
}

impl Storage {
    /// Incidents not resolved yet: still firing, or clear for less than their cooldown.
    pub async fn open_incidents(&self) -> Result<Vec<IncidentRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, rule, kind, subject, value, threshold, message, started_at, clear_since,
                    resolved_at
             FROM alert_incidents WHERE resolved_at IS NULL",
        )
        .fetch_all(&self.pool)
        .await
    }

    /// Opens an incident and queues its `firing` message to each of `urls`
    /// (the body made from the new incident's id), in one transaction.
    pub async fn open_incident(
        &self,
        incident: &NewIncident<'_>,
        urls: &[String],
        payload: impl FnOnce(i64) -> String,
    ) -> Result<i64, sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO alert_incidents
                 (rule, kind, subject, value, threshold, message, started_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(incident.rule)
        .bind(incident.kind)
        .bind(incident.subject)
        .bind(incident.value)
        .bind(incident.threshold)
        .bind(incident.message)
        .bind(incident.started_at_ms)
        .fetch_one(&mut *tx)
        .await?;
        let payload = payload(id);
        for url in urls {
            sqlx::query(
                "INSERT INTO alert_deliveries (incident_id, event, url, payload, next_attempt_at)
                 VALUES (?, 'firing', ?, ?, ?)",
            )
            .bind(id)
            .bind(url)
            .bind(&payload)
            .bind(incident.started_at_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Records the latest reading of a firing incident (and that it is not clear).
    pub async fn incident_still_firing(
        &self,
        id: i64,
        value: f64,
        message: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE alert_incidents SET value = ?, message = ?, clear_since = NULL WHERE id = ?",
        )
        .bind(value)
        .bind(message)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn incident_clear_since(&self, id: i64, since_ms: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE alert_incidents SET clear_since = ? WHERE id = ? AND clear_since IS NULL",
        )
        .bind(since_ms)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Resolves an incident and queues its `resolved` message to every
    /// target its `firing` message was queued for (so a target added since
    /// gets neither, and one removed since still hears the end). Returns the
    /// number of messages queued.
    pub async fn resolve_incident(
        &self,
        id: i64,
        now_ms: i64,
        payload: &str,
    ) -> Result<u64, sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE alert_incidents SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL",
        )
        .bind(now_ms)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let queued = sqlx::query(
            "INSERT INTO alert_deliveries (incident_id, event, url, payload, next_attempt_at)
             SELECT DISTINCT incident_id, 'resolved', url, ?1, ?2 FROM alert_deliveries
             WHERE incident_id = ?3 AND event = 'firing'",
        )
        .bind(payload)
        .bind(now_ms)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(queued)
    }

    /// Pending messages whose time has come, oldest first. A message waits
    /// while an earlier one to the same target about the same incident is
    /// still pending, so `resolved` never overtakes `firing`.
    pub async fn due_deliveries(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, sqlx::Error> {
        sqlx::query_as(
            "SELECT d.id, d.url, d.payload, d.attempts FROM alert_deliveries d
             WHERE d.state = 'pending' AND d.next_attempt_at <= ?1
               AND NOT EXISTS (
                   SELECT 1 FROM alert_deliveries e
                   WHERE e.state = 'pending' AND e.incident_id = d.incident_id
                     AND e.url = d.url AND e.id < d.id)
             ORDER BY d.id LIMIT ?2",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }

    /// Earliest time a pending message is due, if any.
    pub async fn next_delivery_at(&self) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM alert_deliveries WHERE state = 'pending'",
        )
        .fetch_one(&self.pool)
        .await
    }

    pub async fn delivery_succeeded(&self, id: i64, now_ms: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE alert_deliveries
             SET state = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL
             WHERE id = ?",
        )
        .bind(now_ms)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a failed attempt: retried at `retry_at_ms`, or given up with `None`.
    pub async fn delivery_failed(
        &self,
        id: i64,
        error: &str,
        retry_at_ms: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE alert_deliveries
             SET attempts = attempts + 1, last_error = ?1,
                 state = CASE WHEN ?2 IS NULL THEN 'failed' ELSE 'pending' END,
                 next_attempt_at = COALESCE(?2, next_attempt_at)
             WHERE id = ?3",
        )
        .bind(error)
        .bind(retry_at_ms)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every open incident and the latest `limit` ones, open first, then
    /// newest first, with their deliveries.
    pub async fn alert_history(
        &self,
        limit: u32,
    ) -> Result<Vec<(IncidentRow, Vec<DeliveryRow>)>, sqlx::Error> {
        // Every open incident, however old, then the latest others.
        let incidents: Vec<IncidentRow> = sqlx::query_as(
            "SELECT id, rule, kind, subject, value, threshold, message, started_at, clear_since,
                    resolved_at
             FROM alert_incidents
             WHERE resolved_at IS NULL
                OR id IN (SELECT id FROM alert_incidents ORDER BY started_at DESC, id DESC LIMIT ?)
             ORDER BY resolved_at IS NOT NULL, started_at DESC, id DESC",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let Some(oldest) = incidents.iter().map(|i| i.id).min() else {
            return Ok(Vec::new());
        };
        let deliveries: Vec<DeliveryRow> = sqlx::query_as(
            "SELECT id, incident_id, event, url, state, attempts, last_error, delivered_at
             FROM alert_deliveries WHERE incident_id >= ? ORDER BY id",
        )
        .bind(oldest)
        .fetch_all(&self.pool)
        .await?;
        Ok(incidents
            .into_iter()
            .map(|incident| {
                let own = deliveries
                    .iter()
                    .filter(|d| d.incident_id == incident.id)
                    .cloned()
                    .collect();
                (incident, own)
            })
            .collect())
    }

    /// Drops incidents (and their deliveries) resolved before `before_ms`.
    pub async fn delete_resolved_incidents(&self, before_ms: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM alert_incidents WHERE resolved_at < ?")
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
