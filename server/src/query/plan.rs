//! The planner: which rollup answers a question, and which buckets of it
//! (and which raw rows) cover each interval a view shows, exactly.
//!
//! A rollup answers when it has every dimension the view groups or filters
//! by; the declarations list the smallest first, as OLAP engines pick the
//! smallest projection. An interval is covered by its largest aligned
//! buckets first, then smaller ones at its edges, then raw rows for what is
//! finer than the smallest grain. Every IANA zone's hours and days start on
//! a quarter hour, so rollups with a quarter-hour grain cover local days and
//! hours exactly.
//!
//! Rollups are written in the same transaction as the raw rows, so an open
//! bucket is complete up to the last commit: an interval that reaches the
//! present reads its last, unfinished bucket whole (and with it what has no
//! raw rows, such as executions mapped from OTLP metrics).

use crate::{
    model::{Granularity, time::DAY_MS},
    storage::facts::{Dim, FactDecl, RollupDecl},
};

pub fn floor_to(ms: i64, unit: i64) -> i64 {
    ms.div_euclid(unit) * unit
}

pub fn ceil_to(ms: i64, unit: i64) -> i64 {
    -floor_to(-ms, unit)
}

/// Where a piece of a range is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Raw,
    Rollup(Granularity),
}

/// `[from_ms, to_ms)` read from `source`; rollup pieces are aligned to
/// their grain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub source: Source,
    pub from_ms: i64,
    pub to_ms: i64,
}

/// What bounds the data: the present and the retention.
#[derive(Clone, Copy, Debug)]
pub struct Horizon {
    pub now_ms: i64,
    /// Oldest raw row and sub-day rollup kept (execution retention).
    pub detail_oldest_ms: i64,
}

/// The first rollup of `fact` that has every one of `dims`.
pub fn rollup_for(fact: &'static FactDecl, dims: &[Dim]) -> Option<&'static RollupDecl> {
    fact.rollups.iter().find(|r| r.has_dims(dims))
}

/// Pieces covering the intervals `[bounds[i], bounds[i + 1])` exactly, from
/// `grains` and raw rows. What lies before the detail retention can only
/// come from whole UTC days: that part is widened to its day and read from
/// daily rollups, as a view older than the retention always was.
pub fn pieces(bounds: &[i64], grains: &[Granularity], horizon: Horizon) -> Vec<Piece> {
    let mut grains: Vec<Granularity> = grains
        .iter()
        .copied()
        .filter(|g| *g != Granularity::Total && g.millis().is_some())
        .collect();
    grains.sort_by_key(|g| std::cmp::Reverse(g.millis()));
    let (Some(&start), Some(&end)) = (bounds.first(), bounds.last()) else {
        return Vec::new();
    };
    let mut pieces = Vec::new();
    let mut cursor = start;
    if start < horizon.detail_oldest_ms && grains.contains(&Granularity::Day) {
        let detail_from = ceil_to(horizon.detail_oldest_ms, DAY_MS);
        let old_end = detail_from.min(floor_to(end, DAY_MS));
        let old_start = floor_to(start, DAY_MS);
        if old_start < old_end {
            pieces.push(piece(Source::Rollup(Granularity::Day), old_start, old_end));
            cursor = old_end;
        }
    }
    let last = bounds.len().saturating_sub(2);
    for (i, pair) in bounds.windows(2).enumerate() {
        let (a, b) = (pair[0].max(cursor), pair[1]);
        if a >= b {
            continue;
        }
        let open = i == last && b >= horizon.now_ms;
        decompose(a, b, &grains, open, &mut pieces);
    }
    merge_adjacent(pieces)
}

/// Pieces as [`pieces`], for a rollup some of whose `grains` hold buckets
/// only from an instant on (`starts`: grain, Unix ms on an hour). The range
/// is cut at each start inside it; each part is covered by the grains
/// complete over it.
pub fn pieces_with_starts(
    bounds: &[i64],
    grains: &[Granularity],
    starts: &[(Granularity, i64)],
    horizon: Horizon,
) -> Vec<Piece> {
    let (Some(&start), Some(&end)) = (bounds.first(), bounds.last()) else {
        return Vec::new();
    };
    let mut cuts: Vec<i64> = starts
        .iter()
        .map(|(_, since)| *since)
        .filter(|since| start < *since && *since < end)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts.push(end);
    let mut out = Vec::new();
    let mut from = start;
    for cut in cuts {
        let complete: Vec<Granularity> = grains
            .iter()
            .copied()
            .filter(|g| starts.iter().all(|(s, since)| s != g || *since <= from))
            .collect();
        let mut part = vec![from];
        part.extend(bounds.iter().copied().filter(|b| from < *b && *b < cut));
        part.push(cut);
        out.extend(pieces(&part, &complete, horizon));
        from = cut;
    }
    merge_adjacent(out)
}

/// Covers `[a, b)` with the coarsest aligned buckets, finer ones at the
/// edges, raw rows at last. `open`: nothing lies beyond `b` (it is the
/// present), so the bucket of the finest grain holding `b` may be read
/// whole. Coarser grains stop at their last closed bucket: an open bucket
/// is read from SQL on every call (only closed ones are cached), so the
/// open part is kept as small as the grains allow.
fn decompose(a: i64, b: i64, grains: &[Granularity], open: bool, out: &mut Vec<Piece>) {
    if a >= b {
        return;
    }
    let Some((&grain, finer)) = grains.split_first() else {
        out.push(piece(Source::Raw, a, b));
        return;
    };
    let width = grain.millis().unwrap_or(DAY_MS);
    let lo = ceil_to(a, width);
    let hi = if open && finer.is_empty() {
        ceil_to(b, width)
    } else {
        floor_to(b, width)
    };
    if lo < hi {
        decompose(a, lo, finer, false, out);
        out.push(piece(Source::Rollup(grain), lo, hi));
        if hi < b {
            decompose(hi, b, finer, open, out);
        }
    } else {
        decompose(a, b, finer, open, out);
    }
}

/// Adjacent pieces of one source become one read.
fn merge_adjacent(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut merged: Vec<Piece> = Vec::with_capacity(pieces.len());
    for p in pieces {
        match merged.last_mut() {
            Some(last) if last.source == p.source && last.to_ms == p.from_ms => {
                last.to_ms = p.to_ms
            }
            _ => merged.push(p),
        }
    }
    merged
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
    use crate::model::time::HOUR_MS;

    const T: i64 = 1_795_000_000_000; // a Unix ms not on any boundary
    const ALL: [Granularity; 3] = [
        Granularity::QuarterHour,
        Granularity::Hour,
        Granularity::Day,
    ];

    fn far() -> Horizon {
        Horizon {
            now_ms: i64::MAX,
            detail_oldest_ms: 0,
        }
    }

    fn covered(pieces: &[Piece]) -> i64 {
        pieces.iter().map(|p| p.to_ms - p.from_ms).sum()
    }

    #[test]
    fn short_ranges_read_raw_rows() {
        let p = pieces(&[T, T + 10 * 60_000], &ALL, far());
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].source, Source::Raw);
    }

    #[test]
    fn long_ranges_use_days_hours_quarters_and_raw_edges_without_gaps() {
        let (from, to) = (T, T + 9 * DAY_MS + 5 * HOUR_MS + 47 * 60_000);
        let p = pieces(&[from, to], &ALL, far());
        let sources: Vec<Source> = p.iter().map(|p| p.source).collect();
        use Granularity::*;
        assert_eq!(
            sources,
            [
                Source::Raw,
                Source::Rollup(QuarterHour),
                Source::Rollup(Hour),
                Source::Rollup(Day),
                Source::Rollup(Hour),
                Source::Rollup(QuarterHour),
                Source::Raw,
            ]
        );
        assert_eq!((p[0].from_ms, p.last().unwrap().to_ms), (from, to));
        for pair in p.windows(2) {
            assert_eq!(pair[0].to_ms, pair[1].from_ms);
        }
        assert_eq!(covered(&p), to - from);
        for piece in &p {
            if let Source::Rollup(g) = piece.source {
                assert_eq!(piece.from_ms % g.millis().unwrap(), 0);
                assert_eq!(piece.to_ms % g.millis().unwrap(), 0);
            }
        }
    }

    #[test]
    fn half_hour_zone_days_come_from_hours_and_quarters() {
        // Local days of Asia/Kolkata (UTC+5:30) start at 18:30 UTC.
        let d0 = floor_to(T, DAY_MS) + 18 * HOUR_MS + 30 * 60_000;
        let bounds = [d0, d0 + DAY_MS, d0 + 2 * DAY_MS];
        let p = pieces(&bounds, &ALL, far());
        assert_eq!(covered(&p), 2 * DAY_MS);
        assert!(p.iter().all(|p| p.source != Source::Raw));
        assert!(
            p.iter()
                .all(|p| p.source != Source::Rollup(Granularity::Day))
        );
        // Without a quarter-hour grain the half hours are raw rows.
        let p = pieces(&bounds, &[Granularity::Hour, Granularity::Day], far());
        assert_eq!(p.iter().filter(|p| p.source == Source::Raw).count(), 3);
    }

    #[test]
    fn a_grain_that_starts_late_is_read_from_its_start_only() {
        let quarter = Granularity::QuarterHour;
        let since = floor_to(T, HOUR_MS) + 5 * HOUR_MS;
        let starts = [(quarter, since)];
        // Both ends mid-hour: before the start the first edge is raw, after
        // it the last edge comes from quarter hours.
        let (from, to) = (T - 2 * DAY_MS, since + 7 * HOUR_MS + 20 * 60_000);
        let p = pieces_with_starts(&[from, to], &ALL, &starts, far());
        assert_eq!(covered(&p), to - from);
        for pair in p.windows(2) {
            assert_eq!(pair[0].to_ms, pair[1].from_ms);
        }
        assert!(
            p.iter()
                .filter(|p| p.source == Source::Rollup(quarter))
                .all(|p| p.from_ms >= since)
        );
        assert_eq!(p[0].source, Source::Raw);
        assert!(p[0].to_ms - p[0].from_ms > 15 * 60_000);
        assert_eq!(p[p.len() - 2].source, Source::Rollup(quarter));
        // A range after the start is planned as if the grain had always
        // been there; one before it, as if it did not exist.
        let later = [since + HOUR_MS + 60_000, since + DAY_MS];
        assert_eq!(
            pieces_with_starts(&later, &ALL, &starts, far()),
            pieces(&later, &ALL, far())
        );
        let earlier = [since - DAY_MS - 60_000, since - 60_000];
        assert_eq!(
            pieces_with_starts(&earlier, &ALL, &starts, far()),
            pieces(&earlier, &[Granularity::Hour, Granularity::Day], far())
        );
        // Interval bounds on either side of the start stay bounds.
        let bounds = [since - 3 * HOUR_MS, since - HOUR_MS, since + HOUR_MS];
        let p = pieces_with_starts(&bounds, &ALL, &starts, far());
        assert_eq!(covered(&p), 4 * HOUR_MS);
    }

    #[test]
    fn ranges_older_than_the_detail_start_at_a_day() {
        let from = T - 200 * DAY_MS;
        let horizon = Horizon {
            now_ms: i64::MAX,
            detail_oldest_ms: T - 90 * DAY_MS,
        };
        let p = pieces(&[from, T], &ALL, horizon);
        assert_eq!(p[0].source, Source::Rollup(Granularity::Day));
        assert_eq!(p[0].from_ms, floor_to(from, DAY_MS));
        assert!(p[0].to_ms >= horizon.detail_oldest_ms);
    }

    #[test]
    fn a_range_reaching_now_reads_its_open_buckets_whole() {
        let now = T;
        let horizon = Horizon {
            now_ms: now,
            detail_oldest_ms: 0,
        };
        let p = pieces(&[now - 3 * DAY_MS, now], &ALL, horizon);
        let last = p.last().unwrap();
        // Only the finest grain's open bucket is read whole: the closed
        // days, hours and quarters before it come from the cache.
        let quarter = Granularity::QuarterHour.millis().unwrap();
        assert_eq!(last.source, Source::Rollup(Granularity::QuarterHour));
        assert_eq!(last.to_ms, ceil_to(now, quarter));
        assert!(last.from_ms <= floor_to(now, quarter));
        for coarser in [Granularity::Day, Granularity::Hour] {
            let width = coarser.millis().unwrap();
            assert!(
                p.iter()
                    .filter(|p| p.source == Source::Rollup(coarser))
                    .all(|p| p.to_ms <= floor_to(now, width)),
                "{coarser:?} stops at its last closed bucket: {p:?}"
            );
        }
        assert!(p.iter().all(|p| p.source != Source::Raw || p.to_ms <= now));
        // Only the last interval may end in the present.
        let hour = floor_to(now, HOUR_MS);
        let p = pieces(&[hour - HOUR_MS, hour, now], &ALL, horizon);
        assert_eq!(
            p,
            vec![
                piece(Source::Rollup(Granularity::Hour), hour - HOUR_MS, hour),
                piece(
                    Source::Rollup(Granularity::QuarterHour),
                    hour,
                    ceil_to(now, quarter)
                ),
            ]
        );
        // A rollup without quarter hours reads its open hour whole.
        let p = pieces(
            &[hour - HOUR_MS, now],
            &[Granularity::Hour, Granularity::Day],
            horizon,
        );
        assert_eq!(
            p,
            vec![piece(
                Source::Rollup(Granularity::Hour),
                hour - HOUR_MS,
                hour + HOUR_MS
            )]
        );
    }
}
