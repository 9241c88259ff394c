//! The hot-counter increments of one group commit, built by the writer from
//! the events the commit stored.

use rustc_hash::FxHashMap;

use crate::{
    counters::{CounterDelta, CounterUpdate},
    model::{
        Batch, Execution,
        time::{DAY_MS, MINUTE_MS},
    },
};

/// Hot counters cover the last two days; older events only reach SQLite.
const COUNTER_HORIZON_MS: i64 = 2 * DAY_MS;

/// Counter increments of the executions among `batches` that commit
/// `commit` stored (`stored[b][i]`: event `i` of batch `b` was stored now).
pub fn of_commit(
    batches: &[&Batch],
    stored: &[Vec<bool>],
    commit: i64,
    now_ms: i64,
) -> Option<CounterUpdate> {
    let horizon_ms = now_ms - COUNTER_HORIZON_MS;
    let mut deltas: FxHashMap<(i64, Option<&str>, &str, &'static str), CounterDelta> =
        FxHashMap::default();
    let mut any = false;
    for (batch, stored) in batches.iter().zip(stored) {
        let Batch::Executions(events) = batch else {
            continue;
        };
        for (e, _) in events.iter().zip(stored).filter(|(_, s)| **s) {
            any = true;
            if e.created_at_ms >= horizon_ms {
                add(&mut deltas, e);
            }
        }
    }
    any.then(|| CounterUpdate {
        commit,
        deltas: deltas.into_values().collect(),
    })
}

fn add<'e>(
    deltas: &mut FxHashMap<(i64, Option<&'e str>, &'e str, &'static str), CounterDelta>,
    e: &'e Execution,
) {
    let minute = e.created_at_ms.div_euclid(MINUTE_MS);
    let key = e.key.as_ref().map(|k| k.prefix());
    let delta = deltas
        .entry((minute, key, &e.language, e.status.as_str()))
        .or_insert_with(|| CounterDelta {
            minute,
            key: key.map(str::to_owned),
            language: e.language.clone(),
            status: e.status,
            executions: 0,
            time_ms: 0.0,
        });
    delta.executions += 1;
    delta.time_ms += e.execution_time_ms;
}
