//! Inserting raw events, each exactly once.
//!
//! A row's `id` is time-ordered: the event's timestamp in milliseconds
//! shifted left by [`SEQ_BITS`], plus a sequence number, so a time range is
//! a range of the primary key and the table needs no time index. The
//! idempotency key is `event_hash`, a 64-bit hash (XXH3) of the event's own
//! id, under a unique index: an integer index is smaller and faster to
//! search than one on the id's text.
//!
//! Inserts are multi-row `INSERT … ON CONFLICT DO NOTHING`. When a chunk
//! stores fewer rows than it holds (a duplicate, or, very rarely, two ids
//! sharing a hash or two rows sharing an `id`), the stored rows are read
//! back and compared by id text: duplicates are counted as such, and an
//! event whose hash or `id` was taken by another event is stored again
//! with the next free hash (up to [`PROBES`] apart) and a new sequence.

use std::collections::{HashMap, HashSet};

use sqlx::{Row, SqliteConnection};

use super::{
    facts::{Bind, Ids, RawDecl, Recorded},
    sql::{bind_all, raw_insert},
};

/// Low bits of `id` that hold the sequence.
pub const SEQ_BITS: u32 = 20;
/// Rows per INSERT: well below SQLite's parameter limit, big enough to
/// amortise the statement.
const CHUNK: usize = 128;
/// Hashes tried per event id: `hash`, `hash + 1`, ….
const PROBES: i64 = 4;

/// The idempotency key of an event id.
pub fn event_hash(id: &str) -> i64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes()) as i64
}

/// The first `id` of a millisecond: ids of `[from_ms, to_ms)` are
/// `[first_id(from_ms), first_id(to_ms))`.
pub fn first_id(ms: i64) -> i64 {
    ms.saturating_mul(1 << SEQ_BITS)
}

/// Hands out the sequence part of row ids.
#[derive(Debug)]
pub struct Sequence(u32);

impl Sequence {
    /// Starts at a random point, so ids given before a restart and after it
    /// rarely meet within one millisecond.
    pub fn new() -> Self {
        Self(rand::random())
    }

    fn next_id(&mut self, ts_ms: i64) -> i64 {
        self.0 = self.0.wrapping_add(1);
        first_id(ts_ms) | i64::from(self.0 & ((1 << SEQ_BITS) - 1))
    }
}

impl Default for Sequence {
    fn default() -> Self {
        Self::new()
    }
}

/// An event on its way in: its row id and hash, once placed.
struct Pending {
    index: usize,
    id: i64,
    hash: i64,
}

/// Inserts `events`; returns, per event, whether it was stored now (`false`:
/// its id was already stored, or repeated earlier in `events`).
pub async fn insert<R: Recorded>(
    conn: &mut SqliteConnection,
    raw: &RawDecl,
    events: &[R::Event],
    ids: &dyn Ids,
    sequence: &mut Sequence,
    received_at_ms: i64,
) -> Result<Vec<bool>, sqlx::Error> {
    let mut stored = vec![false; events.len()];
    // Repeats within the batch are duplicates without asking the database.
    let mut seen: HashSet<&str> = HashSet::with_capacity(events.len());
    let mut pending: Vec<Pending> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| seen.insert(R::event_id(e)))
        .map(|(index, e)| Pending {
            index,
            id: sequence.next_id(R::time_ms(e)),
            hash: event_hash(R::event_id(e)),
        })
        .collect();
    let columns: Vec<&str> = R::RAW_COLUMNS.iter().map(|c| c.name).collect();
    let mut binds: Vec<Bind<'_>> = Vec::with_capacity(CHUNK * (columns.len() + 3));
    for _attempt in 0..=PROBES {
        if pending.is_empty() {
            break;
        }
        let mut retry = Vec::new();
        for chunk in pending.chunks(CHUNK) {
            binds.clear();
            for p in chunk {
                let event = &events[p.index];
                binds.push(Bind::Int(p.id));
                binds.push(Bind::Int(p.hash));
                binds.extend(R::RAW_COLUMNS.iter().map(|c| (c.value)(event, ids)));
                binds.push(Bind::Int(received_at_ms));
            }
            let sql = raw_insert(raw.table, &columns, chunk.len());
            let inserted = bind_all(sqlx::query(sql), &binds)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            if inserted == chunk.len() as u64 {
                for p in chunk {
                    stored[p.index] = true;
                }
                continue;
            }
            retry.extend(resolve::<R>(conn, raw, events, chunk, &mut stored, sequence).await?);
        }
        pending = retry;
    }
    if !pending.is_empty() {
        // Four ids sharing a 64-bit hash: not a thing that happens.
        return Err(sqlx::Error::Protocol(format!(
            "{}: could not place {} events after {PROBES} hashes",
            raw.table,
            pending.len()
        )));
    }
    Ok(stored)
}

/// After a chunk stored fewer rows than it held: marks what was stored now,
/// leaves duplicates unmarked, and returns the events to insert again
/// (with the next hash and a new id).
async fn resolve<R: Recorded>(
    conn: &mut SqliteConnection,
    raw: &RawDecl,
    events: &[R::Event],
    chunk: &[Pending],
    stored: &mut [bool],
    sequence: &mut Sequence,
) -> Result<Vec<Pending>, sqlx::Error> {
    let base = |p: &Pending| event_hash(R::event_id(&events[p.index]));
    let hashes: Vec<i64> = chunk
        .iter()
        .flat_map(|p| (0..PROBES).map(move |k| base(p).wrapping_add(k)))
        .collect();
    let mut by_hash: HashMap<i64, (i64, String)> = HashMap::with_capacity(hashes.len());
    for part in hashes.chunks(500) {
        let sql = format!(
            "SELECT event_hash, id, {} FROM {} WHERE event_hash IN ({})",
            raw.id_column,
            raw.table,
            vec!["?"; part.len()].join(",")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for hash in part {
            query = query.bind(*hash);
        }
        for row in query.fetch_all(&mut *conn).await? {
            by_hash.insert(row.try_get(0)?, (row.try_get(1)?, row.try_get(2)?));
        }
    }
    let mut retry = Vec::new();
    for p in chunk {
        let text = R::event_id(&events[p.index]);
        let probes = (0..PROBES).map(|k| base(p).wrapping_add(k));
        let mut free = None;
        let mut duplicate = false;
        for hash in probes {
            match by_hash.get(&hash) {
                Some((id, _)) if *id == p.id => {
                    stored[p.index] = true;
                    duplicate = true; // placed: nothing more to do
                    break;
                }
                Some((_, other)) if other == text => {
                    duplicate = true;
                    break;
                }
                Some(_) => {}
                None => {
                    free.get_or_insert(hash);
                }
            }
        }
        if duplicate {
            continue;
        }
        if let Some(hash) = free {
            retry.push(Pending {
                index: p.index,
                id: sequence.next_id(R::time_ms(&events[p.index])),
                hash,
            });
        } else {
            return Err(sqlx::Error::Protocol(format!(
                "{}: no free hash for event `{text}`",
                raw.table
            )));
        }
    }
    Ok(retry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_order_by_time_and_stay_within_their_millisecond() {
        let mut sequence = Sequence(u32::MAX - 1);
        let a = sequence.next_id(1_000);
        let b = sequence.next_id(1_000);
        let c = sequence.next_id(1_001);
        assert_ne!(a, b);
        for id in [a, b] {
            assert!((first_id(1_000)..first_id(1_001)).contains(&id));
        }
        assert!(c >= first_id(1_001));
        assert_eq!(event_hash("exec-1"), event_hash("exec-1"));
        assert_ne!(event_hash("exec-1"), event_hash("exec-2"));
    }
}
