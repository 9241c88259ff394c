//! Rollup rows of closed buckets, decoded and kept in memory column by
//! column, so a view over many buckets adds them up in Rust instead of
//! reading them through SQL again.
//!
//! A bucket is cached only once it is over, and dropped whenever a commit
//! touches it (late events) or retention removes it; a load that raced with
//! such a change is not kept (generation check). Only the measures a view
//! asked for are loaded. The cache holds at most its byte budget
//! (`TALLY_QUERY_CACHE_MB`): beyond it the least recently used buckets go
//! first.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use super::facts::DimValues;
use crate::model::Granularity;

/// The rows of one bucket: dimensions, then the loaded measure columns
/// (`None`: not loaded) and, if loaded, the histograms (as stored: a few
/// bytes per bin).
#[derive(Debug, Default)]
pub struct BucketRows {
    pub dims: Vec<DimValues>,
    pub columns: Vec<Option<Vec<f64>>>,
    pub hist: Option<Blobs>,
}

/// Byte strings end to end: one allocation for a bucket's histograms.
#[derive(Debug, Default)]
pub struct Blobs {
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

impl Blobs {
    pub fn push(&mut self, blob: &[u8]) {
        self.bytes.extend_from_slice(blob);
        self.ends
            .push(u32::try_from(self.bytes.len()).unwrap_or(u32::MAX));
    }

    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    fn bytes(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * 4 + 2 * ALLOCATION
    }
}

impl BucketRows {
    /// Gives back what the loading vectors reserved beyond their rows.
    pub fn shrink_to_fit(&mut self) {
        self.dims.shrink_to_fit();
        for column in self.columns.iter_mut().flatten() {
            column.shrink_to_fit();
        }
        if let Some(hist) = &mut self.hist {
            hist.bytes.shrink_to_fit();
            hist.ends.shrink_to_fit();
        }
    }

    /// Whether `measures` (and the histogram, if asked) are all loaded.
    pub fn has(&self, measures: &[usize], hist: bool) -> bool {
        (!hist || self.hist.is_some())
            && measures
                .iter()
                .all(|m| self.columns.get(*m).is_some_and(Option::is_some))
    }

    /// Heap bytes, with the allocator's overhead: what the budget counts.
    fn bytes(&self) -> usize {
        let columns: usize = self
            .columns
            .iter()
            .flatten()
            .map(|c| c.capacity() * 8 + ALLOCATION)
            .sum();
        let hist: usize = self.hist.as_ref().map_or(0, Blobs::bytes);
        std::mem::size_of::<Self>()
            + self.dims.capacity() * std::mem::size_of::<DimValues>()
            + self.columns.capacity() * std::mem::size_of::<Option<Vec<f64>>>()
            + columns
            + hist
            + 3 * ALLOCATION
    }
}

/// What one heap allocation costs beyond its bytes (header, rounding).
const ALLOCATION: usize = 32;

/// (rollup table, grain, bucket start in seconds).
pub type Key = (&'static str, Granularity, i64);

struct Entry {
    rows: Arc<BucketRows>,
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

pub struct BucketCache {
    budget: usize,
    buckets: Mutex<Buckets>,
    generations: Mutex<HashMap<Key, u64>>,
}

impl std::fmt::Debug for BucketCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let buckets = lock(&self.buckets);
        f.debug_struct("BucketCache")
            .field("budget", &self.budget)
            .field("bytes", &buckets.bytes)
            .field("buckets", &buckets.entries.len())
            .finish()
    }
}

impl BucketCache {
    /// A cache holding at most `budget` bytes of decoded rows.
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            buckets: Mutex::default(),
            generations: Mutex::default(),
        }
    }

    pub fn budget(&self) -> usize {
        self.budget
    }

    pub fn get(&self, key: &Key) -> Option<Arc<BucketRows>> {
        let mut buckets = lock(&self.buckets);
        buckets.tick += 1;
        let tick = buckets.tick;
        buckets.entries.get_mut(key).map(|entry| {
            entry.used = tick;
            Arc::clone(&entry.rows)
        })
    }

    /// The generation to pass to [`Self::insert`] for a load starting now.
    pub fn generation(&self, key: &Key) -> u64 {
        lock(&self.generations).get(key).copied().unwrap_or(0)
    }

    /// Keeps a loaded bucket, unless it changed since `generation` or is
    /// larger than the whole budget; evicts the least recently used ones
    /// beyond the budget.
    pub fn insert(&self, key: Key, generation: u64, rows: Arc<BucketRows>) {
        let generations = lock(&self.generations);
        if generations.get(&key).copied().unwrap_or(0) != generation {
            return;
        }
        let bytes = rows.bytes() + 64;
        if bytes > self.budget {
            return;
        }
        let mut buckets = lock(&self.buckets);
        buckets.tick += 1;
        let used = buckets.tick;
        if let Some(old) = buckets.entries.insert(key, Entry { rows, bytes, used }) {
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

    /// A commit changed this bucket.
    pub fn invalidate(&self, key: Key) {
        let mut generations = lock(&self.generations);
        *generations.entry(key).or_default() += 1;
        let mut buckets = lock(&self.buckets);
        if let Some(gone) = buckets.entries.remove(&key) {
            buckets.bytes -= gone.bytes;
        }
    }

    /// Retention removed the buckets of `table` at `grains` before `bucket`.
    pub fn invalidate_before(&self, table: &str, grains: &[Granularity], bucket: i64) {
        let stale: Vec<Key> = lock(&self.buckets)
            .entries
            .keys()
            .filter(|(t, g, b)| *t == table && grains.contains(g) && *b < bucket)
            .copied()
            .collect();
        for key in stale {
            self.invalidate(key);
        }
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        lock(&self.buckets).bytes
    }

    /// Whether `count` more buckets of `table` at `grain` would likely fit
    /// in half the budget, judging by the ones held now (yes when none are,
    /// no without a budget). Ranges that do not fit are read without the
    /// cache: loading them bucket by bucket would only evict what the next
    /// query needs.
    pub fn would_fit(&self, table: &str, grain: Granularity, count: usize) -> bool {
        let buckets = lock(&self.buckets);
        let (n, bytes) = buckets
            .entries
            .iter()
            .filter(|((t, g, _), _)| *t == table && *g == grain)
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

    const H: Granularity = Granularity::Hour;

    fn rows(n: usize) -> Arc<BucketRows> {
        Arc::new(BucketRows {
            dims: vec![[1, 0, 0]; n],
            columns: vec![Some(vec![1.0; n]), None],
            hist: None,
        })
    }

    #[test]
    fn a_load_that_raced_with_a_commit_is_not_kept() {
        let cache = BucketCache::new(1 << 20);
        let key = ("t", H, 3600);
        let generation = cache.generation(&key);
        cache.invalidate(key);
        cache.insert(key, generation, rows(1));
        assert!(cache.get(&key).is_none());
        let generation = cache.generation(&key);
        cache.insert(key, generation, rows(1));
        assert!(cache.get(&key).is_some_and(|r| r.has(&[0], false)));
        assert!(!cache.get(&key).unwrap().has(&[0, 1], false));
        cache.invalidate_before("t", &[H], 7200);
        assert!(cache.get(&key).is_none());
    }

    #[test]
    fn the_least_recently_used_buckets_go_beyond_the_budget() {
        let size = rows(10).bytes() + 64;
        let cache = BucketCache::new(3 * size);
        for b in 0..3 {
            cache.insert(("t", H, b), 0, rows(10));
        }
        assert_eq!(cache.bytes(), 3 * size);
        assert!(cache.get(&("t", H, 0)).is_some());
        cache.insert(("t", H, 3), 0, rows(10));
        assert!(cache.get(&("t", H, 1)).is_none(), "the coldest went");
        for b in [0, 2, 3] {
            assert!(cache.get(&("t", H, b)).is_some(), "{b}");
        }
        cache.insert(("t", H, 9), 0, rows(1000));
        assert!(cache.get(&("t", H, 9)).is_none(), "larger than the budget");
        assert!(cache.would_fit("t", H, 1));
        assert!(!cache.would_fit("t", H, 2));
        assert!(cache.would_fit("other", H, 1000), "no measure yet: try");
        assert!(
            !BucketCache::new(0).would_fit("t", H, 1),
            "no cache: no buckets"
        );
    }
}
