//! The bounded queue between the callers and the sender. Recording takes a
//! short lock and never waits for the sender: when the queue is full the
//! oldest event makes room and is counted as dropped (the newest events are
//! the ones a dashboard looks at).

use std::{
    collections::VecDeque,
    sync::{Mutex, MutexGuard},
    time::Instant,
};

use crate::wire::Event;

/// One queued event with its place in the order of recording.
#[derive(Debug)]
pub(crate) struct Entry {
    /// 1, 2, 3, … in the order of recording.
    pub(crate) seq: u64,
    /// When it was recorded: the batch that holds it leaves by `max_delay`
    /// after this.
    pub(crate) queued_at: Instant,
    pub(crate) event: Event,
}

/// What [`Queue::push`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued; the queue now holds `len` events.
    Queued { len: usize, dropped_oldest: bool },
    /// The client is shut down: nothing more is queued.
    Closed,
}

#[derive(Debug)]
struct Inner {
    entries: VecDeque<Entry>,
    capacity: usize,
    /// The `seq` of the last event pushed.
    last_seq: u64,
    closed: bool,
}

/// A queue of at most `capacity` events.
#[derive(Debug)]
pub(crate) struct Queue {
    inner: Mutex<Inner>,
}

impl Queue {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                entries: VecDeque::with_capacity(capacity.min(4096)),
                capacity: capacity.max(1),
                last_seq: 0,
                closed: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The lock guards plain data that no panic leaves half-written.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn push(&self, event: Event, now: Instant) -> Pushed {
        let mut inner = self.lock();
        if inner.closed {
            return Pushed::Closed;
        }
        let dropped_oldest = inner.entries.len() >= inner.capacity;
        if dropped_oldest {
            inner.entries.pop_front();
        }
        inner.last_seq += 1;
        let seq = inner.last_seq;
        inner.entries.push_back(Entry {
            seq,
            queued_at: now,
            event,
        });
        Pushed::Queued {
            len: inner.entries.len(),
            dropped_oldest,
        }
    }

    /// The `seq` of the last event pushed (0 before the first).
    pub(crate) fn last_seq(&self) -> u64 {
        self.lock().last_seq
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// When the oldest queued event was recorded.
    pub(crate) fn oldest(&self) -> Option<Instant> {
        self.lock().entries.front().map(|e| e.queued_at)
    }

    /// Takes up to `n` events from the front. Callers wait for this lock,
    /// so it is held briefly: all of a short queue is swapped out whole.
    pub(crate) fn take(&self, n: usize) -> Vec<Entry> {
        let mut inner = self.lock();
        if inner.entries.len() <= n {
            let spare = VecDeque::with_capacity(inner.entries.len().clamp(64, 1024));
            let all = std::mem::replace(&mut inner.entries, spare);
            drop(inner);
            return all.into();
        }
        inner.entries.drain(..n).collect()
    }

    /// Every event up to the last pushed has been taken or dropped: the
    /// highest `seq` that no longer waits here.
    pub(crate) fn settled_through(&self) -> u64 {
        let inner = self.lock();
        inner
            .entries
            .front()
            .map_or(inner.last_seq, |e| e.seq.saturating_sub(1))
    }

    /// Refuses further events.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::{
        event::{PoolEvent, PoolKind},
        validate,
    };

    fn event(id: &str) -> Event {
        let p = PoolEvent {
            id: Some(id.to_owned()),
            ..PoolEvent::new(PoolKind::Hit, "go")
        };
        validate::pool(p, SystemTime::now()).unwrap()
    }

    fn ids(entries: &[Entry]) -> Vec<u64> {
        entries.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn a_full_queue_drops_its_oldest_event() {
        let queue = Queue::new(3);
        let now = Instant::now();
        for i in 0..3 {
            let pushed = queue.push(event(&i.to_string()), now);
            assert_eq!(
                pushed,
                Pushed::Queued {
                    len: i + 1,
                    dropped_oldest: false
                }
            );
        }
        assert_eq!(
            queue.push(event("3"), now),
            Pushed::Queued {
                len: 3,
                dropped_oldest: true
            }
        );
        assert_eq!(queue.settled_through(), 1, "the first is gone");
        assert_eq!(ids(&queue.take(2)), [2, 3]);
        assert_eq!(queue.settled_through(), 3);
        assert_eq!(ids(&queue.take(5)), [4]);
        assert_eq!(queue.settled_through(), 4);
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn a_closed_queue_refuses_events() {
        let queue = Queue::new(3);
        queue.close();
        assert!(queue.is_closed());
        assert_eq!(queue.push(event("a"), Instant::now()), Pushed::Closed);
        assert_eq!(queue.last_seq(), 0);
        assert_eq!(queue.oldest(), None);
    }
}
