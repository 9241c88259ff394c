//! The single writer: a bounded buffer of validated batches, drained by one
//! task that commits many requests' batches in one SQLite transaction (group
//! commit) and answers each request only once its events are durable.

use std::sync::Arc;

use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot},
    task::JoinHandle,
};

use crate::{
    clock,
    counters::Counters,
    model::Batch,
    storage::{
        Storage,
        commit::{BatchOutcome, MappedExecutions, WriterState},
    },
};

/// A group stops growing at this many events: big enough to amortise the
/// commit, small enough to keep the transaction short.
const MAX_GROUP_EVENTS: usize = 20_000;

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum WriteError {
    #[error("a batch of {events} events can never fit the ingest buffer of {capacity} events")]
    TooLarge { events: usize, capacity: usize },
    #[error("the ingest buffer is full ({capacity} events waiting); retry shortly")]
    BufferFull { capacity: usize },
    #[error("the database is busy; retry shortly")]
    Busy,
    #[error("the database is out of disk space")]
    DiskFull,
    #[error("the database is read-only")]
    ReadOnly,
    #[error("the database could not store the events; see the server log")]
    Storage,
    #[error("the server is shutting down")]
    ShuttingDown,
}

enum Job {
    Batch {
        batch: Batch,
        reply: oneshot::Sender<Result<BatchOutcome, WriteError>>,
        /// Buffer space held until the job is answered.
        _permit: OwnedSemaphorePermit,
    },
    /// Execution increments from OTLP metrics: rollups only.
    Mapped {
        items: Vec<MappedExecutions>,
        reply: oneshot::Sender<Result<(), WriteError>>,
    },
}

/// Handle for submitting batches. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::UnboundedSender<Job>,
    buffer: Arc<Semaphore>,
    capacity: usize,
    /// Why the last commit failed; `None` once one succeeds again.
    last_failure: Arc<std::sync::Mutex<Option<WriteError>>>,
}

/// The writer task; [`WriterTask::drain`] stops it after the buffer is empty.
pub struct WriterTask {
    close: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl WriterTask {
    /// Refuses new batches, commits every batch already buffered, and waits
    /// for the task to end.
    pub async fn drain(self) {
        let _ = self.close.send(());
        if let Err(error) = self.task.await {
            tracing::error!(%error, "Writer task failed.");
        }
    }
}

impl Writer {
    /// Starts the writer task. `capacity` (METRICS_BUFFER_SIZE) bounds the
    /// events accepted but not yet committed.
    pub fn start(
        storage: Storage,
        counters: Counters,
        capacity: usize,
        metrics: Arc<crate::self_metrics::SelfMetrics>,
    ) -> (Self, WriterTask) {
        let (jobs, receiver) = mpsc::unbounded_channel();
        let (close, closed) = oneshot::channel();
        let last_failure = Arc::new(std::sync::Mutex::new(None));
        let task = tokio::spawn(run(
            storage,
            counters,
            receiver,
            closed,
            Arc::clone(&last_failure),
            metrics,
        ));
        let writer = Self {
            jobs,
            buffer: Arc::new(Semaphore::new(capacity)),
            capacity,
            last_failure,
        };
        (writer, WriterTask { close, task })
    }

    /// Events accepted and not yet committed.
    pub fn buffered(&self) -> usize {
        self.capacity - self.buffer.available_permits()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Why the last group commit failed, if the database has not accepted
    /// one since.
    pub fn last_failure(&self) -> Option<WriteError> {
        self.last_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Buffers the batch and waits until it is committed. Fails at once,
    /// without waiting, when the buffer has no room.
    pub async fn write(&self, batch: Batch) -> Result<BatchOutcome, WriteError> {
        let events = batch.len();
        if events > self.capacity {
            return Err(WriteError::TooLarge {
                events,
                capacity: self.capacity,
            });
        }
        let permits = u32::try_from(events).map_err(|_| WriteError::TooLarge {
            events,
            capacity: self.capacity,
        })?;
        let permit = Arc::clone(&self.buffer)
            .try_acquire_many_owned(permits)
            .map_err(|_| WriteError::BufferFull {
                capacity: self.capacity,
            })?;
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Batch {
                batch,
                reply,
                _permit: permit,
            })
            .map_err(|_| WriteError::ShuttingDown)?;
        answer.await.unwrap_or(Err(WriteError::ShuttingDown))
    }

    /// Adds execution increments mapped from OTLP metrics to the rollups,
    /// through the same writer as the events (it owns the open rollup rows).
    pub async fn add_mapped(&self, items: Vec<MappedExecutions>) -> Result<(), WriteError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Mapped { items, reply })
            .map_err(|_| WriteError::ShuttingDown)?;
        answer.await.unwrap_or(Err(WriteError::ShuttingDown))
    }
}

async fn run(
    storage: Storage,
    counters: Counters,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    mut close: oneshot::Receiver<()>,
    last_failure: Arc<std::sync::Mutex<Option<WriteError>>>,
    metrics: Arc<crate::self_metrics::SelfMetrics>,
) {
    let mut state = WriterState::new(clock::now_ms());
    let mut closing = false;
    loop {
        let first = tokio::select! {
            job = jobs.recv() => match job {
                Some(job) => job,
                None => break,
            },
            _ = &mut close, if !closing => {
                // Stop accepting; what is queued is still received below.
                jobs.close();
                closing = true;
                continue;
            }
        };
        let mut group = Vec::new();
        let mut events = 0;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Batch {
                    batch,
                    reply,
                    _permit,
                } => {
                    events += batch.len();
                    group.push(Pending {
                        batch,
                        reply,
                        _permit,
                    });
                }
                Job::Mapped { items, reply } => {
                    // Keeps the order of work: what came before goes first.
                    if !group.is_empty() {
                        let outcome =
                            commit(&storage, &counters, &mut state, std::mem::take(&mut group))
                                .await;
                        *last_failure.lock().unwrap_or_else(|p| p.into_inner()) = outcome.err();
                        events = 0;
                    }
                    let result = storage
                        .commit_mapped(&items, &mut state, clock::now_ms())
                        .await
                        .map_err(|e| classify(&e));
                    let _ = reply.send(result);
                }
            }
            if events < MAX_GROUP_EVENTS {
                next = jobs.try_recv().ok();
            }
        }
        if group.is_empty() {
            continue;
        }
        let started = std::time::Instant::now();
        let outcome = commit(&storage, &counters, &mut state, group).await;
        metrics
            .commit_duration
            .record(started.elapsed().as_secs_f64());
        *last_failure.lock().unwrap_or_else(|p| p.into_inner()) = outcome.err();
    }
    tracing::debug!("Writer drained.");
}

/// A batch waiting in a group.
struct Pending {
    batch: Batch,
    reply: oneshot::Sender<Result<BatchOutcome, WriteError>>,
    _permit: OwnedSemaphorePermit,
}

/// Commits a group and answers its requests; returns the failure, if any.
async fn commit(
    storage: &Storage,
    counters: &Counters,
    state: &mut WriterState,
    group: Vec<Pending>,
) -> Result<(), WriteError> {
    let batches: Vec<&Batch> = group.iter().map(|job| &job.batch).collect();
    let started = std::time::Instant::now();
    let now_ms = clock::now_ms();
    // The counter deltas are built while SQLite commits, and sent once it
    // has.
    let result = storage
        .commit_group(&batches, state, now_ms, |outcome| {
            super::counter_deltas::of_commit(&batches, &outcome.stored, outcome.commit_seq, now_ms)
        })
        .await;
    match result {
        Ok((outcome, update)) => {
            tracing::debug!(
                requests = group.len(),
                elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
                "Group committed."
            );
            if let Some(update) = update {
                counters.submit(update);
            }
            for (job, batch_outcome) in group.into_iter().zip(outcome.batches) {
                let _ = job.reply.send(Ok(batch_outcome));
            }
            Ok(())
        }
        Err(error) => {
            let kind = classify(&error);
            if kind == WriteError::Busy {
                tracing::warn!(%error, "Group commit: database busy; requests told to retry.");
            } else {
                tracing::error!(%error, "Group commit failed; requests told to retry.");
            }
            for job in group {
                let _ = job.reply.send(Err(kind.clone()));
            }
            Err(kind)
        }
    }
}

/// Maps SQLite's primary result codes to what the client is told.
fn classify(error: &sqlx::Error) -> WriteError {
    let code = match error {
        sqlx::Error::Database(db) => db.code().and_then(|c| c.parse::<i64>().ok()),
        sqlx::Error::PoolTimedOut => return WriteError::Busy,
        _ => None,
    };
    // Extended result codes carry the primary code in the low byte.
    match code.map(|c| c & 0xff) {
        Some(5 | 6) => WriteError::Busy,  // SQLITE_BUSY, SQLITE_LOCKED
        Some(13) => WriteError::DiskFull, // SQLITE_FULL
        Some(8) => WriteError::ReadOnly,  // SQLITE_READONLY
        _ => WriteError::Storage,
    }
}
