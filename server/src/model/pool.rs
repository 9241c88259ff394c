//! Container-pool events: a warm container taken (hit), none warm (miss),
//! or none at all (exhausted).

use serde::Deserialize;

use super::{
    codes::Coded,
    fields::{
        FieldError, Limits, MAX_DURATION_MS, TimestampInput, id_or_random, language, measure,
        required, timestamp,
    },
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PoolKind {
    Hit,
    Miss,
    Exhausted,
}

impl Coded for PoolKind {
    const ALL: &'static [Self] = &[Self::Hit, Self::Miss, Self::Exhausted];

    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl PoolKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Exhausted => "exhausted",
        }
    }

    fn parse(value: &str) -> Result<Self, FieldError> {
        match value {
            "hit" => Ok(Self::Hit),
            "miss" => Ok(Self::Miss),
            "exhausted" => Ok(Self::Exhausted),
            _ => Err(FieldError::new("kind", "must be hit, miss or exhausted")),
        }
    }
}

/// One container-pool event.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolInput {
    id: Option<String>,
    ts: Option<TimestampInput>,
    #[schema(required = true, value_type = String, pattern = "^(hit|miss|exhausted)$")]
    kind: Option<String>,
    #[schema(required = true, value_type = String, min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9+#._-]+$")]
    language: Option<String>,
    acquire_time_ms: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PoolEvent {
    pub id: String,
    pub ts_ms: i64,
    /// The producer sent no timestamp: Tally stamped the event on arrival.
    pub stamped: bool,
    pub kind: PoolKind,
    pub language: String,
    pub acquire_time_ms: f64,
}

impl PoolInput {
    pub fn validate(self, limits: &Limits) -> Result<PoolEvent, FieldError> {
        Ok(PoolEvent {
            id: id_or_random("id", self.id)?,
            stamped: self.ts.is_none(),
            ts_ms: timestamp("ts", self.ts, limits)?,
            kind: PoolKind::parse(&required("kind", self.kind)?)?,
            language: language("language", required("language", self.language)?)?,
            acquire_time_ms: measure("acquire_time_ms", self.acquire_time_ms, MAX_DURATION_MS)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fields::test_support::limits;
    #[test]
    fn pool_kind_is_checked() {
        let p: PoolInput = serde_json::from_str(r#"{"kind":"cold","language":"python"}"#).unwrap();
        assert_eq!(p.validate(&limits()).unwrap_err().field, "kind");
    }
}
