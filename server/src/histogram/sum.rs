//! A histogram being added up: one count per bin, so adding a stored blob
//! is one pass over its bytes, with no allocation and no merge of sorted
//! lists. Views sum hundreds to thousands of rollup rows' histograms into a
//! few groups; the sparse [`Histogram`] stays the stored and returned form.

use super::{BINS, Histogram, read_varint};

/// Counts per bin, allocated on the first count.
#[derive(Clone, Debug, Default)]
pub struct HistogramSum {
    counts: Option<Box<[u64]>>,
}

impl HistogramSum {
    pub fn new() -> Self {
        Self::default()
    }

    fn counts(&mut self) -> &mut [u64] {
        self.counts
            .get_or_insert_with(|| vec![0; BINS].into_boxed_slice())
    }

    /// `count` values in `bin` (the last bin for any bin past it).
    pub fn add_to_bin(&mut self, bin: usize, count: u64) {
        if count > 0 {
            self.counts()[bin.min(BINS - 1)] += count;
        }
    }

    /// Adds a histogram in [`Histogram::encode`]'s form. The blob is taken
    /// as checked ([`Histogram::is_encoding`]) when it was read; bytes that
    /// are not one add what they spell, clamped to the bins, never more.
    pub fn add_encoded(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let counts = self.counts();
        let (mut at, mut bin) = (0, 0usize);
        while at < bytes.len() {
            let (Some(step), Some(count)) =
                (read_varint(bytes, &mut at), read_varint(bytes, &mut at))
            else {
                return;
            };
            bin = bin.saturating_add(usize::try_from(step).unwrap_or(usize::MAX));
            counts[bin.min(BINS - 1)] += count;
        }
    }

    /// The sum in the sparse form.
    pub fn finish(self) -> Histogram {
        let bins = self.counts.map_or_else(Vec::new, |counts| {
            counts
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(bin, n)| (bin as u16, *n))
                .collect()
        });
        Histogram { bins }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summing_blobs_equals_merging_histograms() {
        let parts: Vec<Histogram> = (0..20)
            .map(|i| {
                let mut h = Histogram::new();
                for v in 0..(50 + i * 7) {
                    h.record(f64::from(v * (i + 1)) * 1.7);
                }
                h
            })
            .collect();
        let mut merged = Histogram::new();
        let mut sum = HistogramSum::new();
        for part in &parts {
            merged.merge(part);
            sum.add_encoded(&part.encode());
        }
        sum.add_to_bin(3, 2);
        merged.add_to_bin(3, 2);
        assert_eq!(sum.finish(), merged);
        assert_eq!(HistogramSum::new().finish(), Histogram::new());
    }

    #[test]
    fn a_corrupt_blob_neither_panics_nor_counts_past_its_bytes() {
        let mut sum = HistogramSum::new();
        // A step far past the last bin, then a truncated varint.
        sum.add_encoded(&[0xff, 0xff, 0x7f, 5, 0x80]);
        let h = sum.finish();
        assert_eq!(h.bins(), &[((BINS - 1) as u16, 5)]);
    }
}
