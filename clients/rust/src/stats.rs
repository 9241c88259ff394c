//! What became of the events recorded: counters the sender and the callers
//! add to, and the snapshot [`crate::Tally::stats`] returns.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counts since the client was built. Every recorded event ends up as
/// exactly one of `sent`, `dropped` or `rejected`, or is still `queued` or
/// being sent; `invalid` events were never recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events accepted into the queue.
    pub recorded: u64,
    /// Events Tally acknowledged (durably stored), duplicates included.
    pub sent: u64,
    /// Of `sent`, those Tally already had: a retry of a request whose answer
    /// was lost. Counted once by Tally.
    pub duplicates: u64,
    /// Events given up without an answer from Tally: pushed out of a full
    /// queue (the oldest go first), or still unsent when the shutdown
    /// deadline passed.
    pub dropped: u64,
    /// Events Tally refused (a 4xx other than 408, 413, 425 and 429: a wrong
    /// key, a timestamp outside its window). Never retried.
    pub rejected: u64,
    /// Events refused by `record_*` because Tally would refuse them.
    pub invalid: u64,
    /// Requests sent again after a connection error, a timeout, a 5xx,
    /// a 408, a 425 or a 429.
    pub retries: u64,
    /// Events waiting in the queue (not counting a batch being sent).
    pub queued: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) recorded: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) invalid: AtomicU64,
    pub(crate) retries: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, queued: usize) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            recorded: get(&self.recorded),
            sent: get(&self.sent),
            duplicates: get(&self.duplicates),
            dropped: get(&self.dropped),
            rejected: get(&self.rejected),
            invalid: get(&self.invalid),
            retries: get(&self.retries),
            queued: queued as u64,
        }
    }
}
