//! The dashboard's [`Backend`]: what the server functions in `app` call,
//! answered by the same façade as the REST API.

use app::{
    backend::{Backend, RequestInfo},
    error::AppError,
    types::{
        AlertDelivery, AlertIncident, AlertRuleSummary, AlertRulesDoc, ApiKeyUsage, CustomMetric,
        CustomSeries, HealthReport, Heatmap, Languages, LiveCounters, MetricsQuery, PoolStats,
        RequestStats, ServerStatus, Summary, SystemView, TimeSeries, TopLanguages, WebhookTest,
    },
};

use crate::{model::time::format_ms, query, state::AppState};

fn rules_doc(alerts: &crate::alerts::AlertRules) -> AlertRulesDoc {
    let snapshot = alerts.snapshot();
    AlertRulesDoc {
        path: alerts.path().display().to_string(),
        rules: snapshot
            .rules
            .rules
            .iter()
            .map(|r| AlertRuleSummary {
                name: r.name.clone(),
                kind: r.condition.kind().to_owned(),
                enabled: r.enabled,
                cooldown_seconds: r.cooldown_seconds,
            })
            .collect(),
        webhooks: u32::try_from(snapshot.rules.webhooks.len()).unwrap_or(u32::MAX),
        text: snapshot.text,
        version: snapshot.version,
        file_error: snapshot.file_error,
    }
}

#[async_trait::async_trait]
impl Backend for AppState {
    async fn login(&self, key: &str, request: &RequestInfo) -> Result<String, AppError> {
        let sessions = &self.sessions;
        if let Err(throttled) = sessions.check_throttle(request.client_ip) {
            return Err(AppError::TooManyAttempts {
                retry_after_secs: throttled.retry_after.as_secs().max(1),
            });
        }
        if !crate::config::key_matches(key, &self.master_key) {
            tracing::warn!(client = ?request.client_ip, "Dashboard login with a wrong key.");
            return Err(match sessions.record_failure(request.client_ip) {
                Some(throttled) => AppError::TooManyAttempts {
                    retry_after_secs: throttled.retry_after.as_secs().max(1),
                },
                None => AppError::WrongKey,
            });
        }
        let token = sessions.create(request.client_ip);
        tracing::info!(client = ?request.client_ip, "Dashboard login.");
        Ok(crate::sessions::set_cookie(
            Some(&token),
            sessions.ttl(),
            request.https,
        ))
    }

    async fn logout(&self, request: &RequestInfo) -> String {
        if let Some(token) = &request.session_token {
            self.sessions.remove(token);
        }
        crate::sessions::set_cookie(None, std::time::Duration::ZERO, request.https)
    }

    async fn status(&self) -> Result<ServerStatus, AppError> {
        Ok(ServerStatus {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_seconds: self.started_at.elapsed().as_secs(),
            counters: self.counters.backend().to_owned(),
        })
    }

    async fn summary(&self, q: &MetricsQuery) -> Result<Summary, AppError> {
        self.view_request(q)?.run(query::summary).await
    }

    async fn languages(&self, q: &MetricsQuery) -> Result<Languages, AppError> {
        self.view_request(q)?.run(query::languages).await
    }

    async fn time_series(&self, q: &MetricsQuery) -> Result<TimeSeries, AppError> {
        self.view_request(q)?.run(query::time_series).await
    }

    async fn heatmap(&self, q: &MetricsQuery) -> Result<Heatmap, AppError> {
        self.view_request(q)?.run(query::heatmap).await
    }

    async fn api_keys(&self, q: &MetricsQuery) -> Result<Vec<ApiKeyUsage>, AppError> {
        self.view_request(q)?.run(query::api_keys).await
    }

    async fn top_languages(&self, q: &MetricsQuery) -> Result<TopLanguages, AppError> {
        self.view_request(q)?.run(query::top_languages).await
    }

    async fn requests(&self, q: &MetricsQuery) -> Result<RequestStats, AppError> {
        self.view_request(q)?.run(query::requests).await
    }

    async fn pool(&self, q: &MetricsQuery) -> Result<PoolStats, AppError> {
        self.view_request(q)?.run(query::pool).await
    }

    async fn live(&self) -> Result<LiveCounters, AppError> {
        self.counters.live().await.map_err(|error| {
            tracing::warn!(%error, "Live counters unavailable.");
            AppError::Unavailable(format!(
                "the {} counters are unavailable right now",
                self.counters.backend()
            ))
        })
    }

    async fn health_report(&self) -> Result<HealthReport, AppError> {
        Ok(self.health().await?.report())
    }

    async fn set_key_tenant(&self, key: &str, tenant: Option<&str>) -> Result<String, AppError> {
        self.put_key_in_tenant(key, tenant).await
    }

    async fn system(&self, range: &str) -> Result<SystemView, AppError> {
        crate::system::history(
            &self.storage,
            range,
            std::time::Duration::from_secs(self.config.system_metrics_interval_seconds),
            crate::clock::now_ms(),
        )
        .await
        .map_err(super::storage)?
        .ok_or_else(|| {
            AppError::field("range", format!("unknown `{range}`: use 1h, 6h, 24h or 7d"))
        })
    }

    async fn alert_rules(&self) -> Result<AlertRulesDoc, AppError> {
        self.alerts.reload_if_changed();
        Ok(rules_doc(&self.alerts))
    }

    async fn save_alert_rules(
        &self,
        text: &str,
        base_version: Option<&str>,
    ) -> Result<AlertRulesDoc, AppError> {
        use crate::alerts::SaveError;
        self.alerts.save(text, base_version).map_err(|e| match e {
            SaveError::Invalid(m) => AppError::bad_request(m),
            SaveError::Conflict => AppError::Conflict(e.to_string()),
            // Logged where it happened; the disk is the server's problem.
            SaveError::Io(_) => AppError::Internal,
        })?;
        Ok(rules_doc(&self.alerts))
    }

    async fn test_webhooks(&self) -> Result<Vec<WebhookTest>, AppError> {
        let rules = self.alerts.rules();
        let payload = serde_json::json!({
            "source": "tally",
            "status": "test",
            "message": "A test message from Tally: alerts will reach this webhook.",
            "sent_at": format_ms(crate::clock::now_ms()),
        })
        .to_string();
        // All at once: one slow target must not hold up the others.
        let mut sending = tokio::task::JoinSet::new();
        for (index, url) in rules.webhooks.iter().enumerate() {
            let (sender, url, payload) = (self.webhooks.clone(), url.clone(), payload.clone());
            sending.spawn(async move {
                let outcome = sender.post(&url, "test", &payload).await;
                (
                    index,
                    WebhookTest {
                        target: crate::alerts::webhooks::host_of(&url),
                        delivered: outcome.is_ok(),
                        detail: outcome.map_or_else(|e| e, |status| format!("answered {status}")),
                    },
                )
            });
        }
        let mut results: Vec<(usize, WebhookTest)> = sending.join_all().await;
        results.sort_by_key(|(index, _)| *index);
        Ok(results.into_iter().map(|(_, r)| r).collect())
    }

    async fn alert_history(&self, limit: u32) -> Result<Vec<AlertIncident>, AppError> {
        if !(1..=500).contains(&limit) {
            return Err(AppError::field("limit", "must be between 1 and 500"));
        }
        let history = self
            .storage
            .alert_history(limit)
            .await
            .map_err(super::storage)?;
        Ok(history
            .into_iter()
            .map(|(incident, deliveries)| AlertIncident {
                id: incident.id,
                status: if incident.resolved_at.is_some() {
                    "resolved"
                } else {
                    "firing"
                }
                .to_owned(),
                subject: Some(incident.subject).filter(|s| !s.is_empty()),
                rule: incident.rule,
                kind: incident.kind,
                value: incident.value,
                threshold: incident.threshold,
                message: incident.message,
                started_at: format_ms(incident.started_at),
                resolved_at: incident.resolved_at.map(format_ms),
                deliveries: deliveries
                    .into_iter()
                    .map(|d| AlertDelivery {
                        event: d.event,
                        target: crate::alerts::webhooks::host_of(&d.url),
                        state: d.state,
                        attempts: u32::try_from(d.attempts).unwrap_or(u32::MAX),
                        last_error: d.last_error,
                        delivered_at: d.delivered_at.map(format_ms),
                    })
                    .collect(),
            })
            .collect())
    }

    async fn custom_metrics(&self) -> Result<Vec<CustomMetric>, AppError> {
        self.custom_catalog().await
    }

    async fn custom_series(
        &self,
        name: &str,
        q: &MetricsQuery,
        attributes: &[(String, String)],
    ) -> Result<Vec<CustomSeries>, AppError> {
        let range = self.view_request(q)?.filter.range;
        let wanted = attributes.iter().cloned().collect();
        self.custom_points(name, &wanted, &range, 2_000).await
    }
}
