//! Rollup rows of closed buckets (UTC days, and the last hours), decoded
//! and kept in memory, so the dashboard's ranges are added up in Rust
//! instead of summing a hundred histogram columns per row in SQL.
//!
//! A bucket is cached only once it is over, and dropped again whenever a
//! commit touches it (late events) or retention removes it; a load that
//! raced with such a change is not kept (generation check).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use super::queries::DimValue;

/// One daily rollup row: the fact's dimensions, measures and histogram
/// (sparse: bin, count).
#[derive(Clone, Debug)]
pub struct CachedRow {
    pub dims: Vec<DimValue>,
    pub values: Vec<f64>,
    pub hist: Vec<(u8, u64)>,
}

pub type Day = Arc<Vec<CachedRow>>;

/// Buckets kept per rollup table; older ones are dropped first.
const MAX_BUCKETS: usize = 400;

/// (rollup table, bucket start in seconds).
type Key = (&'static str, i64);

#[derive(Debug, Default)]
pub struct DayCache {
    days: Mutex<HashMap<Key, Day>>,
    generations: Mutex<HashMap<Key, u64>>,
}

impl DayCache {
    pub fn get(&self, fact: &'static str, day: i64) -> Option<Day> {
        lock(&self.days).get(&(fact, day)).cloned()
    }

    /// The generation to pass to [`Self::insert`] for a load starting now.
    pub fn generation(&self, fact: &'static str, day: i64) -> u64 {
        lock(&self.generations)
            .get(&(fact, day))
            .copied()
            .unwrap_or(0)
    }

    /// Keeps a loaded day, unless it changed since `generation`.
    pub fn insert(&self, fact: &'static str, day: i64, generation: u64, rows: Day) {
        let generations = lock(&self.generations);
        if generations.get(&(fact, day)).copied().unwrap_or(0) != generation {
            return;
        }
        let mut days = lock(&self.days);
        days.insert((fact, day), rows);
        let of_fact = days.keys().filter(|(f, _)| *f == fact).count();
        if of_fact > MAX_BUCKETS
            && let Some(oldest) = days
                .keys()
                .filter(|(f, _)| *f == fact)
                .map(|(_, d)| *d)
                .min()
        {
            days.remove(&(fact, oldest));
        }
    }

    /// A commit changed `day` of `fact`.
    pub fn invalidate(&self, fact: &'static str, day: i64) {
        let mut generations = lock(&self.generations);
        *generations.entry((fact, day)).or_default() += 1;
        lock(&self.days).remove(&(fact, day));
    }

    /// Retention removed every day before `day`.
    pub fn invalidate_before(&self, day: i64) {
        let stale: Vec<Key> = lock(&self.days)
            .keys()
            .filter(|(_, d)| *d < day)
            .copied()
            .collect();
        for (fact, d) in stale {
            self.invalidate(fact, d);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_that_raced_with_a_commit_is_not_kept() {
        let cache = DayCache::default();
        let generation = cache.generation("f", 86_400);
        cache.invalidate("f", 86_400);
        cache.insert("f", 86_400, generation, Arc::new(Vec::new()));
        assert!(cache.get("f", 86_400).is_none());
        let generation = cache.generation("f", 86_400);
        cache.insert("f", 86_400, generation, Arc::new(Vec::new()));
        assert!(cache.get("f", 86_400).is_some());
        cache.invalidate_before(2 * 86_400);
        assert!(cache.get("f", 86_400).is_none());
    }
}
