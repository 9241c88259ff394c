//! The query layer: every figure the REST API, the exports and the
//! dashboard's server functions show is computed here, through one
//! aggregation ([`aggregate`]) that the planner ([`plan`]) feeds from the
//! smallest rollup that answers, and raw rows only for what is finer than
//! any rollup's grain.

pub mod aggregate;
pub mod params;
pub mod plan;
mod views;

use std::collections::HashMap;

use app::types::MetricsQuery;
use params::{Bounds, Filter, ParamError};

pub use views::{
    WEEKDAYS, api_keys, heatmap, language_stats, languages, pool, requests, summary, time_series,
    top_languages,
};

use crate::{
    model::time::DAY_MS,
    storage::{Storage, facts::Dim, rollup_read::DimFilter},
};

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error("database: {0}")]
    Storage(#[from] sqlx::Error),
    /// No rollup can answer: a planner bug, not bad input.
    #[error("no plan: {0}")]
    Unanswerable(String),
}

/// Where queries read from: the storage and the retention that bounds it.
#[derive(Clone, Debug)]
pub struct Source {
    pub storage: Storage,
    pub execution_retention_days: u32,
    pub daily_retention_days: u32,
}

impl Source {
    /// A context as of now.
    pub fn context(&self) -> Context {
        let now_ms = crate::clock::now_ms();
        Context {
            storage: self.storage.clone(),
            now_ms,
            detail_oldest_ms: now_ms - i64::from(self.execution_retention_days) * DAY_MS,
            daily_oldest_ms: now_ms - i64::from(self.daily_retention_days) * DAY_MS,
        }
    }
}

/// What a query needs besides its parameters.
#[derive(Clone)]
pub struct Context {
    pub storage: Storage,
    pub now_ms: i64,
    /// Oldest raw row and sub-day rollup kept (execution retention).
    pub detail_oldest_ms: i64,
    /// Oldest daily rollup kept.
    pub daily_oldest_ms: i64,
}

/// Label of executions sent without an API key.
pub const NO_KEY: &str = "none";

/// A key's 16-hex prefix and name.
pub type KeyLabel = (String, Option<String>);

impl Context {
    pub fn filter(&self, query: &MetricsQuery) -> Result<Filter, ParamError> {
        params::parse(
            query,
            Bounds {
                now_ms: self.now_ms,
                oldest_ms: self.daily_oldest_ms,
            },
        )
    }

    /// Key ids of the filter's keys and tenants (`None`: no key filter).
    /// Both given: the listed keys that belong to the listed tenants.
    pub async fn key_ids(&self, filter: &Filter) -> Result<Option<Vec<i64>>, sqlx::Error> {
        let by_key = match &filter.keys {
            None => None,
            Some(prefixes) => Some(self.storage.key_ids_for_prefixes(prefixes).await?),
        };
        let by_tenant = match &filter.tenants {
            None => None,
            Some(tenants) => Some(self.storage.key_ids_for_tenants(tenants).await?),
        };
        Ok(match (by_key, by_tenant) {
            (Some(keys), Some(of_tenants)) => Some(
                keys.into_iter()
                    .filter(|id| of_tenants.contains(id))
                    .collect(),
            ),
            (keys, of_tenants) => keys.or(of_tenants),
        })
    }

    /// The filter's keys, tenants and languages as dimension filters (for
    /// facts that have the dimension; others ignore them).
    pub async fn dim_filters(
        &self,
        filter: &Filter,
        dims: &[Dim],
    ) -> Result<Vec<DimFilter>, sqlx::Error> {
        let mut filters = Vec::new();
        if dims.contains(&Dim::Key)
            && let Some(ids) = self.key_ids(filter).await?
        {
            filters.push(DimFilter {
                dim: Dim::Key,
                values: ids.into_iter().collect(),
            });
        }
        if dims.contains(&Dim::Language)
            && let Some(names) = &filter.languages
        {
            let known = self.storage.language_names().await?;
            filters.push(DimFilter {
                dim: Dim::Language,
                values: known
                    .into_iter()
                    .filter(|(_, name)| names.contains(name))
                    .map(|(id, _)| id)
                    .collect(),
            });
        }
        Ok(filters)
    }

    /// Id → 16-hex prefix and name of every key.
    pub async fn key_labels(&self) -> Result<HashMap<i64, KeyLabel>, sqlx::Error> {
        Ok(self
            .storage
            .api_keys()
            .await?
            .into_iter()
            .map(|k| (k.id, (k.prefix, k.name)))
            .collect())
    }
}

pub(crate) fn percent(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        round3(100.0 * part / whole)
    } else {
        0.0
    }
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub(crate) fn count(x: f64) -> u64 {
    x.max(0.0).round() as u64
}

/// `part / whole`, or 0 for no whole.
pub(crate) fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}
