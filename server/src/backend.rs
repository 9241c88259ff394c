//! The dashboard's [`Backend`]: what the server functions in `app` call. It
//! runs the same query layer as the REST API.

use app::{
    backend::{Backend, BackendError, RequestInfo},
    types::{
        AlertDelivery, AlertIncident, AlertRuleSummary, AlertRulesDoc, ApiKeyUsage, CustomMetric,
        CustomSeries, HealthReport, Heatmap, Languages, LiveCounters, MetricsQuery, PoolStats,
        RequestStats, ServerStatus, Summary, SystemView, TimeSeries, TopLanguages, WebhookTest,
    },
};

use crate::{
    model::{KeyHash, time::format_ms},
    query::{self, Context, QueryError, params::Filter},
    state::AppState,
    storage::keys::{KeyField, PrefixOutcome},
};

impl From<QueryError> for BackendError {
    fn from(error: QueryError) -> Self {
        match error {
            QueryError::Param(e) => Self::BadRequest(e.to_string()),
            QueryError::Storage(e) => {
                tracing::error!(error = %e, "Dashboard query failed.");
                Self::Internal
            }
            QueryError::Unanswerable(e) => {
                tracing::error!(error = %e, "Dashboard query failed.");
                Self::Internal
            }
        }
    }
}

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

impl AppState {
    fn prepare(&self, query: &MetricsQuery) -> Result<(Context, Filter), BackendError> {
        let context = self.query_context();
        let filter = context.filter(query).map_err(QueryError::from)?;
        Ok((context, filter))
    }

    /// Applies `field` to a key: a full 64-hex hash (recorded if unknown)
    /// or the 16-hex prefix of exactly one known key. Returns the prefix.
    pub async fn update_key(&self, key: &str, field: KeyField<'_>) -> Result<String, BackendError> {
        let key = key.trim().to_ascii_lowercase();
        let internal = |e: sqlx::Error| BackendError::from(QueryError::from(e));
        if key.len() == 64 {
            let hash =
                KeyHash::parse(&key).map_err(|m| BackendError::BadRequest(format!("key: {m}")))?;
            self.storage
                .set_key_field(&hash, field, crate::clock::now_ms())
                .await
                .map_err(internal)?;
            return Ok(hash.prefix().to_owned());
        }
        if key.len() != 16 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BackendError::BadRequest(
                "the key must be a 64-hex SHA-256 hash or its 16-hex prefix".to_owned(),
            ));
        }
        match self
            .storage
            .set_key_field_by_prefix(&key, field)
            .await
            .map_err(internal)?
        {
            PrefixOutcome::Updated => Ok(key),
            PrefixOutcome::UnknownPrefix => Err(BackendError::NotFound(format!(
                "no API key starts with {key}"
            ))),
            PrefixOutcome::AmbiguousPrefix => Err(BackendError::BadRequest(format!(
                "several API keys start with {key}: give the full 64-hex hash"
            ))),
        }
    }
}

/// Runs one query-layer view for a dashboard request.
macro_rules! view {
    ($self:ident, $query:ident, $view:path) => {{
        let (context, filter) = $self.prepare($query)?;
        let started = std::time::Instant::now();
        let view = $view(&context, &filter).await?;
        $self
            .self_metrics
            .query_duration
            .record(started.elapsed().as_secs_f64());
        Ok(view)
    }};
}

#[async_trait::async_trait]
impl Backend for AppState {
    async fn login(&self, key: &str, request: &RequestInfo) -> Result<String, BackendError> {
        let sessions = &self.sessions;
        if let Err(throttled) = sessions.check_throttle(request.client_ip) {
            return Err(BackendError::TooManyAttempts(
                throttled.retry_after.as_secs().max(1),
            ));
        }
        if !crate::config::key_matches(key, &self.master_key) {
            tracing::warn!(client = ?request.client_ip, "Dashboard login with a wrong key.");
            return Err(match sessions.record_failure(request.client_ip) {
                Some(throttled) => {
                    BackendError::TooManyAttempts(throttled.retry_after.as_secs().max(1))
                }
                None => BackendError::Unauthorized,
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

    async fn status(&self) -> Result<ServerStatus, BackendError> {
        Ok(ServerStatus {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_seconds: self.started_at.elapsed().as_secs(),
            counters: self.counters.backend().to_owned(),
        })
    }

    async fn summary(&self, q: &MetricsQuery) -> Result<Summary, BackendError> {
        view!(self, q, query::summary)
    }

    async fn languages(&self, q: &MetricsQuery) -> Result<Languages, BackendError> {
        view!(self, q, query::languages)
    }

    async fn time_series(&self, q: &MetricsQuery) -> Result<TimeSeries, BackendError> {
        view!(self, q, query::time_series)
    }

    async fn heatmap(&self, q: &MetricsQuery) -> Result<Heatmap, BackendError> {
        view!(self, q, query::heatmap)
    }

    async fn api_keys(&self, q: &MetricsQuery) -> Result<Vec<ApiKeyUsage>, BackendError> {
        view!(self, q, query::api_keys)
    }

    async fn top_languages(&self, q: &MetricsQuery) -> Result<TopLanguages, BackendError> {
        view!(self, q, query::top_languages)
    }

    async fn requests(&self, q: &MetricsQuery) -> Result<RequestStats, BackendError> {
        view!(self, q, query::requests)
    }

    async fn pool(&self, q: &MetricsQuery) -> Result<PoolStats, BackendError> {
        view!(self, q, query::pool)
    }

    async fn live(&self) -> Result<LiveCounters, BackendError> {
        self.counters.live().await.map_err(|error| {
            tracing::warn!(%error, "Live counters unavailable.");
            BackendError::Unavailable(format!(
                "the {} counters are unavailable right now",
                self.counters.backend()
            ))
        })
    }

    async fn health_report(&self) -> Result<HealthReport, BackendError> {
        Ok(self.health().await?.report())
    }

    async fn set_key_tenant(
        &self,
        key: &str,
        tenant: Option<&str>,
    ) -> Result<String, BackendError> {
        let tenant = tenant
            .map(crate::model::tenant)
            .transpose()
            .map_err(|m| BackendError::BadRequest(format!("`tenant` {m}")))?;
        self.update_key(key, KeyField::Tenant(tenant.as_deref()))
            .await
    }

    async fn system(&self, range: &str) -> Result<SystemView, BackendError> {
        crate::system::history(
            &self.storage,
            range,
            std::time::Duration::from_secs(self.config.system_metrics_interval_seconds),
            crate::clock::now_ms(),
        )
        .await
        .map_err(QueryError::from)?
        .ok_or_else(|| {
            BackendError::BadRequest(format!("range: unknown `{range}`: use 1h, 6h, 24h or 7d"))
        })
    }

    async fn alert_rules(&self) -> Result<AlertRulesDoc, BackendError> {
        self.alerts.reload_if_changed();
        Ok(rules_doc(&self.alerts))
    }

    async fn save_alert_rules(
        &self,
        text: &str,
        base_version: Option<&str>,
    ) -> Result<AlertRulesDoc, BackendError> {
        use crate::alerts::SaveError;
        self.alerts.save(text, base_version).map_err(|e| match e {
            SaveError::Invalid(m) => BackendError::BadRequest(m),
            SaveError::Conflict => BackendError::Conflict(e.to_string()),
            // Logged where it happened; the disk is the server's problem.
            SaveError::Io(_) => BackendError::Internal,
        })?;
        Ok(rules_doc(&self.alerts))
    }

    async fn test_webhooks(&self) -> Result<Vec<WebhookTest>, BackendError> {
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

    async fn alert_history(&self, limit: u32) -> Result<Vec<AlertIncident>, BackendError> {
        if !(1..=500).contains(&limit) {
            return Err(BackendError::BadRequest(
                "limit: must be between 1 and 500".to_owned(),
            ));
        }
        let history = self
            .storage
            .alert_history(limit)
            .await
            .map_err(QueryError::from)?;
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

    async fn custom_metrics(&self) -> Result<Vec<CustomMetric>, BackendError> {
        self.storage
            .metric_catalog()
            .await
            .map_err(|e| QueryError::Storage(e).into())
    }

    async fn custom_series(
        &self,
        name: &str,
        q: &MetricsQuery,
        attributes: &[(String, String)],
    ) -> Result<Vec<CustomSeries>, BackendError> {
        let (_, filter) = self.prepare(q)?;
        let wanted = attributes.iter().cloned().collect();
        self.storage
            .metric_points(
                name,
                &wanted,
                filter.range.from_ms,
                filter.range.to_ms,
                2_000,
            )
            .await
            .map_err(|e| QueryError::Storage(e).into())
    }
}
