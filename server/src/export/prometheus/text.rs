//! Writing the text format: metadata lines, samples, histograms.

use std::fmt::Write;

use crate::histogram::{self, Histogram};

pub(super) fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(
        out,
        "# HELP {name} {}",
        help.replace('\\', "\\\\").replace('\n', "\\n")
    );
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

pub(super) fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", number(value));
}

pub(super) fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub(super) fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// Cumulative buckets at every octave of the stored histogram
/// (0.1 ms · 2^k), then `+Inf`, `_sum` and `_count`.
pub(super) fn histogram_samples(
    out: &mut String,
    name: &str,
    labels: &[(&str, &str)],
    hist: &Histogram,
    sum_seconds: f64,
) {
    let mut cumulative = 0u64;
    let mut bins = hist.bins().iter().peekable();
    let bucket = format!("{name}_bucket");
    for k in 0..=histogram::OCTAVES {
        // Bins below the lower edge of bin 32k+1: one bucket per octave.
        let edge_bin = histogram::PER_OCTAVE * k + 1;
        while let Some((_, n)) = bins.next_if(|(b, _)| usize::from(*b) < edge_bin) {
            cumulative += n;
        }
        let le = number(histogram::lower_edge(edge_bin) / 1000.0);
        let mut with_le: Vec<(&str, &str)> = labels.to_vec();
        with_le.push(("le", &le));
        sample(out, &bucket, &with_le, cumulative as f64);
    }
    let total = hist.total();
    let mut with_le: Vec<(&str, &str)> = labels.to_vec();
    with_le.push(("le", "+Inf"));
    sample(out, &bucket, &with_le, total as f64);
    sample(out, &format!("{name}_sum"), labels, sum_seconds);
    sample(out, &format!("{name}_count"), labels, total as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf() {
        let mut hist = Histogram::new();
        hist.add_to_bin(0, 1); // < 0.1 ms
        hist.add_to_bin(histogram::bin_of(1.5), 2); // 1.5 ms
        hist.add_to_bin(histogram::BINS - 1, 1); // hours
        let mut out = String::new();
        histogram_samples(&mut out, "x_seconds", &[("a", "b\"c")], &hist, 7.5);
        assert!(
            out.contains("x_seconds_bucket{a=\"b\\\"c\",le=\"0.0001\"} 1\n"),
            "{out}"
        );
        assert!(out.contains("le=\"0.0016\"} 3\n"), "{out}");
        assert!(out.contains("le=\"+Inf\"} 4\n"), "{out}");
        assert!(out.contains("x_seconds_sum{a=\"b\\\"c\"} 7.5\n"), "{out}");
        assert!(out.contains("x_seconds_count{a=\"b\\\"c\"} 4\n"), "{out}");
        let counts: Vec<u64> = out
            .lines()
            .filter(|l| l.starts_with("x_seconds_bucket"))
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        assert!(counts.windows(2).all(|w| w[0] <= w[1]));
    }
}
