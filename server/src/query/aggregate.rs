//! The one way views read facts: a question (intervals, dimensions to group
//! by, filters, measures) becomes a plan of rollup and raw pieces, whose
//! rows are added up per interval and group.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::{
    Context, QueryError,
    plan::{self, Horizon, Piece, Source, ceil_to},
};
use crate::{
    histogram::{Histogram, HistogramSum},
    model::{
        Granularity,
        time::{DAY_MS, HOUR_MS, MINUTE_MS},
    },
    storage::{
        facts::{Dim, DimValues, Fact, MAX_DIMS, Measure, Merge, Values},
        raw_read::RawRead,
        rollup_read::{DimFilter, RollupRead, RowRef},
    },
};

/// What a view asks of a fact.
pub struct Ask<'a, F> {
    /// Interval boundaries (Unix ms): groups are per `[bounds[i], bounds[i+1])`.
    pub bounds: &'a [i64],
    pub group_by: &'a [Dim],
    pub filters: &'a [DimFilter],
    /// The measures to read; `None`: all.
    pub measures: Option<&'a [Measure<F>]>,
    pub hist: bool,
}

/// One group: its interval (index into the bounds), its dimension values
/// (in `group_by` order), measures and histogram.
#[derive(Debug)]
pub struct Group<F> {
    pub interval: usize,
    pub dims: DimValues,
    pub values: Values<F>,
    pub hist: Histogram,
}

impl<F> Clone for Group<F> {
    fn clone(&self) -> Self {
        Self {
            interval: self.interval,
            dims: self.dims,
            values: self.values.clone(),
            hist: self.hist.clone(),
        }
    }
}

impl<F: Fact> Group<F> {
    pub fn get(&self, measure: Measure<F>) -> f64 {
        self.values.get(measure)
    }

    /// A percentile, bounded by the group's largest value `max`.
    pub fn quantile(&self, q: f64, max: Measure<F>) -> Option<f64> {
        self.hist.quantile(q, Some(self.values.get(max)))
    }
}

/// The groups of `ask`, sorted by interval and dimensions.
pub async fn aggregate<F: Fact>(
    ctx: &Context,
    ask: &Ask<'_, F>,
) -> Result<Vec<Group<F>>, QueryError> {
    let fact = F::DECL;
    let mut needed: Vec<Dim> = ask.group_by.to_vec();
    needed.extend(ask.filters.iter().map(|f| f.dim));
    let rollup = plan::rollup_for(fact, &needed).ok_or_else(|| {
        QueryError::Unanswerable(format!("{}: no rollup has {needed:?}", fact.name))
    })?;
    if ask.bounds.len() < 2 || ask.filters.iter().any(|f| f.values.is_empty()) {
        return Ok(Vec::new());
    }
    let mut measures: Vec<usize> = match ask.measures {
        Some(list) => list.iter().map(|m| m.index()).collect(),
        None => (0..fact.measures.len()).collect(),
    };
    // A measure kept "last by" another needs that one read too.
    for m in measures.clone() {
        if let Merge::LastBy(at) = fact.measures[m].merge
            && !measures.contains(&at)
        {
            measures.push(at);
        }
    }
    let horizon = Horizon {
        now_ms: ctx.now_ms,
        detail_oldest_ms: ctx.detail_oldest_ms,
    };
    let detail_from = ceil_to(ctx.detail_oldest_ms, DAY_MS);
    let pieces = plan::pieces_with_starts(
        ask.bounds,
        rollup.grains,
        &ctx.storage.grain_starts(rollup),
        horizon,
    );
    let mut groups = Groups::<F>::new(ask, &measures);
    // Where each grouped dimension sits in the rollup's rows.
    let at: Vec<Option<usize>> = ask
        .group_by
        .iter()
        .map(|d| rollup.dims.iter().position(|r| r == d))
        .collect();
    // One read per grain, over all its spans: a key filter's rows come in
    // one query however many buckets the intervals cut the range into.
    let mut spans: BTreeMap<Granularity, Vec<(i64, i64)>> = BTreeMap::new();
    for piece in &pieces {
        if let Source::Rollup(grain) = piece.source {
            spans
                .entry(grain)
                .or_default()
                .push((piece.from_ms.div_euclid(1000), piece.to_ms.div_euclid(1000)));
        }
    }
    let regroup = hourly_phase(ask, &measures);
    for (grain, spans) in &spans {
        let width = grain.millis().unwrap_or(0);
        let read = RollupRead {
            fact,
            rollup,
            grain: *grain,
            spans,
            filters: ask.filters,
            measures: &measures,
            hist: ask.hist,
            now_ms: ctx.now_ms,
            // Quarter hours may be added up into the hours the intervals
            // are made of (the local hours of a :30 or :45 zone).
            regroup: regroup.filter(|_| width > 0 && width < HOUR_MS),
        };
        ctx.storage
            .read_rollup(&read, |row| {
                // Days older than the detail retention are placed by their
                // middle (their UTC date); the rest by their start.
                let t = if *grain == Granularity::Day && row.bucket_ms < detail_from {
                    row.bucket_ms + width / 2
                } else {
                    row.bucket_ms.max(ask.bounds[0])
                };
                let mut dims = [0; MAX_DIMS];
                for (slot, at) in dims.iter_mut().zip(&at) {
                    *slot = at.map_or(0, |i| row.dims[i]);
                }
                groups.add(t, dims, &row);
            })
            .await?;
    }
    for piece in pieces.iter().filter(|p| p.source == Source::Raw) {
        let read = RawRead {
            fact,
            from_ms: piece.from_ms,
            to_ms: piece.to_ms,
            bucket_ms: spans_intervals(piece, ask.bounds).then_some(MINUTE_MS),
            dims: ask.group_by,
            filters: ask.filters,
            measures: &measures,
            hist: ask.hist,
        };
        ctx.storage
            .read_raw(&read, |row| groups.add(row.bucket_ms, *row.dims, &row))
            .await?;
    }
    Ok(groups.finish())
}

/// `(3600, phase)` when every interval boundary inside the range falls at
/// the same second past the hour (`phase`, a whole quarter hour), at least
/// an hour apart, and the asked measures merge in SQL (no histogram, none
/// "last by"): finer rows can then be summed into phased hours in SQL.
fn hourly_phase<F: Fact>(ask: &Ask<'_, F>, measures: &[usize]) -> Option<(i64, i64)> {
    if ask.hist
        || measures
            .iter()
            .any(|m| matches!(F::DECL.measures[*m].merge, Merge::LastBy(_)))
    {
        return None;
    }
    let inner = ask.bounds.get(1..ask.bounds.len().saturating_sub(1))?;
    let first = *inner.first()?;
    let phase = first.div_euclid(1000).rem_euclid(3600);
    let aligned = inner
        .iter()
        .all(|b| b.rem_euclid(1000) == 0 && b.div_euclid(1000).rem_euclid(3600) == phase)
        && inner.windows(2).all(|w| w[1] - w[0] >= HOUR_MS);
    (aligned && phase % 900 == 0).then_some((3600, phase))
}

/// Whether a raw piece crosses an interval boundary (then its rows are
/// grouped by minute, and every boundary is a whole minute).
fn spans_intervals(piece: &Piece, bounds: &[i64]) -> bool {
    bounds
        .iter()
        .any(|b| *b > piece.from_ms && *b < piece.to_ms)
}

struct Groups<'a, F> {
    bounds: &'a [i64],
    measures: &'a [usize],
    merges: Vec<Merge>,
    hist: bool,
    map: FxHashMap<(usize, DimValues), (Values<F>, HistogramSum)>,
}

impl<'a, F: Fact> Groups<'a, F> {
    fn new(ask: &'a Ask<'a, F>, measures: &'a [usize]) -> Self {
        Self {
            bounds: ask.bounds,
            measures,
            merges: F::DECL.measures.iter().map(|m| m.merge).collect(),
            hist: ask.hist,
            map: FxHashMap::default(),
        }
    }

    fn add(&mut self, t: i64, dims: DimValues, row: &RowRef<'_>) {
        let interval = self.bounds.partition_point(|b| *b <= t);
        if interval == 0 || interval >= self.bounds.len() {
            return;
        }
        let (values, hist) = self
            .map
            .entry((interval - 1, dims))
            .or_insert_with(|| (Values::new(), HistogramSum::new()));
        for &m in self.measures {
            let Some(v) = row.value(m) else { continue };
            let current = values.get_raw(m);
            let merged = match self.merges[m] {
                Merge::Sum => current + v,
                Merge::Max => current.max(v),
                Merge::Min => current.min(v),
                Merge::LastBy(at) => match row.value(at) {
                    Some(ts) if ts >= values.get_raw(at) => v,
                    _ => current,
                },
            };
            values.set_raw(m, merged);
        }
        if self.hist {
            row.add_hist_to(hist);
        }
    }

    fn finish(self) -> Vec<Group<F>> {
        let mut groups: Vec<Group<F>> = self
            .map
            .into_iter()
            .map(|((interval, dims), (values, hist))| Group {
                interval,
                dims,
                values,
                hist: hist.finish(),
            })
            .collect();
        groups.sort_by_key(|g| (g.interval, g.dims));
        groups
    }
}
