//! A commit's rollup increments, added up in memory ([`Deltas`]) so that
//! each rollup row is written once per commit however many events hit it.

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use super::facts::{self, DimValues, FactDecl, MAX_DIMS, RollupDecl};
use crate::{histogram::Histogram, model::Granularity};

/// Which rollup row: fact and rollup (indices in the declarations), grain,
/// bucket start (Unix seconds), and the rollup's dimension values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowKey {
    pub fact: u8,
    pub rollup: u8,
    pub grain: Granularity,
    pub bucket: i64,
    pub dims: DimValues,
}

impl RowKey {
    pub fn decl(&self) -> (&'static FactDecl, &'static RollupDecl) {
        let fact = facts::ALL[usize::from(self.fact)];
        (fact, &fact.rollups[usize::from(self.rollup)])
    }

    /// The end of the row's bucket, Unix ms (`i64::MAX` for all time).
    pub(super) fn end_ms(&self) -> i64 {
        self.grain
            .millis()
            .map_or(i64::MAX, |width| self.bucket * 1000 + width)
    }
}

/// A rollup row's measures and histogram.
#[derive(Clone, Debug, PartialEq)]
pub struct RowValues {
    pub values: Box<[f64]>,
    pub hist: Histogram,
}

/// A commit's increments. Events are added up first per cell (fact, every
/// dimension, bucket of the fact's finest grain, of which every other grain
/// is a whole number), so an event costs one map entry however many rollups
/// and grains it feeds; the cells are spread over the rollups when written.
#[derive(Default)]
pub struct Deltas {
    cells: FxHashMap<(u8, DimValues, i64), RowValues>,
    rows: FxHashMap<RowKey, RowValues>,
}

impl Deltas {
    /// Adds one event's measures; `hist_bin` is the histogram bin of its
    /// value, if the fact has a histogram. `dims` are in the fact's order.
    pub fn add_event(
        &mut self,
        fact_index: usize,
        ts_ms: i64,
        dims: &DimValues,
        values: &[f64],
        hist_bin: Option<usize>,
    ) {
        let fact = facts::ALL[fact_index];
        let cell = self
            .cells
            .entry((fact_index as u8, *dims, cell_of(fact_index, ts_ms)))
            .or_insert_with(|| RowValues {
                values: fact.identity(),
                hist: Histogram::new(),
            });
        fact.merge(&mut cell.values, values);
        if let Some(bin) = hist_bin {
            cell.hist.add_to_bin(bin, 1);
        }
    }

    /// Adds a group's measures and histogram (mapped OTLP increments).
    pub fn add(
        &mut self,
        fact_index: usize,
        ts_ms: i64,
        dims: &DimValues,
        values: &[f64],
        hist: &Histogram,
    ) {
        self.add_event(fact_index, ts_ms, dims, values, None);
        let at = cell_of(fact_index, ts_ms);
        if let Some(cell) = self.cells.get_mut(&(fact_index as u8, *dims, at)) {
            cell.hist.merge(hist);
        }
    }

    /// Adds to every rollup of the fact that has grain `only`, at that grain
    /// alone. `dims` are in the fact's order.
    pub fn add_at(
        &mut self,
        fact_index: usize,
        ts_ms: i64,
        dims: &DimValues,
        values: &[f64],
        hist: &Histogram,
        only: Granularity,
    ) {
        let fact = facts::ALL[fact_index];
        for (r, rollup) in fact.rollups.iter().enumerate() {
            if rollup.has_grain(only) {
                let projected = project(fact, rollup, dims);
                self.add_rollup(fact_index, r, ts_ms, &projected, values, hist, only);
            }
        }
    }

    /// Adds to one rollup at one grain; `dims` are in the rollup's order.
    #[allow(clippy::too_many_arguments)]
    pub fn add_rollup(
        &mut self,
        fact_index: usize,
        rollup: usize,
        ts_ms: i64,
        dims: &DimValues,
        values: &[f64],
        hist: &Histogram,
        grain: Granularity,
    ) {
        let key = RowKey {
            fact: fact_index as u8,
            rollup: rollup as u8,
            grain,
            bucket: grain.bucket_of(ts_ms),
            dims: *dims,
        };
        merge_row(&mut self.rows, key, values, hist);
    }

    /// Spreads the cells over every rollup and grain of their fact.
    pub(super) fn into_rows(self) -> FxHashMap<RowKey, RowValues> {
        let mut rows = self.rows;
        for ((fact_index, dims, at), cell) in self.cells {
            let fact = facts::ALL[usize::from(fact_index)];
            for (r, rollup) in fact.rollups.iter().enumerate() {
                let projected = project(fact, rollup, &dims);
                for grain in rollup.grains {
                    let key = RowKey {
                        fact: fact_index,
                        rollup: r as u8,
                        grain: *grain,
                        bucket: grain.bucket_of(at * 1000),
                        dims: projected,
                    };
                    merge_row(&mut rows, key, &cell.values, &cell.hist);
                }
            }
        }
        rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.cells.is_empty()
    }
}

/// The start (Unix seconds) of the cell holding `ts_ms`: its bucket of the
/// fact's finest grain.
fn cell_of(fact_index: usize, ts_ms: i64) -> i64 {
    static FINEST: LazyLock<Vec<Granularity>> =
        LazyLock::new(|| facts::ALL.iter().map(|f| f.finest_grain()).collect());
    FINEST[fact_index].bucket_of(ts_ms)
}

/// A fact's dimension values (in its order) projected onto a rollup's.
fn project(fact: &FactDecl, rollup: &RollupDecl, dims: &DimValues) -> DimValues {
    let mut projected = [0; MAX_DIMS];
    for (slot, dim) in projected.iter_mut().zip(rollup.dims) {
        *slot = fact.dim_index(*dim).map_or(0, |i| dims[i]);
    }
    projected
}

fn merge_row(
    rows: &mut FxHashMap<RowKey, RowValues>,
    key: RowKey,
    values: &[f64],
    hist: &Histogram,
) {
    let fact = facts::ALL[usize::from(key.fact)];
    let row = rows.entry(key).or_insert_with(|| RowValues {
        values: fact.identity(),
        hist: Histogram::new(),
    });
    fact.merge(&mut row.values, values);
    row.hist.merge(hist);
}
