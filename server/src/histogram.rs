//! The fixed log-spaced latency histogram stored in every rollup row
//! (columns `h000`..`h105`), so percentiles can be read from rollups over
//! any period, long after the raw rows are gone.
//!
//! Bin 0 counts values below [`BASE_MS`]; bin `i` (1 ≤ i < [`BINS`]−1)
//! counts `[BASE_MS·2^((i−1)/4), BASE_MS·2^(i/4))`; the last bin counts
//! everything above. Four bins per octave: a percentile reported as the
//! geometric middle of its bin is within [`RELATIVE_ERROR`] of the exact
//! value for values between 0.1 ms and 1.9 h.

/// Number of bins (and of `hNNN` columns).
pub const BINS: usize = 106;
/// Lower edge of bin 1, in milliseconds.
pub const BASE_MS: f64 = 0.1;
const PER_OCTAVE: f64 = 4.0;
/// Bound on the relative error of a percentile read from the histogram:
/// `2^(1/8) − 1`, half a bin width on a log scale.
pub const RELATIVE_ERROR: f64 = 0.090_507_732_665_257_7;

/// Counts per bin.
pub type Counts = [u64; BINS];

/// Lower edge of every bin, in milliseconds. The same values are stored in
/// the `histogram_bins` table so SQL bins raw rows exactly like this code.
static LOWER_EDGES: std::sync::LazyLock<[f64; BINS]> = std::sync::LazyLock::new(|| {
    std::array::from_fn(|i| {
        if i == 0 {
            0.0
        } else {
            BASE_MS * ((i - 1) as f64 / PER_OCTAVE).exp2()
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

/// The value reported for a bin: its geometric middle, half the base for
/// bin 0, and the lower edge for the open-ended last bin.
fn representative(i: usize) -> f64 {
    match i {
        0 => BASE_MS / 2.0,
        i if i >= BINS - 1 => lower_edge(i),
        i => (lower_edge(i) * upper_edge(i)).sqrt(),
    }
}

/// The `q`-quantile (0 < q ≤ 1) by nearest rank: the smallest value with at
/// least `q·n` observations at or below it. `None` when the histogram is empty.
pub fn quantile(counts: &Counts, q: f64) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (i, &count) in counts.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return Some(representative(i));
        }
    }
    Some(representative(BINS - 1))
}

/// Names of the histogram columns, `h000`..`h105`.
pub fn column_names() -> impl Iterator<Item = String> {
    (0..BINS).map(|i| format!("h{i:03}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_the_range_in_order() {
        assert_eq!(bin_of(0.0), 0);
        assert_eq!(bin_of(0.099), 0);
        assert_eq!(bin_of(0.1), 1);
        assert_eq!(bin_of(0.2), 5);
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
    fn edges_match_the_migration_comment() {
        assert!((upper_edge(BINS - 2) - BASE_MS * 2f64.powi(26)).abs() < 1e-6);
        assert!((RELATIVE_ERROR - (2f64.powf(0.125) - 1.0)).abs() < 1e-15);
    }

    #[test]
    fn quantiles_are_within_the_stated_error() {
        // Values spread over five decades.
        let values: Vec<f64> = (1..=5000).map(|i| 0.2 * 1.0023f64.powi(i)).collect();
        let mut counts = [0; BINS];
        for &v in &values {
            counts[bin_of(v)] += 1;
        }
        for q in [0.5, 0.9, 0.95, 0.99, 0.999] {
            let rank = ((q * values.len() as f64).ceil() as usize).max(1);
            let exact = values[rank - 1];
            let estimate = quantile(&counts, q).unwrap();
            let error = (estimate - exact).abs() / exact;
            assert!(
                error <= RELATIVE_ERROR,
                "q={q}: {estimate} vs {exact} ({error})"
            );
        }
    }

    #[test]
    fn empty_histogram_has_no_quantile() {
        assert_eq!(quantile(&[0; BINS], 0.5), None);
    }
}
