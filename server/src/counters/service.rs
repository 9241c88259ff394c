//! Feeds the counter store from the writer, off the ingest path, and keeps
//! it correct: any lost update (store unreachable, too slow, queue full)
//! marks the counters stale, and they are rebuilt from SQLite as soon as the
//! store answers again.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::{sync::mpsc, task::JoinHandle};

use super::{
    CounterRow, CounterStore, CounterUpdate, DAYS_KEPT, ERRORS, EXECUTIONS, Fields, HOURS_KEPT,
    LiveCounters, MINUTES_KEPT, TIME_MS, Window, key_field, language_field, rows_of, status_field,
};
use crate::{
    clock,
    model::{ExecStatus, time::MINUTE_MS},
    storage::{
        Storage,
        live::{HourCount, HourDim},
    },
};

/// Updates waiting for the store. Beyond this the writer drops updates and
/// asks for a rebuild rather than wait.
const QUEUE: usize = 4096;
/// How often a stale store is retried.
const RETRY_EVERY: Duration = Duration::from_secs(2);

/// Cheap to clone handle on the counters.
#[derive(Clone)]
pub struct Counters {
    store: Arc<dyn CounterStore>,
    updates: mpsc::Sender<CounterUpdate>,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    /// Some update was not applied: the store must be rebuilt.
    stale: AtomicBool,
}

impl Counters {
    /// Starts the task that applies updates and rebuilds the store. It ends
    /// once every `Counters` handle is dropped.
    pub fn start(
        store: Arc<dyn CounterStore>,
        storage: Storage,
        metrics: Arc<crate::self_metrics::SelfMetrics>,
    ) -> (Self, JoinHandle<()>) {
        let (updates, receiver) = mpsc::channel(QUEUE);
        let state = Arc::new(State {
            // Start stale: the first tick loads the counters from SQLite.
            stale: AtomicBool::new(true),
        });
        let task = tokio::spawn(run(
            Arc::clone(&store),
            storage,
            receiver,
            Arc::clone(&state),
            metrics,
        ));
        (
            Self {
                store,
                updates,
                state,
            },
            task,
        )
    }

    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// Queues an update without waiting. If the queue is full the update is
    /// dropped and a rebuild requested: SQLite has the data.
    pub fn submit(&self, update: CounterUpdate) {
        if self.updates.try_send(update).is_err() {
            self.state.stale.store(true, Ordering::Release);
        }
    }

    /// True when the counters reflect everything committed (give or take the
    /// updates in flight).
    pub fn is_fresh(&self) -> bool {
        !self.state.stale.load(Ordering::Acquire)
    }

    pub async fn live(&self) -> Result<LiveCounters, super::CounterError> {
        let minute = clock::now_ms().div_euclid(MINUTE_MS);
        let [this_minute, this_hour, today] = Window::containing_minute(minute);
        Ok(LiveCounters {
            backend: self.backend().to_owned(),
            fresh: self.is_fresh(),
            this_minute: self.store.read(this_minute).await?,
            last_minute: self.store.read(Window::Minute(minute - 1)).await?,
            this_hour: self.store.read(this_hour).await?,
            today: self.store.read(today).await?,
        })
    }
}

async fn run(
    store: Arc<dyn CounterStore>,
    storage: Storage,
    mut receiver: mpsc::Receiver<CounterUpdate>,
    state: Arc<State>,
    metrics: Arc<crate::self_metrics::SelfMetrics>,
) {
    // Updates whose rows a rebuild already counted are skipped.
    let mut counted_through: i64 = 0;
    // Whether the current outage has been logged.
    let mut outage_logged = false;
    let mut retry = tokio::time::interval(RETRY_EVERY);
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            update = receiver.recv() => {
                let Some(update) = update else { break };
                if state.stale.load(Ordering::Acquire) || update.commit <= counted_through {
                    continue;
                }
                let rows = rows_of(&update, clock::now_ms().div_euclid(MINUTE_MS));
                if let Err(error) = store.apply(&rows).await {
                    metrics.counter_errors.fetch_add(1, Ordering::Relaxed);
                    state.stale.store(true, Ordering::Release);
                    if !outage_logged {
                        tracing::warn!(%error, backend = store.backend(),
                            "Counter store unavailable; ingest continues, counters will be rebuilt from SQLite.");
                        outage_logged = true;
                    }
                }
            }
            _ = retry.tick() => {
                if !state.stale.load(Ordering::Acquire) {
                    continue;
                }
                match rebuild(store.as_ref(), &storage).await {
                    Ok(through) => {
                        counted_through = through;
                        state.stale.store(false, Ordering::Release);
                        if outage_logged {
                            tracing::info!(backend = store.backend(), "Counter store back; counters rebuilt from SQLite.");
                            outage_logged = false;
                        }
                    }
                    Err(error) => {
                        metrics.counter_errors.fetch_add(1, Ordering::Relaxed);
                        if !outage_logged {
                            tracing::warn!(%error, backend = store.backend(),
                                "Counter store unavailable; ingest continues, counters will be rebuilt from SQLite.");
                            outage_logged = true;
                        }
                    }
                }
            }
        }
    }
}

/// Replaces every kept window with what SQLite holds. Returns the last
/// execution row the snapshot included.
async fn rebuild(store: &dyn CounterStore, storage: &Storage) -> anyhow::Result<i64> {
    let now_minute = clock::now_ms().div_euclid(MINUTE_MS);
    // Hours and days come from the hourly rollups; the oldest kept day
    // starts before the oldest kept hour, so read from the day.
    let first_hour = now_minute.div_euclid(60) - HOURS_KEPT + 1;
    let first_day = now_minute.div_euclid(1440) - DAYS_KEPT + 1;
    let snapshot = storage
        .live_snapshot(
            now_minute - MINUTES_KEPT + 1,
            first_hour.min(first_day * 24),
        )
        .await?;
    let mut fields = Fields::default();
    for r in &snapshot.minutes {
        fields.add_row(&CounterRow {
            window: Window::Minute(r.unit),
            key: r.key.clone(),
            language: r.language.clone(),
            status: r.status.clone(),
            executions: r.executions,
            time_ms: r.time_ms,
        });
    }
    for count in &snapshot.hours {
        let mut windows = Vec::with_capacity(2);
        if count.hour >= first_hour {
            windows.push(Window::Hour(count.hour));
        }
        if count.hour.div_euclid(24) >= first_day {
            windows.push(Window::Day(count.hour.div_euclid(24)));
        }
        for window in windows {
            add_hour_count(&mut fields, window, count);
        }
    }
    store
        .replace(&Window::all_kept(now_minute), &fields)
        .await?;
    Ok(snapshot.through_commit)
}

/// Adds an hour's count to `window`'s fields: the totals (errors are the
/// executions that did not complete), or the field of one dimension's
/// value. Values without executions get no field, as with deltas.
fn add_hour_count(fields: &mut Fields, window: Window, count: &HourCount) {
    let n = count.executions;
    match &count.of {
        HourDim::Total { time_ms } => {
            fields.add(window, EXECUTIONS.to_owned(), n);
            fields.add(window, TIME_MS.to_owned(), time_ms.round() as i64);
        }
        HourDim::Status(status) if n != 0 => {
            fields.add(window, status_field(status.as_str()), n);
            let errors = if *status == ExecStatus::Completed {
                0
            } else {
                n
            };
            fields.add(window, ERRORS.to_owned(), errors);
        }
        HourDim::Language(language) if n != 0 => fields.add(window, language_field(language), n),
        HourDim::Key(key) if n != 0 => fields.add(window, key_field(key.as_deref()), n),
        _ => {}
    }
}
