//! Rollup rows of closed buckets (UTC days and hours), decoded and kept in
//! memory, so the dashboard's ranges are added up in Rust instead of
//! summing a hundred histogram columns per row in SQL.
//!
//! A bucket is cached only once it is over, and dropped again whenever a
//! commit touches it (late events) or retention removes it; a load that
//! raced with such a change is not kept (generation check). The cache holds
//! at most its byte budget (`TALLY_QUERY_CACHE_MB`): beyond it the least
//! recently used buckets go first.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use super::queries::DimValue;

/// One rollup row: the fact's dimensions, measures and histogram (sparse:
/// bin, count).
#[derive(Clone, Debug)]
pub struct CachedRow {
    pub dims: Vec<DimValue>,
    pub values: Vec<f64>,
    pub hist: Vec<(u8, u64)>,
}

impl CachedRow {
    /// Heap and inline bytes, with the allocator's overhead per allocation:
    /// what the budget counts.
    fn bytes(&self) -> usize {
        let dims: usize = self
            .dims
            .iter()
            .map(|d| {
                std::mem::size_of::<DimValue>()
                    + match d {
                        DimValue::Text(t) => t.capacity() + ALLOCATION,
                        DimValue::Int(_) => 0,
                    }
            })
            .sum();
        std::mem::size_of::<Self>()
            + dims
            + self.values.capacity() * std::mem::size_of::<f64>()
            + self.hist.capacity() * std::mem::size_of::<(u8, u64)>()
            + 3 * ALLOCATION
    }
}

/// What one heap allocation costs beyond its bytes (header, rounding).
const ALLOCATION: usize = 32;

pub type Day = Arc<Vec<CachedRow>>;

/// (rollup table, bucket start in seconds).
type Key = (&'static str, i64);

struct Entry {
    rows: Day,
    bytes: usize,
    /// Tick of the last use, for least-recently-used eviction.
    used: u64,
}

#[derive(Default)]
struct Buckets {
    entries: HashMap<Key, Entry>,
    bytes: usize,
    tick: u64,
}

pub struct DayCache {
    budget: usize,
    buckets: Mutex<Buckets>,
    generations: Mutex<HashMap<Key, u64>>,
}

impl std::fmt::Debug for DayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let buckets = lock(&self.buckets);
        f.debug_struct("DayCache")
            .field("budget", &self.budget)
            .field("bytes", &buckets.bytes)
            .field("buckets", &buckets.entries.len())
            .finish()
    }
}

impl DayCache {
    /// A cache holding at most `budget` bytes of decoded rows.
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            buckets: Mutex::default(),
            generations: Mutex::default(),
        }
    }

    pub fn get(&self, fact: &'static str, day: i64) -> Option<Day> {
        let mut buckets = lock(&self.buckets);
        buckets.tick += 1;
        let tick = buckets.tick;
        buckets.entries.get_mut(&(fact, day)).map(|entry| {
            entry.used = tick;
            entry.rows.clone()
        })
    }

    /// The generation to pass to [`Self::insert`] for a load starting now.
    pub fn generation(&self, fact: &'static str, day: i64) -> u64 {
        lock(&self.generations)
            .get(&(fact, day))
            .copied()
            .unwrap_or(0)
    }

    /// Keeps a loaded bucket, unless it changed since `generation` or is
    /// larger than the whole budget; evicts the least recently used ones
    /// beyond the budget.
    pub fn insert(&self, fact: &'static str, day: i64, generation: u64, rows: Day) {
        let generations = lock(&self.generations);
        if generations.get(&(fact, day)).copied().unwrap_or(0) != generation {
            return;
        }
        let bytes = rows.iter().map(CachedRow::bytes).sum::<usize>() + 64;
        if bytes > self.budget {
            return;
        }
        let mut buckets = lock(&self.buckets);
        buckets.tick += 1;
        let used = buckets.tick;
        if let Some(old) = buckets
            .entries
            .insert((fact, day), Entry { rows, bytes, used })
        {
            buckets.bytes -= old.bytes;
        }
        buckets.bytes += bytes;
        while buckets.bytes > self.budget {
            let Some(coldest) = buckets
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| *k)
            else {
                break;
            };
            if let Some(gone) = buckets.entries.remove(&coldest) {
                buckets.bytes -= gone.bytes;
            }
        }
    }

    /// A commit changed `day` of `fact`.
    pub fn invalidate(&self, fact: &'static str, day: i64) {
        let mut generations = lock(&self.generations);
        *generations.entry((fact, day)).or_default() += 1;
        let mut buckets = lock(&self.buckets);
        if let Some(gone) = buckets.entries.remove(&(fact, day)) {
            buckets.bytes -= gone.bytes;
        }
    }

    /// Retention removed every bucket before `day`.
    pub fn invalidate_before(&self, day: i64) {
        let stale: Vec<Key> = lock(&self.buckets)
            .entries
            .keys()
            .filter(|(_, d)| *d < day)
            .copied()
            .collect();
        for (fact, d) in stale {
            self.invalidate(fact, d);
        }
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        lock(&self.buckets).bytes
    }

    /// Whether `count` more buckets of `table` would likely fit in half the
    /// budget, judging by the ones of that table held now (yes when none
    /// are, no without a budget). Callers read ranges that do not fit some other way: loading
    /// them bucket by bucket would only evict what the next query needs.
    pub fn would_fit(&self, table: &'static str, count: usize) -> bool {
        let buckets = lock(&self.buckets);
        let (n, bytes) = buckets
            .entries
            .iter()
            .filter(|((t, _), _)| *t == table)
            .fold((0usize, 0usize), |(n, b), (_, e)| (n + 1, b + e.bytes));
        self.budget > 0 && (n == 0 || bytes / n * count <= self.budget / 2)
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
        let cache = DayCache::new(1 << 20);
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

    #[test]
    fn the_least_recently_used_buckets_go_beyond_the_budget() {
        let row = || CachedRow {
            dims: vec![DimValue::Int(1)],
            values: vec![1.0; 10],
            hist: vec![(3, 1)],
        };
        let one = Arc::new(vec![row(); 10]);
        let size = one.iter().map(CachedRow::bytes).sum::<usize>() + 64;
        let cache = DayCache::new(3 * size);
        for day in 0..3 {
            cache.insert("f", day, 0, one.clone());
        }
        assert_eq!(cache.bytes(), 3 * size);
        // Day 0 is used, so day 1 is the coldest when day 3 comes in.
        assert!(cache.get("f", 0).is_some());
        cache.insert("f", 3, 0, one.clone());
        assert!(cache.get("f", 1).is_none());
        for day in [0, 2, 3] {
            assert!(cache.get("f", day).is_some(), "{day}");
        }
        assert_eq!(cache.bytes(), 3 * size);
        // A bucket larger than the whole budget is not kept.
        cache.insert("f", 9, 0, Arc::new(vec![row(); 100]));
        assert!(cache.get("f", 9).is_none());
        cache.invalidate("f", 0);
        assert_eq!(cache.bytes(), 2 * size);
        // Half the budget is 1.5 buckets of this size.
        assert!(cache.would_fit("f", 1));
        assert!(!cache.would_fit("f", 2));
        assert!(cache.would_fit("other", 1000), "no measure yet: try");
        assert!(!DayCache::new(0).would_fit("f", 1), "no cache: no buckets");
    }
}
