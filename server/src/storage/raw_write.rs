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
//! Events of one group that share a slot are given the next free ones in
//! memory before anything is written. Inserts are multi-row `INSERT … ON
//! CONFLICT DO NOTHING`. The writer first tries a group optimistically
//! ([`Placement::Optimistic`]): every row at once, no savepoint. When they
//! store fewer rows than they hold (a duplicate, a slot taken by an event
//! stored earlier), it rolls the whole transaction back and commits the
//! group again with [`Placement::Careful`]: chunk by chunk, each in a
//! savepoint, and a chunk that falls short is placed one by one after
//! reading the slots it needs.

use std::collections::{HashMap, HashSet};

use sqlx::{Row, SqliteConnection};

use super::{
    facts::{Bind, Ids, RawDecl, Recorded},
    sql::{
        bind_all, chunks, execute_pipelined, pad_with_last_row, padded_chunks, raw_insert,
        rows_per_statement,
    },
};

/// Low bits of `id` that hold the slot.
pub const SLOT_BITS: u32 = 20;
const SLOTS: i64 = 1 << SLOT_BITS;
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

/// Rows per INSERT of a table of `R`: a power of two, so that a group's rows
/// take statements of few shapes, and at most [`ROWS_PER_INSERT`].
fn rows_per_insert<R: Recorded>() -> usize {
    rows_per_statement(R::RAW_COLUMNS.len() + 3).min(ROWS_PER_INSERT)
}

/// Rows per raw INSERT, far fewer than SQLite's parameter limit allows
/// (1 024): the writer builds a statement while SQLite runs the one before
/// ([`execute_pipelined`]), and small steps leave the two threads less time
/// waiting for each other. Measured at batch 500 (`bench load`, eight
/// interleaved runs on two cores): 128 rows 280 000 events/s median and
/// 25 ms p99, against 250 000 and 30–70 ms with 1 024.
const ROWS_PER_INSERT: usize = 128;

/// How [`insert`] meets events that are stored already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Writes every row at once and gives up (`None`) if any is not
    /// stored, having stored the others: the caller rolls back.
    Optimistic,
    /// Finds out which events are stored already and stores the rest.
    Careful,
}

/// A group's events of one fact, and what their rows are written with.
pub struct Group<'a, R: Recorded> {
    pub raw: &'a RawDecl,
    pub events: &'a [&'a R::Event],
    pub ids: &'a dyn Ids,
    pub received_at_ms: i64,
}

/// Inserts the group's events; returns, per event, whether it was stored
/// now (`false`: it was stored before, or repeated earlier in the group).
/// `None` when an optimistic insert fell short and the transaction must be
/// rolled back.
///
/// `on_stored` is called with the index of every event stored. An
/// optimistic insert calls it as it puts the event's row in a statement,
/// before it knows whether the insert falls short (the caller then drops
/// what it gathered), so that the caller's work on the events overlaps
/// SQLite's on the statements; a careful one once the row is stored.
pub async fn insert<R: Recorded>(
    conn: &mut SqliteConnection,
    group: &Group<'_, R>,
    placement: Placement,
    mut on_stored: impl FnMut(usize) + Send,
) -> Result<Option<Vec<bool>>, sqlx::Error> {
    let events = group.events;
    let mut stored = vec![false; events.len()];
    // Repeats within the group are duplicates without asking the database.
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
    if placement == Placement::Optimistic {
        let inserted = write_rows(conn, group, &placed, true, &mut on_stored).await?;
        if inserted < placed.len() as u64 {
            return Ok(None);
        }
        for p in &placed {
            stored[p.index] = true;
        }
        return Ok(Some(stored));
    }
    for chunk in chunks(&placed, rows_per_insert::<R>()) {
        sqlx::query("SAVEPOINT raw_chunk")
            .execute(&mut *conn)
            .await?;
        let inserted = write_rows(conn, group, chunk, true, |_| {}).await?;
        let new = if inserted == chunk.len() as u64 {
            sqlx::query("RELEASE raw_chunk").execute(&mut *conn).await?;
            chunk.iter().map(|p| p.index).collect::<Vec<_>>()
        } else {
            sqlx::query("ROLLBACK TO raw_chunk")
                .execute(&mut *conn)
                .await?;
            sqlx::query("RELEASE raw_chunk").execute(&mut *conn).await?;
            let new = place(conn, group, chunk).await?;
            write_rows(conn, group, &new, false, |_| {}).await?;
            new.iter().map(|p| p.index).collect()
        };
        for index in new {
            stored[index] = true;
            on_stored(index);
        }
    }
    Ok(Some(stored))
}

/// Moves events of the group whose slot an earlier event of the group took
/// along their probe sequence to the first slot none of them holds, as the
/// one-by-one placement would: at the rate of a busy producer, hundreds of
/// events share a millisecond, and two of 500 share a slot in one batch in
/// nine, which would otherwise send the chunk down the slow path.
fn spread_shared_slots<R: Recorded>(placed: &mut [Placed], events: &[&R::Event]) {
    let mut taken: rustc_hash::FxHashSet<i64> = rustc_hash::FxHashSet::default();
    taken.reserve(placed.len());
    for p in placed.iter_mut() {
        if taken.insert(p.id) {
            continue;
        }
        let e = events[p.index];
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
/// to NULL), which saves binding them. Inserts that skip conflicts pad their
/// statements with repeats of the last row ([`padded_chunks`]): a repeat
/// conflicts with the row itself and is skipped, so the count of rows
/// stored is the same.
async fn write_rows<R: Recorded>(
    conn: &mut SqliteConnection,
    group: &Group<'_, R>,
    rows: &[Placed],
    skip_conflicts: bool,
    mut on_row: impl FnMut(usize) + Send,
) -> Result<u64, sqlx::Error> {
    let (raw, events, ids, received_at_ms) =
        (group.raw, group.events, group.ids, group.received_at_ms);
    let width = R::RAW_COLUMNS.len();
    let max = rows_per_insert::<R>();
    let parts: Vec<(&[Placed], usize)> = if skip_conflicts {
        padded_chunks(rows, max).collect()
    } else {
        chunks(rows, max).map(|part| (part, part.len())).collect()
    };
    let mut values: Vec<Bind<'_>> = Vec::with_capacity(max.min(rows.len()) * width);
    let mut binds: Vec<Bind<'_>> = Vec::with_capacity(max.min(rows.len()) * (width + 3));
    let statements = parts.into_iter().map(|(part, shape)| {
        values.clear();
        for p in part {
            let event = events[p.index];
            values.extend(R::RAW_COLUMNS.iter().map(|c| (c.value)(event, ids)));
            on_row(p.index);
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
        pad_with_last_row(&mut binds, part.len(), shape);
        let columns: Vec<&str> = R::RAW_COLUMNS
            .iter()
            .zip(&used)
            .filter(|(_, u)| **u)
            .map(|(c, _)| c.name)
            .collect();
        let sql = raw_insert(raw.table, &columns, shape, skip_conflicts);
        bind_all(sql, &binds)
    });
    execute_pipelined(conn, statements).await
}

/// The events of `chunk` not stored yet, each in its first free slot.
async fn place<R: Recorded>(
    conn: &mut SqliteConnection,
    group: &Group<'_, R>,
    chunk: &[Placed],
) -> Result<Vec<Placed>, sqlx::Error> {
    let (raw, events) = (group.raw, group.events);
    // The stored ids of every slot the chunk's events may use (one range
    // each, in two parts where it wraps at the end of its millisecond).
    let mut taken: HashMap<i64, String> = HashMap::new();
    let sql = format!(
        "SELECT id, {} FROM {} WHERE (id >= ?1 AND id < ?2) OR (id >= ?3 AND id < ?4)",
        raw.id_column, raw.table
    );
    for p in chunk {
        let e = events[p.index];
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
        let e = events[p.index];
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
#[path = "raw_write_tests.rs"]
mod placement;
