//! The write path: one transaction per group of batches inserts the raw
//! rows (each event once), adds the new ones to every rollup, and bumps the
//! commit sequence, so a reader never sees one without the others.

use rustc_hash::FxHashSet;
use sqlx::{Connection, Sqlite, SqliteConnection, Transaction, pool::PoolConnection};

use super::{
    Storage,
    dictionaries::{self, Dictionaries, Resolved, dictionary, event_tenants, resolve},
    facts::{
        self, Executions, Fact, Ids, PoolEvents, Recorded, Requests, Values, executions as exec,
    },
    keys,
    raw_write::{self, Placement},
    rollup_write::{self, Deltas, HotRows},
};
use crate::{
    histogram::{self, Histogram},
    model::{Batch, Coded, ExecStatus},
};

/// What one batch of a group came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Events stored by this batch.
    pub accepted: usize,
    /// Events whose id was already stored (or repeated within the group).
    pub duplicates: usize,
}

#[derive(Debug, Default)]
pub struct GroupOutcome {
    /// One entry per batch, in the order given.
    pub batches: Vec<BatchOutcome>,
    /// Per batch, per event: whether it was stored now.
    pub stored: Vec<Vec<bool>>,
    /// The commit's number in `writer_state.commit_seq`.
    pub commit_seq: i64,
}

/// Execution increments that do not come from events (OTLP metrics mapped
/// by `crate::otlp_mapping`): they go to the rollups only.
#[derive(Clone, Debug)]
pub struct MappedExecutions {
    pub ts_ms: i64,
    pub language: String,
    pub status: ExecStatus,
    pub executions: i64,
    pub sum_time_ms: f64,
    pub sum_memory_mb: f64,
    pub sum_queue_wait_ms: f64,
    pub hist: Option<Histogram>,
}

/// What the writer keeps between commits: its connection, the ids of keys
/// and dictionary values it has seen, and the rows of open rollup buckets.
pub struct WriterState {
    /// Held from the first commit on: taken from the pool and given back
    /// every commit, the connection would be pinged on each return, a round
    /// trip to SQLite's thread on a task the next commit waits for. Given
    /// back after a failed commit, so that the pool checks it.
    connection: Option<PoolConnection<Sqlite>>,
    ids: Dictionaries,
    hot: HotRows,
}

impl WriterState {
    pub fn new(now_ms: i64) -> Self {
        Self {
            connection: None,
            ids: Dictionaries::default(),
            hot: HotRows::new(now_ms),
        }
    }

    fn release_connection(&mut self) {
        self.connection = None;
    }
}

/// The writer's connection, taken from the pool on first use.
async fn held<'c>(
    connection: &'c mut Option<PoolConnection<Sqlite>>,
    storage: &Storage,
) -> Result<&'c mut SqliteConnection, sqlx::Error> {
    let connection = match connection {
        Some(connection) => connection,
        empty => empty.insert(storage.ingest.acquire().await?),
    };
    Ok(&mut **connection)
}

impl Storage {
    /// Stores a group of batches in one transaction. Events already stored
    /// (same id) are counted as duplicates and change nothing.
    /// `while_committing` runs on the outcome while SQLite commits (the
    /// writer builds the hot-counter deltas there); its result is returned
    /// with the outcome, and is meant to be used only once the commit has
    /// succeeded.
    pub async fn commit_group<T>(
        &self,
        batches: &[&Batch],
        state: &mut WriterState,
        received_at_ms: i64,
        while_committing: impl Fn(&GroupOutcome) -> T + Sync,
    ) -> Result<(GroupOutcome, T), sqlx::Error> {
        let mut attempt = async |placement| {
            self.try_commit_group(batches, state, received_at_ms, placement, &while_committing)
                .await
        };
        let mut result = attempt(Placement::Optimistic).await;
        if let Ok(None) = result {
            // Some events were stored before: find out which, from the start.
            result = attempt(Placement::Careful).await;
        }
        match result {
            Ok(Some(outcome)) => Ok(outcome),
            Ok(None) => Err(sqlx::Error::Protocol(
                "a careful insert gave up like an optimistic one".to_owned(),
            )),
            Err(error) => {
                state.release_connection();
                Err(error)
            }
        }
    }

    /// One attempt at a group: `None` (rolled back) when `placement` is
    /// optimistic and an event was stored before.
    async fn try_commit_group<T>(
        &self,
        batches: &[&Batch],
        state: &mut WriterState,
        received_at_ms: i64,
        placement: Placement,
        while_committing: &(impl Fn(&GroupOutcome) -> T + Sync),
    ) -> Result<Option<(GroupOutcome, T)>, sqlx::Error> {
        // IMMEDIATE takes the write lock now, so the transaction cannot fail
        // half-way when another connection holds it: it waits (busy timeout).
        // Meanwhile the group's values without an id are found here.
        let connection = held(&mut state.connection, self).await?;
        let (tx, unknown) =
            futures_util::future::join(connection.begin_with("BEGIN IMMEDIATE"), async {
                dictionaries::unknown(batches, &state.ids)
            })
            .await;
        let mut tx = tx?;
        let new = resolve(&mut tx, unknown, &state.ids, received_at_ms).await?;
        let ids = Resolved {
            known: &state.ids,
            new: &new,
        };
        keys::assign_tenants(&mut tx, &event_tenants(batches, &ids)).await?;

        let mut deltas = Deltas::default();
        let mut stored = vec![Vec::new(); batches.len()];
        let mut record = Recording {
            batches,
            ids: &ids,
            deltas: &mut deltas,
            stored: &mut stored,
            received_at_ms,
            placement,
        };
        if !(record.fact::<Executions>(&mut tx).await?
            && record.fact::<Requests>(&mut tx).await?
            && record.fact::<PoolEvents>(&mut tx).await?)
        {
            tx.rollback().await?;
            return Ok(None);
        }
        let mut outcome = GroupOutcome::default();
        for stored in stored {
            let accepted = stored.iter().filter(|s| **s).count();
            outcome.batches.push(BatchOutcome {
                accepted,
                duplicates: stored.len() - accepted,
            });
            outcome.stored.push(stored);
        }
        let (written, commit_seq) =
            rollup_write::write_then(&mut tx, deltas, &state.hot, received_at_ms, BUMP_COMMIT_SEQ)
                .await?;
        outcome.commit_seq = commit_seq;
        let (committed, built) =
            futures_util::future::join(tx.commit(), async { while_committing(&outcome) }).await;
        committed?;

        state.ids.extend(new);
        state.hot.committed(written.rows, received_at_ms);
        self.rollups_changed(&written.touched);
        Ok(Some((outcome, built)))
    }

    /// Adds mapped increments to the execution rollups in one transaction.
    pub async fn commit_mapped(
        &self,
        items: &[MappedExecutions],
        state: &mut WriterState,
        now_ms: i64,
    ) -> Result<(), sqlx::Error> {
        let result = self.try_commit_mapped(items, state, now_ms).await;
        if result.is_err() {
            state.release_connection();
        }
        result
    }

    async fn try_commit_mapped(
        &self,
        items: &[MappedExecutions],
        state: &mut WriterState,
        now_ms: i64,
    ) -> Result<(), sqlx::Error> {
        let connection = held(&mut state.connection, self).await?;
        let mut tx = connection.begin_with("BEGIN IMMEDIATE").await?;
        let mut new = Dictionaries::default();
        let names: FxHashSet<&str> = items.iter().map(|i| i.language.as_str()).collect();
        dictionary(
            &mut tx,
            "languages",
            "name",
            names,
            &state.ids.languages,
            &mut new.languages,
        )
        .await?;
        let ids = Resolved {
            known: &state.ids,
            new: &new,
        };
        let fact = fact_index(Executions::DECL);
        let mut deltas = Deltas::default();
        for item in items {
            let mut v = Values::<Executions>::new();
            v.set(exec::EXECUTIONS, item.executions as f64);
            v.set(
                exec::BY_STATUS[item.status.code() as usize],
                item.executions as f64,
            );
            v.set(exec::SUM_TIME_MS, item.sum_time_ms);
            v.set(exec::SUM_MEMORY_MB, item.sum_memory_mb);
            v.set(exec::SUM_QUEUE_WAIT_MS, item.sum_queue_wait_ms);
            let dims = [0, ids.language(&item.language), 0];
            let hist = item.hist.clone().unwrap_or_default();
            deltas.add(fact, item.ts_ms, &dims, v.as_slice(), &hist);
        }
        let (written, _) =
            rollup_write::write_then(&mut tx, deltas, &state.hot, now_ms, BUMP_COMMIT_SEQ).await?;
        tx.commit().await?;
        state.ids.extend(new);
        state.hot.committed(written.rows, now_ms);
        self.rollups_changed(&written.touched);
        Ok(())
    }
}

pub(crate) fn fact_index(decl: &'static facts::FactDecl) -> usize {
    facts::ALL
        .iter()
        .position(|d| std::ptr::eq(*d, decl))
        .unwrap_or(0)
}

/// A group's raw rows on their way in, fact by fact.
struct Recording<'a, 'b> {
    batches: &'a [&'b Batch],
    ids: &'a Resolved<'a>,
    deltas: &'a mut Deltas,
    /// `stored[b][i]`: event `i` of batch `b` was stored now.
    stored: &'a mut [Vec<bool>],
    received_at_ms: i64,
    placement: Placement,
}

impl Recording<'_, '_> {
    /// Inserts the raw rows of every batch of `R` in the group at once
    /// (fewer, fuller statements than batch by batch) and adds the stored
    /// events to the rollups. An event repeated in the group is stored once,
    /// for the first batch that names it. `false` when an optimistic insert
    /// fell short (nothing is recorded then).
    async fn fact<R: Recorded>(
        &mut self,
        tx: &mut Transaction<'_, Sqlite>,
    ) -> Result<bool, sqlx::Error> {
        let mut owners = Vec::new();
        let mut events = Vec::new();
        for (b, batch) in self.batches.iter().enumerate() {
            if let Some(of_batch) = R::events_of(batch) {
                owners.extend(std::iter::repeat_n(b, of_batch.len()));
                events.extend(of_batch);
            }
        }
        if events.is_empty() {
            return Ok(true);
        }
        let fact = fact_index(R::DECL);
        let template = Values::<R>::new();
        let mut values = template.clone();
        let (ids, deltas) = (self.ids, &mut *self.deltas);
        // Each stored event goes into the rollup deltas as the insert puts
        // its row in a statement, while SQLite runs the statement before.
        let add_to_rollups = |index: usize| {
            let event = events[index];
            values.clone_from(&template);
            R::contribute(event, &mut values);
            let bin = R::hist_value(event).map(histogram::bin_of);
            let dims = R::dims(event, ids);
            deltas.add_event(fact, R::time_ms(event), &dims, values.as_slice(), bin);
        };
        let flags = match &R::DECL.raw {
            Some(raw) => {
                let group = raw_write::Group {
                    raw,
                    events: &events,
                    ids,
                    received_at_ms: self.received_at_ms,
                };
                let inserted =
                    raw_write::insert::<R>(tx, &group, self.placement, add_to_rollups).await?;
                let Some(flags) = inserted else {
                    return Ok(false);
                };
                flags
            }
            None => vec![false; events.len()],
        };
        for (owner, flag) in owners.into_iter().zip(flags) {
            self.stored[owner].push(flag);
        }
        Ok(true)
    }
}

/// Numbers the commit, for readers that keep what they read of earlier ones.
const BUMP_COMMIT_SEQ: &str =
    "UPDATE writer_state SET commit_seq = commit_seq + 1 WHERE id = 1 RETURNING commit_seq";
