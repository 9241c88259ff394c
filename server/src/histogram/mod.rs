//! The log-spaced latency histogram kept in every rollup row, so
//! percentiles can be read from rollups over any period, long after the raw
//! rows are gone.
//!
//! Bin 0 counts values below [`BASE_MS`]; bin `i` (1 ≤ i < [`BINS`]−1)
//! counts `[BASE_MS·2^((i−1)/32), BASE_MS·2^(i/32))`; the last bin counts
//! everything from `BASE_MS·2^26` ms (about 1.9 h) up. Thirty-two bins per
//! octave: a percentile interpolated within its bin lies in the same bin as
//! the exact value, so it is within [`RELATIVE_ERROR`] (2.2 %) of it.
//!
//! A [`Histogram`] keeps only its non-empty bins, and is stored as a short
//! blob ([`Histogram::encode`]): a rollup row of a few events costs a few
//! bytes, not a column per bin.

mod sum;

pub use sum::HistogramSum;

/// Bins per octave.
pub const PER_OCTAVE: usize = 32;
/// Octaves between [`BASE_MS`] and the open-ended last bin.
pub const OCTAVES: usize = 26;
/// Number of bins.
pub const BINS: usize = OCTAVES * PER_OCTAVE + 2;
/// Lower edge of bin 1, in milliseconds.
pub const BASE_MS: f64 = 0.1;
/// Bound on the relative error of a percentile read from the histogram:
/// `2^(1/32) − 1`, one bin width on a log scale.
pub const RELATIVE_ERROR: f64 = 0.021_897_148_654_116_68;

/// Lower edge of every bin, in milliseconds. The same values are stored in
/// the `histogram_bins` table so SQL bins raw rows exactly like this code.
static LOWER_EDGES: std::sync::LazyLock<[f64; BINS]> = std::sync::LazyLock::new(|| {
    std::array::from_fn(|i| {
        if i == 0 {
            0.0
        } else {
            BASE_MS * ((i - 1) as f64 / PER_OCTAVE as f64).exp2()
        }
    })
});

/// The bin a value (milliseconds, finite, ≥ 0) falls in: the last bin
/// whose lower edge is at or below it.
pub fn bin_of(ms: f64) -> usize {
    LOWER_EDGES
        .partition_point(|&edge| edge <= ms)
        .saturating_sub(1)
}

/// Lower edge of bin `i` in milliseconds (0 for bin 0).
pub fn lower_edge(i: usize) -> f64 {
    LOWER_EDGES[i.min(BINS - 1)]
}

/// Upper edge of bin `i` in milliseconds (infinite for the last bin).
pub fn upper_edge(i: usize) -> f64 {
    if i >= BINS - 1 {
        f64::INFINITY
    } else {
        lower_edge(i + 1)
    }
}

/// Counts per bin, sparse: `(bin, count)` in bin order, no zero counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    bins: Vec<(u16, u64)>,
}

impl Histogram {
    pub fn new() -> Self {
        Self::default()
    }

    /// One value in milliseconds.
    pub fn record(&mut self, ms: f64) {
        self.add_to_bin(bin_of(ms), 1);
    }

    /// `count` values in `bin`.
    pub fn add_to_bin(&mut self, bin: usize, count: u64) {
        if count == 0 {
            return;
        }
        let bin = bin.min(BINS - 1) as u16;
        match self.bins.binary_search_by_key(&bin, |(b, _)| *b) {
            Ok(at) => self.bins[at].1 += count,
            Err(at) => self.bins.insert(at, (bin, count)),
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Self) {
        match other.bins.len() {
            0 => {}
            _ if self.bins.is_empty() => self.bins.clone_from(&other.bins),
            // Few bins: insert them in place.
            n if n <= 4 => {
                for &(bin, count) in &other.bins {
                    self.add_to_bin(usize::from(bin), count);
                }
            }
            _ => {
                let mut merged = Vec::with_capacity(self.bins.len() + other.bins.len());
                let (mut a, mut b) = (self.bins.iter().peekable(), other.bins.iter().peekable());
                while let (Some(&&(x, m)), Some(&&(y, n))) = (a.peek(), b.peek()) {
                    if x == y {
                        merged.push((x, m + n));
                        a.next();
                        b.next();
                    } else if x < y {
                        merged.push((x, m));
                        a.next();
                    } else {
                        merged.push((y, n));
                        b.next();
                    }
                }
                merged.extend(a);
                merged.extend(b);
                self.bins = merged;
            }
        }
    }

    /// Adds the counts of a histogram in [`Self::encode`]'s form, read as
    /// it is merged; `false` (and `self` unchanged) if it is not one.
    pub fn merge_encoded(&mut self, bytes: &[u8]) -> bool {
        if !Self::is_encoding(bytes) {
            return false;
        }
        let mut merged = Vec::with_capacity(self.bins.len() + bytes.len() / 2);
        let mut mine = self.bins.iter().copied().peekable();
        let (mut at, mut bin) = (0, 0u64);
        while at < bytes.len() {
            // Checked above: every read succeeds.
            bin += read_varint(bytes, &mut at).unwrap_or(0);
            let count = read_varint(bytes, &mut at).unwrap_or(0);
            let bin = bin as u16;
            while let Some(m) = mine.next_if(|(b, _)| *b < bin) {
                merged.push(m);
            }
            match mine.next_if(|(b, _)| *b == bin) {
                Some((_, n)) => merged.push((bin, n + count)),
                None => merged.push((bin, count)),
            }
        }
        merged.extend(mine);
        self.bins = merged;
        true
    }

    /// Whether `bytes` are a histogram in [`Self::encode`]'s form.
    pub fn is_encoding(bytes: &[u8]) -> bool {
        let (mut at, mut bin, mut first) = (0, 0u64, true);
        while at < bytes.len() {
            let (Some(step), Some(count)) =
                (read_varint(bytes, &mut at), read_varint(bytes, &mut at))
            else {
                return false;
            };
            if (step == 0 && !first) || count == 0 {
                return false;
            }
            bin = match bin.checked_add(step) {
                Some(b) if b < BINS as u64 => b,
                _ => return false,
            };
            first = false;
        }
        true
    }

    /// Non-empty bins, in order.
    pub fn bins(&self) -> &[(u16, u64)] {
        &self.bins
    }

    pub fn total(&self) -> u64 {
        self.bins.iter().map(|(_, n)| n).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.bins.is_empty()
    }

    /// The `q`-quantile (0 < q ≤ 1) by nearest rank (the smallest value with
    /// at least `q·n` observations at or below it), estimated inside its bin
    /// by log-linear interpolation: the observations of a bin are taken as
    /// spread evenly on a log scale, and the rank's share of them places the
    /// value. `max`, the largest value seen, bounds the estimate (and gives
    /// the open-ended last bin an upper edge). `None` when empty.
    pub fn quantile(&self, q: f64, max: Option<f64>) -> Option<f64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for &(bin, count) in &self.bins {
            if seen + count >= rank {
                let share = ((rank - seen) as f64 - 0.5) / count as f64;
                let bin = usize::from(bin);
                let (lo, hi) = (lower_edge(bin), upper_edge(bin));
                // A maximum below the bin is not this histogram's (rows
                // that counted values without their maximum): ignore it.
                let bound = max.filter(|m| m.is_finite() && *m >= lo);
                if rank == total
                    && let Some(max) = bound
                {
                    // The largest rank is the maximum itself.
                    return Some(max);
                }
                let hi = bound.map_or(hi, |m| hi.min(m));
                let value = if bin == 0 {
                    hi.min(BASE_MS) * share
                } else if hi.is_finite() && hi > lo {
                    lo * (hi / lo).powf(share)
                } else {
                    lo
                };
                return Some(bound.map_or(value, |m| value.min(m)));
            }
            seen += count;
        }
        None
    }

    /// The stored form: for each bin, the step from the previous bin and the
    /// count, both as LEB128 varints.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bins.len() * 3);
        let mut previous = 0u16;
        for &(bin, count) in &self.bins {
            varint(&mut out, u64::from(bin - previous));
            varint(&mut out, count);
            previous = bin;
        }
        out
    }

    /// Reads [`Self::encode`]'s form; `None` when the bytes are not one.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut bins = Vec::with_capacity(bytes.len() / 2);
        let mut at = 0;
        let mut bin = 0u64;
        while at < bytes.len() {
            let step = read_varint(bytes, &mut at)?;
            let count = read_varint(bytes, &mut at)?;
            bin = bin.checked_add(step)?;
            let previous = bins.last().map(|(b, _): &(u16, u64)| u64::from(*b));
            if bin >= BINS as u64 || count == 0 || previous.is_some_and(|p| p >= bin) {
                return None;
            }
            bins.push((bin as u16, count));
        }
        Some(Self { bins })
    }
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn read_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(values: &[f64]) -> Histogram {
        let mut h = Histogram::new();
        for &v in values {
            h.record(v);
        }
        h
    }

    /// Nearest rank, as the quantile is defined.
    fn exact(sorted: &[f64], q: f64) -> f64 {
        sorted[((q * sorted.len() as f64).ceil() as usize).max(1) - 1]
    }

    #[test]
    fn bins_cover_the_range_in_order() {
        assert_eq!(bin_of(0.0), 0);
        assert_eq!(bin_of(0.099), 0);
        assert_eq!(bin_of(0.1), 1);
        assert_eq!(bin_of(0.2), PER_OCTAVE + 1);
        assert_eq!(bin_of(1e12), BINS - 1);
        let mut previous = 0;
        for step in 0..10_000 {
            let ms = step as f64 * 0.731;
            let bin = bin_of(ms);
            assert!(bin >= previous);
            assert!(
                lower_edge(bin) <= ms && ms < upper_edge(bin),
                "{ms} in bin {bin}"
            );
            previous = bin;
        }
    }

    #[test]
    fn the_constants_agree() {
        assert!((upper_edge(BINS - 2) - BASE_MS * 2f64.powi(OCTAVES as i32)).abs() < 1e-6);
        assert!((RELATIVE_ERROR - (2f64.powf(1.0 / PER_OCTAVE as f64) - 1.0)).abs() < 1e-15);
    }

    #[test]
    fn quantiles_are_within_the_stated_error_everywhere() {
        // Values spread over five decades, every quantile checked.
        let values: Vec<f64> = (1..=5000).map(|i| 0.2 * 1.0023f64.powi(i)).collect();
        let h = of(&values);
        let max = values.last().copied();
        for q in (1..=1000).map(|i| f64::from(i) / 1000.0) {
            let exact = exact(&values, q);
            let estimate = h.quantile(q, max).unwrap();
            let error = (estimate - exact).abs() / exact;
            assert!(error <= RELATIVE_ERROR, "q={q}: {estimate} vs {exact}");
        }
    }

    #[test]
    fn lognormal_percentiles_are_close_and_unbiased() {
        // A deterministic lognormal set (Box–Muller over an LCG).
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut unit = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let mut biases = [0.0; 3];
        for _ in 0..50 {
            let mut values: Vec<f64> = (0..3000)
                .map(|_| {
                    let normal =
                        (-2.0 * unit().ln()).sqrt() * (std::f64::consts::TAU * unit()).cos();
                    (120f64.ln() + normal).exp()
                })
                .collect();
            let h = of(&values);
            values.sort_by(f64::total_cmp);
            for (i, q) in [0.5, 0.95, 0.99].into_iter().enumerate() {
                let exact = exact(&values, q);
                let estimate = h.quantile(q, values.last().copied()).unwrap();
                let error = (estimate - exact) / exact;
                assert!(error.abs() <= 0.03, "q={q}: {estimate} vs {exact}");
                biases[i] += error / 50.0;
            }
        }
        // Unbiased: the mean error over many sets is a small fraction of the bound.
        assert!(biases.iter().all(|b| b.abs() < 0.003), "{biases:?}");
    }

    #[test]
    fn a_single_value_and_the_last_bin_are_bounded_by_the_maximum() {
        let h = of(&[42.0]);
        let estimate = h.quantile(0.5, Some(42.0)).unwrap();
        assert!(estimate <= 42.0 && (42.0 - estimate) / 42.0 <= RELATIVE_ERROR);
        let huge = of(&[1e9, 2e9]);
        assert_eq!(huge.quantile(1.0, Some(2e9)), Some(2e9));
        assert_eq!(of(&[0.0, 0.0]).quantile(0.5, Some(0.0)), Some(0.0));
    }

    #[test]
    fn merging_adds_and_the_blob_round_trips() {
        let mut a = of(&[1.0, 5.0, 5.0, 900.0]);
        let b = of(&[0.01, 5.0, 1e10]);
        a.merge(&b);
        assert_eq!(a.total(), 7);
        assert_eq!(a, of(&[1.0, 5.0, 5.0, 900.0, 0.01, 5.0, 1e10]));
        let bytes = a.encode();
        assert_eq!(Histogram::decode(&bytes), Some(a.clone()));
        assert!(bytes.len() < 16, "{} bytes", bytes.len());
        assert_eq!(Histogram::decode(&[]), Some(Histogram::new()));
        assert_eq!(Histogram::decode(&[0x80]), None, "truncated varint");
        assert_eq!(Histogram::decode(&[5, 0]), None, "zero count");
        let mut c = of(&[2.0, 700.0]);
        assert!(c.merge_encoded(&bytes));
        let mut expected = a.clone();
        expected.merge(&of(&[2.0, 700.0]));
        assert_eq!(c, expected);
        assert!(!c.merge_encoded(&[0x80]));
        assert!(Histogram::is_encoding(&bytes) && !Histogram::is_encoding(&[5, 0]));
    }

    #[test]
    fn empty_histogram_has_no_quantile() {
        assert_eq!(Histogram::new().quantile(0.5, None), None);
    }
}
