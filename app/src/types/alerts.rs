//! Alert rules, their incidents and webhook deliveries.

use serde::{Deserialize, Serialize};

/// `GET /api/v1/admin/alerts/rules`: the rules file and what is in force.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertRulesDoc {
    /// Where the file lives on the server.
    pub path: String,
    /// The file's text (TOML), as last loaded or saved.
    pub text: String,
    /// Names this text: send it back when saving (`If-Match`) so an edit
    /// made meanwhile (in the file or another browser) is not overwritten.
    pub version: String,
    /// Set when the file on disk was changed and does not parse: the rules
    /// in force are still the previous ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_error: Option<String>,
    pub rules: Vec<AlertRuleSummary>,
    /// Number of webhook targets (the URLs stay in the text).
    pub webhooks: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertRuleSummary {
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    pub cooldown_seconds: u64,
}

/// One alert incident, newest first in `GET /api/v1/admin/alerts/history`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertIncident {
    pub id: i64,
    pub rule: String,
    pub kind: String,
    /// The key's 16-hex prefix for key rules.
    pub subject: Option<String>,
    /// `firing` or `resolved`.
    pub status: String,
    /// The latest reading while firing (the last one when resolved).
    pub value: f64,
    pub threshold: f64,
    pub message: String,
    pub started_at: String,
    pub resolved_at: Option<String>,
    pub deliveries: Vec<AlertDelivery>,
}

/// One webhook message of an incident.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertDelivery {
    /// `firing` or `resolved`.
    pub event: String,
    /// The target's host (the full URL may hold a token).
    pub target: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
}

/// `POST /api/v1/admin/alerts/test`: one test message per webhook target.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookTest {
    /// The target's host.
    pub target: String,
    pub delivered: bool,
    /// `answered 200 OK`, `could not connect`, …
    pub detail: String,
}
