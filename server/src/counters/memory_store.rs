//! In-process counters, used when `REDIS_URL` is unset. Same windows, same
//! fields and same expiry as the Redis store, so the rest of Tally cannot
//! tell them apart.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use super::{CounterError, CounterRow, CounterStore, Fields, Window, WindowCounts};

/// Each window's expiry and fields.
type Windows = HashMap<Window, (Instant, HashMap<String, i64>)>;

#[derive(Default)]
pub struct MemoryStore {
    windows: Mutex<Windows>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with_windows<T>(&self, f: impl FnOnce(&mut Windows) -> T) -> T {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        windows.retain(|_, (expires, _)| *expires > now);
        f(&mut windows)
    }
}

fn add<'a>(windows: &mut Windows, fields: impl IntoIterator<Item = (Window, &'a str, i64)>) {
    for (window, field, increment) in fields {
        let ttl = Duration::from_secs(window.ttl_secs().unsigned_abs());
        let (expires, values) = windows
            .entry(window)
            .or_insert_with(|| (Instant::now() + ttl, HashMap::new()));
        *expires = (*expires).max(Instant::now() + ttl);
        match values.get_mut(field) {
            Some(value) => *value += increment,
            None => drop(values.insert(field.to_owned(), increment)),
        }
    }
}

#[async_trait::async_trait]
impl CounterStore for MemoryStore {
    fn backend(&self) -> &'static str {
        "in-process"
    }

    async fn apply(&self, rows: &[CounterRow]) -> Result<(), CounterError> {
        let mut fields = Fields::default();
        rows.iter().for_each(|row| fields.add_row(row));
        self.with_windows(|windows| add(windows, fields.iter()));
        Ok(())
    }

    async fn replace(&self, clear: &[Window], fields: &Fields) -> Result<(), CounterError> {
        self.with_windows(|windows| {
            for window in clear {
                windows.remove(window);
            }
            add(windows, fields.iter());
        });
        Ok(())
    }

    async fn read(&self, window: Window) -> Result<WindowCounts, CounterError> {
        Ok(self.with_windows(|windows| {
            windows
                .get(&window)
                .map(|(_, fields)| super::decode_fields(fields.clone()))
                .unwrap_or_default()
        }))
    }
}
