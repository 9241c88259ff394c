//! Grains that hold buckets only from some instant on: a grain added to a
//! rollup that already had data (migration 0010 and later ones record it in
//! `rollup_grains_since`). The planner reads such a grain from its start
//! and answers what lies before from the rollup's other grains.

use sqlx::SqlitePool;

use super::facts::{self, RollupDecl};
use crate::model::Granularity;

/// Per declared rollup and grain, the first instant (Unix ms) its buckets
/// are complete from.
#[derive(Debug, Default)]
pub struct GrainStarts(Vec<(&'static str, Granularity, i64)>);

impl GrainStarts {
    /// The recorded starts of declared rollups' grains; rows naming a table
    /// or grain no declaration has are left out.
    pub(super) async fn load(pool: &SqlitePool) -> Result<Self, sqlx::Error> {
        let rows: Vec<(String, i64, i64)> =
            sqlx::query_as("SELECT rollup, grain, since_ms FROM rollup_grains_since")
                .fetch_all(pool)
                .await?;
        let mut starts = Vec::new();
        for (table, code, since_ms) in rows {
            let declared = facts::ALL
                .iter()
                .flat_map(|f| f.rollups)
                .find(|r| r.table == table)
                .and_then(|r| {
                    let grain = r.grains.iter().find(|g| g.code() == code)?;
                    Some((r.table, *grain))
                });
            if let Some((table, grain)) = declared {
                starts.push((table, grain, since_ms));
            }
        }
        Ok(Self(starts))
    }

    /// The grains of `rollup` that start late, with their starts.
    pub fn of(&self, rollup: &RollupDecl) -> Vec<(Granularity, i64)> {
        self.0
            .iter()
            .filter(|(table, _, _)| *table == rollup.table)
            .map(|(_, grain, since)| (*grain, *since))
            .collect()
    }
}
