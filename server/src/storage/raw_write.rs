//! Inserting raw events, each exactly once.
//!
//! A row's `id` says when the event happened and which it is: the
//! timestamp in milliseconds shifted left by [`SLOT_BITS`], plus a slot
//! taken from a hash (XXH3) of the event's own id. A time range is a range
//! of the primary key, so the table needs no time index; and the primary
//! key is the idempotency key as well, so it needs no other unique index:
//! events are written in time order, each insert lands next to the last,
//! and the table's cost does not grow with its size.
//!
//! An event sent again carries the same id and timestamp and so maps to
//! the same slot. Two events of one millisecond whose hashes share a slot
//! take the next free slots (linear probing; rows of a millisecond are only
//! ever deleted all at once, by retention), and a lookup walks the same
//! slots comparing the id's text. Events sent without a timestamp are
//! stamped on arrival, so a retry would get another one: for them the full
//! hash is also kept in `stamped_hash`, under a unique index, which finds
//! them again whatever their time.
//!
//! Events of one batch that share a slot are given the next free ones in
//! memory before anything is written. Inserts are multi-row `INSERT … ON
//! CONFLICT DO NOTHING` inside a savepoint. When a chunk stores fewer rows
//! than it holds (a duplicate, a slot taken by an event stored earlier), the
//! savepoint is rolled back and the chunk placed one by one after reading
//! the slots it needs.

use std::collections::{HashMap, HashSet};

use sqlx::{Row, SqliteConnection};

use super::{
    facts::{Bind, Ids, RawDecl, Recorded},
    sql::{bind_all, chunks, execute_pipelined, raw_insert},
};

/// Low bits of `id` that hold the slot.
pub const SLOT_BITS: u32 = 20;
const SLOTS: i64 = 1 << SLOT_BITS;
/// Rows per INSERT: 512 rows of the widest raw table stay below SQLite's
/// limit of 32 766 parameters, and amortise the statement.
const CHUNK: usize = 512;
/// Slots a lookup walks before it gives up: even a million events stamped
/// with one millisecond (half its slots) would rarely fill a run this long.
const PROBES: i64 = 64;

/// The hash of an event id.
pub fn event_hash(id: &str) -> i64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes()) as i64
}

/// The first `id` of a millisecond: ids of `[from_ms, to_ms)` are
/// `[first_id(from_ms), first_id(to_ms))`.
pub fn first_id(ms: i64) -> i64 {
    ms.saturating_mul(SLOTS)
}

/// The `k`-th slot an event of `ts_ms` with `hash` tries.
fn slot(ts_ms: i64, hash: i64, k: i64) -> i64 {
    first_id(ts_ms) + (hash + k).rem_euclid(SLOTS)
}

/// An event on its way in: where it goes.
struct Placed {
    index: usize,
    id: i64,
    /// The probe that gave `id`: `slot(time, hash, probe)`.
    probe: i64,
    /// `Some` for events stamped on arrival.
    stamped_hash: Option<i64>,
}

/// Inserts `events`; returns, per event, whether it was stored now (`false`:
/// it was stored before, or repeated earlier in `events`).
pub async fn insert<R: Recorded>(
    conn: &mut SqliteConnection,
    raw: &RawDecl,
    events: &[R::Event],
    ids: &dyn Ids,
    received_at_ms: i64,
) -> Result<Vec<bool>, sqlx::Error> {
    let mut stored = vec![false; events.len()];
    // Repeats within the batch are duplicates without asking the database.
    let mut seen: rustc_hash::FxHashSet<&str> = rustc_hash::FxHashSet::default();
    seen.reserve(events.len());
    let mut placed: Vec<Placed> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| seen.insert(R::event_id(e)))
        .map(|(index, e)| {
            let hash = event_hash(R::event_id(e));
            Placed {
                index,
                id: slot(R::time_ms(e), hash, 0),
                probe: 0,
                stamped_hash: R::stamped(e).then_some(hash),
            }
        })
        .collect();
    spread_shared_slots::<R>(&mut placed, events);
    // In key order, rows land next to each other (appends, mostly).
    placed.sort_unstable_by_key(|p| p.id);
    for chunk in chunks(&placed, CHUNK) {
        sqlx::query("SAVEPOINT raw_chunk")
            .execute(&mut *conn)
            .await?;
        let inserted = write_rows::<R>(conn, raw, events, chunk, ids, received_at_ms, true).await?;
        if inserted == chunk.len() as u64 {
            sqlx::query("RELEASE raw_chunk").execute(&mut *conn).await?;
            for p in chunk {
                stored[p.index] = true;
            }
            continue;
        }
        sqlx::query("ROLLBACK TO raw_chunk")
            .execute(&mut *conn)
            .await?;
        sqlx::query("RELEASE raw_chunk").execute(&mut *conn).await?;
        let new = place::<R>(conn, raw, events, chunk).await?;
        write_rows::<R>(conn, raw, events, &new, ids, received_at_ms, false).await?;
        for p in &new {
            stored[p.index] = true;
        }
    }
    Ok(stored)
}

/// Moves events of the batch whose slot an earlier event of the batch took
/// along their probe sequence to the first slot none of them holds, as the
/// one-by-one placement would: at the rate of a busy producer, hundreds of
/// events share a millisecond, and two of 500 share a slot in one batch in
/// nine, which would otherwise send the chunk down the slow path.
fn spread_shared_slots<R: Recorded>(placed: &mut [Placed], events: &[R::Event]) {
    let mut taken: rustc_hash::FxHashSet<i64> = rustc_hash::FxHashSet::default();
    taken.reserve(placed.len());
    for p in placed.iter_mut() {
        if taken.insert(p.id) {
            continue;
        }
        let e = &events[p.index];
        let hash = event_hash(R::event_id(e));
        while p.probe + 1 < PROBES {
            p.probe += 1;
            p.id = slot(R::time_ms(e), hash, p.probe);
            if taken.insert(p.id) {
                break;
            }
        }
        // A run of PROBES shared slots (never seen in practice) is left
        // to the insert's conflict, which the slow path then reports.
    }
}

/// Multi-row inserts; returns how many rows they stored. Optional columns
/// that no row of a chunk fills are left out of its statement (they default
/// to NULL), which saves binding them.
async fn write_rows<R: Recorded>(
    conn: &mut SqliteConnection,
    raw: &RawDecl,
    events: &[R::Event],
    rows: &[Placed],
    ids: &dyn Ids,
    received_at_ms: i64,
    skip_conflicts: bool,
) -> Result<u64, sqlx::Error> {
    let width = R::RAW_COLUMNS.len();
    let mut values: Vec<Bind<'_>> = Vec::with_capacity(CHUNK * width);
    let mut binds: Vec<Bind<'_>> = Vec::with_capacity(CHUNK * (width + 3));
    let statements = chunks(rows, CHUNK).map(|part| {
        values.clear();
        for p in part {
            let event = &events[p.index];
            values.extend(R::RAW_COLUMNS.iter().map(|c| (c.value)(event, ids)));
        }
        let used: Vec<bool> = (0..width)
            .map(|c| {
                values
                    .iter()
                    .skip(c)
                    .step_by(width)
                    .any(|v| !matches!(v, Bind::OptText(None)))
            })
            .collect();
        binds.clear();
        for (p, row) in part.iter().zip(values.chunks(width)) {
            binds.push(Bind::Int(p.id));
            binds.push(match p.stamped_hash {
                Some(hash) => Bind::Int(hash),
                None => Bind::OptText(None),
            });
            binds.extend(row.iter().zip(&used).filter(|(_, u)| **u).map(|(v, _)| *v));
            binds.push(Bind::Int(received_at_ms));
        }
        let columns: Vec<&str> = R::RAW_COLUMNS
            .iter()
            .zip(&used)
            .filter(|(_, u)| **u)
            .map(|(c, _)| c.name)
            .collect();
        let sql = raw_insert(raw.table, &columns, part.len(), skip_conflicts);
        bind_all(sqlx::query(sql), &binds)
    });
    execute_pipelined(conn, statements).await
}

/// The events of `chunk` not stored yet, each in its first free slot.
async fn place<R: Recorded>(
    conn: &mut SqliteConnection,
    raw: &RawDecl,
    events: &[R::Event],
    chunk: &[Placed],
) -> Result<Vec<Placed>, sqlx::Error> {
    // The stored ids of every slot the chunk's events may use (one range
    // each, in two parts where it wraps at the end of its millisecond).
    let mut taken: HashMap<i64, String> = HashMap::new();
    let sql = format!(
        "SELECT id, {} FROM {} WHERE (id >= ?1 AND id < ?2) OR (id >= ?3 AND id < ?4)",
        raw.id_column, raw.table
    );
    for p in chunk {
        let e = &events[p.index];
        let (start, end) = (first_id(R::time_ms(e)), first_id(R::time_ms(e) + 1));
        let from = slot(R::time_ms(e), event_hash(R::event_id(e)), 0);
        let to = from + PROBES;
        let (wrapped_from, wrapped_to) = if to > end {
            (start, start + to - end)
        } else {
            (0, 0)
        };
        for row in sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(from)
            .bind(to.min(end))
            .bind(wrapped_from)
            .bind(wrapped_to)
            .fetch_all(&mut *conn)
            .await?
        {
            taken.insert(row.try_get(0)?, row.try_get(1)?);
        }
    }
    let stamped: Vec<i64> = chunk.iter().filter_map(|p| p.stamped_hash).collect();
    let mut stamped_ids: HashSet<String> = HashSet::new();
    for part in stamped.chunks(512) {
        // Table and column names come from the declarations.
        let sql = format!(
            "SELECT {} FROM {} WHERE stamped_hash IS NOT NULL AND stamped_hash IN ({})",
            raw.id_column,
            raw.table,
            vec!["?"; part.len()].join(",")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in part {
            query = query.bind(*v);
        }
        for row in query.fetch_all(&mut *conn).await? {
            stamped_ids.insert(row.try_get(0)?);
        }
    }
    let mut placed = Vec::new();
    'events: for p in chunk {
        let e = &events[p.index];
        let text = R::event_id(e);
        if p.stamped_hash.is_some() && stamped_ids.contains(text) {
            continue; // sent before without a timestamp
        }
        let hash = event_hash(text);
        for k in 0..PROBES {
            let id = slot(R::time_ms(e), hash, k);
            match taken.get(&id) {
                Some(stored) if stored == text => continue 'events, // sent before
                Some(_) => {}
                None => {
                    taken.insert(id, text.to_owned());
                    placed.push(Placed {
                        index: p.index,
                        id,
                        probe: k,
                        stamped_hash: p.stamped_hash,
                    });
                    continue 'events;
                }
            }
        }
        return Err(sqlx::Error::Protocol(format!(
            "{}: no free slot for event `{text}` in its millisecond",
            raw.table
        )));
    }
    Ok(placed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_order_by_time_and_stay_within_their_millisecond() {
        let hash = event_hash("exec-1");
        assert_eq!(hash, event_hash("exec-1"));
        assert_ne!(hash, event_hash("exec-2"));
        for k in 0..PROBES {
            let id = slot(1_000, hash, k);
            assert!((first_id(1_000)..first_id(1_001)).contains(&id));
        }
        // The probe sequence wraps within the millisecond.
        assert_eq!(slot(1_000, SLOTS - 1, 1), first_id(1_000));
        assert!(slot(1_001, 0, 0) > slot(1_000, SLOTS - 1, 0));
    }
}

#[cfg(test)]
mod placement {
    use crate::{
        model::{Batch, ContainerSource, ExecStatus, Execution},
        storage::{Location, Storage, Tuning, commit::WriterState},
    };

    fn execution(id: String, ts: i64, stamped: bool) -> Execution {
        Execution {
            execution_id: id,
            key: None,
            tenant: None,
            language: "go".to_owned(),
            status: ExecStatus::Completed,
            execution_time_ms: 1.0,
            memory_peak_mb: 0.0,
            cpu_time_ms: 0.0,
            container_source: ContainerSource::Unknown,
            files_uploaded: 0,
            files_generated: 0,
            output_size_bytes: 0,
            state_size_bytes: 0,
            queue_wait_ms: 0.0,
            repl_mode: false,
            session_id: None,
            user_id: None,
            entity_id: None,
            created_at_ms: ts,
            stamped,
        }
    }

    async fn accepted(storage: &Storage, state: &mut WriterState, events: Vec<Execution>) -> usize {
        let batch = Batch::Executions(events);
        let outcome = storage.commit_group(&[&batch], state, 1_000).await.unwrap();
        outcome.batches[0].accepted
    }

    #[tokio::test]
    async fn events_sharing_a_millisecond_and_their_resends_count_once() {
        let storage = Storage::open(Location::Memory, Tuning::default())
            .await
            .unwrap();
        let mut state = WriterState::new(0);
        // 5 000 events of one millisecond: dozens of slots are shared.
        let ts = 1_795_000_000_000;
        let events = |from: usize, to: usize| -> Vec<Execution> {
            (from..to)
                .map(|i| execution(format!("same-ms-{i}"), ts, false))
                .collect()
        };
        assert_eq!(accepted(&storage, &mut state, events(0, 5000)).await, 5000);
        assert_eq!(accepted(&storage, &mut state, events(0, 5000)).await, 0);
        // Half old, half new, in one batch.
        assert_eq!(
            accepted(&storage, &mut state, events(2500, 7500)).await,
            2500
        );
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM executions_raw")
            .fetch_one(&storage.pool)
            .await
            .unwrap();
        assert_eq!(rows, 7500);
        let counted: i64 =
            sqlx::query_scalar("SELECT SUM(executions) FROM exec_rollup WHERE grain = 86400")
                .fetch_one(&storage.pool)
                .await
                .unwrap();
        assert_eq!(counted, 7500);
    }

    #[tokio::test]
    async fn events_of_one_batch_sharing_a_slot_are_spread_before_writing() {
        use super::{SLOTS, event_hash, first_id, insert, slot, spread_shared_slots};
        use crate::storage::facts::{Executions, Fact};
        // Three ids whose hashes share a slot.
        let mut by_slot: std::collections::HashMap<i64, Vec<String>> = Default::default();
        let shared = (0..)
            .find_map(|i| {
                let id = format!("slot-{i}");
                let ids = by_slot
                    .entry(event_hash(&id).rem_euclid(SLOTS))
                    .or_default();
                ids.push(id);
                (ids.len() == 3).then(|| ids.clone())
            })
            .unwrap();
        let ts = 1_795_000_000_000;
        let events: Vec<Execution> = shared
            .iter()
            .map(|id| execution(id.clone(), ts, false))
            .collect();
        let mut placed: Vec<super::Placed> = (0..3)
            .map(|index| super::Placed {
                index,
                id: slot(ts, event_hash(&shared[index]), 0),
                probe: 0,
                stamped_hash: None,
            })
            .collect();
        spread_shared_slots::<Executions>(&mut placed, &events);
        let home = placed[0].id;
        let ids: Vec<(i64, i64)> = placed.iter().map(|p| (p.id, p.probe)).collect();
        assert_eq!(
            ids,
            vec![
                (home, 0),
                (slot(ts, event_hash(&shared[1]), 1), 1),
                (slot(ts, event_hash(&shared[2]), 2), 2)
            ]
        );
        assert!(
            ids.iter()
                .all(|(id, _)| (first_id(ts)..first_id(ts + 1)).contains(id))
        );

        // Stored whole, and found again when sent once more, alone or together.
        let storage = Storage::open(Location::Memory, Tuning::default())
            .await
            .unwrap();
        let mut state = WriterState::new(0);
        assert_eq!(accepted(&storage, &mut state, events.clone()).await, 3);
        assert_eq!(
            accepted(&storage, &mut state, events[2..].to_vec()).await,
            0
        );
        assert_eq!(accepted(&storage, &mut state, events.clone()).await, 0);
        let mut conn = storage.pool.acquire().await.unwrap();
        let raw = Executions::DECL.raw.as_ref().unwrap();
        let again = insert::<Executions>(&mut conn, raw, &events, &NoIds, 1_000)
            .await
            .unwrap();
        assert_eq!(again, vec![false; 3]);
    }

    struct NoIds;
    impl crate::storage::facts::Ids for NoIds {
        fn key(&self, _: Option<&crate::model::KeyHash>) -> i64 {
            0
        }
        fn language(&self, _: &str) -> i64 {
            0
        }
        fn endpoint(&self, _: &str) -> i64 {
            0
        }
    }

    #[tokio::test]
    async fn events_stamped_on_arrival_are_found_again_at_another_time() {
        let storage = Storage::open(Location::Memory, Tuning::default())
            .await
            .unwrap();
        let mut state = WriterState::new(0);
        let at = |ts: i64| -> Vec<Execution> {
            (0..300)
                .map(|i| execution(format!("no-time-{i}"), ts + i, true))
                .collect()
        };
        assert_eq!(
            accepted(&storage, &mut state, at(1_795_000_000_000)).await,
            300
        );
        // A retry an hour later is stamped with its own arrival time.
        assert_eq!(
            accepted(&storage, &mut state, at(1_795_003_600_000)).await,
            0
        );
        // The same ids with a timestamp of the producer's are other events.
        let timed: Vec<Execution> = (0..10)
            .map(|i| execution(format!("no-time-{i}"), 1_795_007_200_000, false))
            .collect();
        assert_eq!(accepted(&storage, &mut state, timed).await, 10);
    }
}
