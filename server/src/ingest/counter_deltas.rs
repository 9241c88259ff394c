//! The hot-counter increments of one group commit, built by the writer from
//! the events the commit stored.

use std::collections::HashMap;

use crate::{
    counters::{CounterDelta, CounterUpdate},
    model::{Batch, Execution},
};

/// Hot counters cover the last two days; older events only reach SQLite.
const COUNTER_HORIZON_MS: i64 = 2 * 86_400_000;

/// Counter increments of the executions among `batches` that were stored
/// now (`stored[b][i]`: the row id of event `i` of batch `b`, or `None`).
pub fn of_commit(
    batches: &[&Batch],
    stored: &[Vec<Option<i64>>],
    now_ms: i64,
) -> Option<CounterUpdate> {
    let mut deltas = Deltas::new(now_ms);
    for (batch, stored) in batches.iter().zip(stored) {
        if let Batch::Executions(events) = batch {
            for (event, row) in events.iter().zip(stored) {
                if let Some(row) = row {
                    deltas.add(event, *row);
                }
            }
        }
    }
    deltas.finish()
}

/// Collects counter increments for executions recent enough to matter.
struct Deltas {
    horizon_ms: i64,
    deltas: HashMap<(i64, Option<String>, String, &'static str), CounterDelta>,
    first_row: Option<i64>,
    last_row: i64,
}

impl Deltas {
    fn new(now_ms: i64) -> Self {
        Self {
            horizon_ms: now_ms - COUNTER_HORIZON_MS,
            deltas: HashMap::new(),
            first_row: None,
            last_row: 0,
        }
    }

    fn add(&mut self, e: &Execution, row_id: i64) {
        self.first_row = Some(self.first_row.map_or(row_id, |f| f.min(row_id)));
        self.last_row = self.last_row.max(row_id);
        if e.created_at_ms < self.horizon_ms {
            return;
        }
        let minute = e.created_at_ms.div_euclid(60_000);
        let key = e.key.as_ref().map(|k| k.prefix().to_owned());
        let delta = self
            .deltas
            .entry((minute, key.clone(), e.language.clone(), e.status.as_str()))
            .or_insert_with(|| CounterDelta {
                minute,
                key,
                language: e.language.clone(),
                status: e.status,
                executions: 0,
                time_ms: 0.0,
            });
        delta.executions += 1;
        delta.time_ms += e.execution_time_ms;
    }

    fn finish(self) -> Option<CounterUpdate> {
        let first_row = self.first_row?;
        Some(CounterUpdate {
            first_row,
            last_row: self.last_row,
            deltas: self.deltas.into_values().collect(),
        })
    }
}
