//! Background work: what runs on a period (retention here, alerts, the
//! host sampler and the OTLP export elsewhere) shares [`every`]'s loop, and
//! every such task joins one [`Tasks`] set that stops them together.

pub mod retention;

use std::time::Duration;

use tokio::{
    sync::watch,
    task::JoinHandle,
    time::{Interval, MissedTickBehavior},
};

/// Ticks `period` apart until a stop signal; see [`Every::tick`].
pub fn every(period: Duration, stop: watch::Receiver<bool>) -> Every {
    every_after(Duration::ZERO, period, stop)
}

/// As [`every`], the first tick `delay` from now.
pub fn every_after(delay: Duration, period: Duration, stop: watch::Receiver<bool>) -> Every {
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + delay, period);
    // A tick that took longer than the period delays the next one rather
    // than bunching the missed ones together.
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    Every { interval, stop }
}

pub struct Every {
    interval: Interval,
    stop: watch::Receiver<bool>,
}

impl Every {
    /// Waits for the next tick (the first comes at once, or after the
    /// delay of [`every_after`]): `false` once the
    /// stop signal has been sent or its sender is gone.
    pub async fn tick(&mut self) -> bool {
        if *self.stop.borrow_and_update() {
            return false;
        }
        tokio::select! {
            _ = self.interval.tick() => true,
            _ = self.stop.changed() => false,
        }
    }
}

/// The background tasks that stop on one signal: each is given
/// [`Tasks::stop_signal`] when it starts, and [`Tasks::stop`] sends it and
/// waits for every one of them.
pub struct Tasks {
    stop: watch::Sender<bool>,
    running: Vec<(&'static str, JoinHandle<()>)>,
}

impl Default for Tasks {
    fn default() -> Self {
        Self {
            stop: watch::channel(false).0,
            running: Vec::new(),
        }
    }
}

impl Tasks {
    /// The signal a task started into this set waits on.
    pub fn stop_signal(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    pub fn add(&mut self, name: &'static str, task: JoinHandle<()>) {
        self.running.push((name, task));
    }

    /// Signals every task to stop and waits until they have.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        for (name, task) in self.running {
            if let Err(error) = task.await {
                tracing::error!(task = name, %error, "A background task failed.");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ticks_come_a_period_apart_until_the_stop_signal() {
        let mut tasks = Tasks::default();
        let mut ticks = every(Duration::from_secs(60), tasks.stop_signal());
        let (count, counted) = tokio::sync::mpsc::unbounded_channel();
        tasks.add(
            "counter",
            tokio::spawn(async move {
                while ticks.tick().await {
                    count.send(tokio::time::Instant::now()).unwrap();
                }
            }),
        );
        tokio::time::sleep(Duration::from_secs(150)).await;
        tasks.stop().await;
        let mut counted = counted;
        let mut at = Vec::new();
        while let Ok(t) = counted.try_recv() {
            at.push(t);
        }
        // At 0, 60 and 120 s; none after the stop.
        assert_eq!(at.len(), 3);
        assert_eq!(at[1] - at[0], Duration::from_secs(60));
        assert_eq!(at[2] - at[1], Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn a_delayed_first_tick_comes_after_its_delay() {
        let tasks = Tasks::default();
        let started = tokio::time::Instant::now();
        let mut ticks = every_after(
            Duration::from_secs(60),
            Duration::from_secs(3600),
            tasks.stop_signal(),
        );
        assert!(ticks.tick().await);
        assert_eq!(started.elapsed(), Duration::from_secs(60));
        assert!(ticks.tick().await);
        assert_eq!(started.elapsed(), Duration::from_secs(3660));
    }

    #[tokio::test]
    async fn a_stopped_signal_ends_the_loop_before_its_first_tick() {
        let tasks = Tasks::default();
        let mut ticks = every(Duration::from_secs(60), tasks.stop_signal());
        tasks.stop().await;
        assert!(!ticks.tick().await);
    }
}
