//! Which rollups (or raw rows) answer a time range. Rollups are written in
//! the same transaction as the raw rows, so the current hour's and day's
//! rollup rows are complete up to the last commit: raw rows are read only
//! for the parts of a range that do not cover a whole hour.

use crate::storage::queries::{Piece, Source};

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;

pub fn floor_to(ms: i64, unit: i64) -> i64 {
    ms.div_euclid(unit) * unit
}

pub fn ceil_to(ms: i64, unit: i64) -> i64 {
    -floor_to(-ms, unit)
}

/// Exact pieces for `[from_ms, to_ms)`: raw rows for sub-hour edges, hourly
/// rollups for whole hours, daily rollups for whole UTC days.
///
/// Raw rows and hourly rollups older than `detail_oldest_ms` (the execution
/// retention) are gone; a range starting before it is widened to the start
/// of its UTC day and read from daily rollups.
///
/// A range that reaches `now_ms` reads its last, unfinished hour from the
/// hourly rollup instead of raw rows: the rollup is complete up to the last
/// commit, and it also holds what has no raw rows (executions mapped from
/// OTLP metrics).
pub fn exact(from_ms: i64, to_ms: i64, detail_oldest_ms: i64, now_ms: i64) -> Vec<Piece> {
    let current_hour = floor_to(to_ms, HOUR_MS);
    if to_ms >= now_ms && from_ms < current_hour {
        let mut pieces = closed(from_ms, current_hour, detail_oldest_ms);
        pieces.push(piece(Source::Hourly, current_hour, current_hour + HOUR_MS));
        return pieces;
    }
    closed(from_ms, to_ms, detail_oldest_ms)
}

/// [`exact`] for a range that does not reach the present.
fn closed(from_ms: i64, to_ms: i64, detail_oldest_ms: i64) -> Vec<Piece> {
    let mut from = from_ms;
    if from < detail_oldest_ms {
        from = floor_to(from, DAY_MS);
    }
    let h0 = ceil_to(from, HOUR_MS);
    let h1 = floor_to(to_ms, HOUR_MS);
    if h0 >= h1 {
        return vec![piece(Source::Raw, from, to_ms)];
    }
    let mut pieces = Vec::with_capacity(5);
    if from < h0 {
        pieces.push(piece(Source::Raw, from, h0));
    }
    let d0 = ceil_to(h0, DAY_MS);
    let d1 = floor_to(h1, DAY_MS);
    if d0 < d1 {
        if h0 < d0 {
            pieces.push(piece(Source::Hourly, h0, d0));
        }
        pieces.push(piece(Source::Daily, d0, d1));
        if d1 < h1 {
            pieces.push(piece(Source::Hourly, d1, h1));
        }
    } else {
        pieces.push(piece(Source::Hourly, h0, h1));
    }
    if h1 < to_ms {
        pieces.push(piece(Source::Raw, h1, to_ms));
    }
    pieces
}

/// Whole hours covering `[from_ms, to_ms)` from hourly rollups, for views
/// that place data by hour (time series, heatmap). The part older than
/// `detail_oldest_ms`, if any, comes from daily rollups.
pub fn hourly(from_ms: i64, to_ms: i64, detail_oldest_ms: i64) -> Vec<Piece> {
    let from = floor_to(from_ms, HOUR_MS);
    let to = ceil_to(to_ms, HOUR_MS);
    let oldest_hour = ceil_to(detail_oldest_ms, DAY_MS);
    if from >= oldest_hour {
        return vec![piece(Source::Hourly, from, to)];
    }
    let split = oldest_hour.min(to);
    let mut pieces = vec![piece(Source::Daily, floor_to(from, DAY_MS), split)];
    if split < to {
        pieces.push(piece(Source::Hourly, split, to));
    }
    pieces
}

fn piece(source: Source, from_ms: i64, to_ms: i64) -> Piece {
    Piece {
        source,
        from_ms,
        to_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_795_000_000_000; // a Unix ms not on any boundary
    const OLD: i64 = 0;

    fn covered(pieces: &[Piece]) -> i64 {
        pieces.iter().map(|p| p.to_ms - p.from_ms).sum()
    }

    #[test]
    fn short_ranges_read_raw_rows() {
        let p = exact(T, T + 20 * 60_000, OLD, i64::MAX);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].source, Source::Raw);
    }

    #[test]
    fn long_ranges_use_days_hours_and_raw_edges_without_gaps() {
        let from = T;
        let to = T + 9 * DAY_MS + 5 * HOUR_MS + 17 * 60_000;
        let p = exact(from, to, OLD, i64::MAX);
        let sources: Vec<Source> = p.iter().map(|p| p.source).collect();
        assert_eq!(
            sources,
            vec![
                Source::Raw,
                Source::Hourly,
                Source::Daily,
                Source::Hourly,
                Source::Raw
            ]
        );
        assert_eq!(p.first().unwrap().from_ms, from);
        assert_eq!(p.last().unwrap().to_ms, to);
        for pair in p.windows(2) {
            assert_eq!(pair[0].to_ms, pair[1].from_ms);
        }
        assert_eq!(covered(&p), to - from);
        for piece in &p {
            match piece.source {
                Source::Daily => assert_eq!(piece.from_ms % DAY_MS, 0),
                Source::Hourly => assert_eq!(piece.from_ms % HOUR_MS, 0),
                Source::Raw | Source::Total => {}
            }
        }
    }

    #[test]
    fn ranges_older_than_the_detail_start_at_a_day() {
        let from = T - 200 * DAY_MS;
        let p = exact(from, T, T - 90 * DAY_MS, i64::MAX);
        assert_eq!(p[0].source, Source::Daily);
        assert_eq!(p[0].from_ms, floor_to(from, DAY_MS));
    }

    #[test]
    fn a_range_reaching_now_reads_the_current_hour_from_its_rollup() {
        let now = T;
        let p = exact(now - 3 * HOUR_MS, now, OLD, now);
        let last = p.last().unwrap();
        assert_eq!(
            (last.source, last.from_ms),
            (Source::Hourly, floor_to(now, HOUR_MS))
        );
        assert!(
            p.iter()
                .all(|p| p.source != Source::Raw || p.to_ms <= floor_to(now, HOUR_MS))
        );
    }

    #[test]
    fn hourly_plans_whole_hours() {
        let p = hourly(T, T + 3 * HOUR_MS, OLD);
        assert_eq!(
            p,
            vec![piece(
                Source::Hourly,
                floor_to(T, HOUR_MS),
                ceil_to(T + 3 * HOUR_MS, HOUR_MS)
            )]
        );
        let p = hourly(T - 100 * DAY_MS, T, T - 90 * DAY_MS);
        assert_eq!(p[0].source, Source::Daily);
        assert_eq!(p[1].source, Source::Hourly);
        assert_eq!(p[0].to_ms, p[1].from_ms);
    }
}
