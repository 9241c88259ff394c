//! The background task: takes batches from the queue by size and by time,
//! sends each kind's events in one request, and reports how far it got so
//! `flush` and `shutdown` know when they are done.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::{Notify, watch};

use crate::{
    deliver::{Deadline, Deliverer},
    queue::{Entry, Pushed, Queue},
    stats::Counters,
    wire::{Event, Kind},
};

/// What the callers' handles and the sender share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) queue: Queue,
    /// Wakes the sender: the queue became non-empty or reached a batch, a
    /// flush was asked for, or the client is closing.
    pub(crate) wake: Notify,
    pub(crate) counters: Arc<Counters>,
    pub(crate) batch_size: usize,
    pub(crate) max_delay: Duration,
    pub(crate) shutdown_timeout: Duration,
    /// The highest `seq` a flush is waiting for.
    pub(crate) flush_target: AtomicU64,
    /// The highest `seq` the queue no longer holds and no request carries:
    /// sent, refused or dropped.
    pub(crate) settled: watch::Sender<u64>,
    /// Set by shutdown: the sender gives up on what is unsent by then.
    pub(crate) deadline: watch::Sender<Option<Instant>>,
    /// The sender has stopped.
    pub(crate) finished: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn new(
        capacity: usize,
        batch_size: usize,
        max_delay: Duration,
        shutdown_timeout: Duration,
    ) -> Self {
        Self {
            queue: Queue::new(capacity),
            wake: Notify::new(),
            counters: Arc::new(Counters::default()),
            batch_size,
            max_delay,
            shutdown_timeout,
            flush_target: AtomicU64::new(0),
            settled: watch::Sender::new(0),
            deadline: watch::Sender::new(None),
            finished: watch::Sender::new(false),
        }
    }

    /// Queues an event; never waits.
    pub(crate) fn push(&self, event: Event) -> Pushed {
        let pushed = self.queue.push(event, Instant::now());
        if let Pushed::Queued {
            len,
            dropped_oldest,
        } = pushed
        {
            Counters::add(&self.counters.recorded, 1);
            if dropped_oldest {
                Counters::add(&self.counters.dropped, 1);
            }
            // Only the moments the sender waits for: the first event (it
            // starts the delay) and a full batch.
            if len == 1 || len == self.batch_size {
                self.wake.notify_one();
            }
        }
        pushed
    }

    /// Waits until every event recorded before the call is settled.
    pub(crate) async fn flush(&self) {
        let target = self.queue.last_seq();
        self.flush_target.fetch_max(target, Ordering::Relaxed);
        self.wake.notify_one();
        let _ = self.settled.subscribe().wait_for(|s| *s >= target).await;
    }

    /// Refuses further events and gives the sender `shutdown_timeout` to
    /// send the rest.
    pub(crate) fn close(&self) {
        self.queue.close();
        let at = Instant::now() + self.shutdown_timeout;
        self.deadline.send_if_modified(|deadline| {
            let first = deadline.is_none();
            if first {
                *deadline = Some(at);
            }
            first
        });
        self.wake.notify_one();
    }

    pub(crate) async fn finished(&self) {
        let _ = self.finished.subscribe().wait_for(|f| *f).await;
    }
}

/// Runs until the client is closed and its queue is empty (or the
/// shutdown deadline has passed).
pub(crate) async fn run(shared: Arc<Shared>, deliverer: Deliverer) {
    let mut deadline = Deadline(shared.deadline.subscribe());
    while let Some(batch) = next_batch(&shared, &deadline).await {
        send(&deliverer, batch, &mut deadline).await;
        shared.settled.send_replace(shared.queue.settled_through());
    }
    shared.settled.send_replace(shared.queue.last_seq());
    shared.finished.send_replace(true);
    tracing::debug!("Tally client stopped.");
}

/// The next batch: `batch_size` events, or fewer once the oldest has waited
/// `max_delay`, or whatever is queued when a flush or shutdown asks. `None`
/// when the client is closed and nothing is left to send.
async fn next_batch(shared: &Shared, deadline: &Deadline) -> Option<Vec<Entry>> {
    loop {
        let closed = shared.queue.is_closed();
        if closed && deadline.has_passed() {
            let rest = shared.queue.take(usize::MAX);
            if !rest.is_empty() {
                Counters::add(&shared.counters.dropped, rest.len());
                tracing::warn!(
                    events = rest.len(),
                    "Shutdown deadline passed; events not sent."
                );
            }
            return None;
        }
        let Some(oldest) = shared.queue.oldest() else {
            shared.settled.send_replace(shared.queue.settled_through());
            if closed {
                return None;
            }
            shared.wake.notified().await;
            continue;
        };
        let flushing = shared.flush_target.load(Ordering::Relaxed) > *shared.settled.borrow();
        let due = oldest + shared.max_delay;
        if closed || flushing || shared.queue.len() >= shared.batch_size || Instant::now() >= due {
            return Some(shared.queue.take(shared.batch_size));
        }
        tokio::select! {
            () = shared.wake.notified() => {}
            () = tokio::time::sleep_until(due.into()) => {}
        }
    }
}

/// One request per kind present in the batch.
async fn send(deliverer: &Deliverer, batch: Vec<Entry>, deadline: &mut Deadline) {
    for kind in Kind::ALL {
        let events: Vec<Vec<u8>> = batch
            .iter()
            .filter(|e| e.event.kind() == kind)
            .map(|e| e.event.to_json())
            .collect();
        if !events.is_empty() {
            deliverer.deliver(kind, events, deadline).await;
        }
    }
}
