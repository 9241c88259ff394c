//! One declaration per fact (executions, API requests, pool events, custom
//! metric points): its dimensions, its measures with their merge rules, its
//! histogram, its raw table and its rollups with their grains. The SQL of
//! the writer and the readers, the writer's accumulators, the cache's
//! decoding and the query layer's reads all come from these declarations;
//! measures are addressed by typed constants ([`Measure`]), never by name.
//! A test holds every declaration against the live schema.

pub mod executions;
pub mod metrics;
pub mod pool;
pub mod requests;
mod values;

use crate::model::{Batch, Granularity, KeyHash};

pub use executions::Executions;
pub use metrics::MetricPoints;
pub use pool::PoolEvents;
pub use requests::Requests;
pub use values::{Measure, Values};

/// How a measure of two rows combines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    Sum,
    Max,
    Min,
    /// The value of the row whose measure at this index (a timestamp) is the
    /// larger.
    LastBy(usize),
}

impl Merge {
    /// The value of an empty group.
    pub fn identity(self) -> f64 {
        match self {
            Self::Sum | Self::LastBy(_) => 0.0,
            Self::Max => f64::NEG_INFINITY,
            Self::Min => f64::INFINITY,
        }
    }
}

/// How a column is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    Int,
    Real,
    Text,
}

impl ColumnType {
    pub fn sql(self) -> &'static str {
        match self {
            Self::Int => "INTEGER",
            Self::Real => "REAL",
            Self::Text => "TEXT",
        }
    }
}

/// One measure: a rollup column, its merge rule, and the same aggregate
/// over the raw rows.
#[derive(Clone, Copy, Debug)]
pub struct MeasureDecl {
    pub column: &'static str,
    pub merge: Merge,
    pub kind: ColumnType,
    /// SQL aggregate over the raw table's columns.
    pub raw: &'static str,
}

/// A dimension. Every dimension is stored as an integer: a key id, a code,
/// or an id in a dictionary table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    Key,
    Language,
    Endpoint,
    Method,
    Series,
}

impl Dim {
    /// The column in raw tables and rollups.
    pub fn column(self) -> &'static str {
        match self {
            Self::Key => "key_id",
            Self::Language => "language_id",
            Self::Endpoint => "endpoint_id",
            Self::Method => "method",
            Self::Series => "series_id",
        }
    }
}

/// Most dimensions of a fact.
pub const MAX_DIMS: usize = 3;
/// Dimension values, in a fact's or a rollup's dimension order; unused
/// slots are 0.
pub type DimValues = [i64; MAX_DIMS];

/// A rollup table: the fact's measures and histogram per bucket and per
/// combination of `dims`, at each of `grains` (the `grain` column holds
/// [`Granularity::code`]).
#[derive(Clone, Copy, Debug)]
pub struct RollupDecl {
    pub table: &'static str,
    pub dims: &'static [Dim],
    pub grains: &'static [Granularity],
    /// Primary key `(grain, key_id, bucket, ..)`: one key's rows lie
    /// together, so a key filter reads them and nothing else; with an index
    /// on `(grain, bucket)` for loading whole buckets into the cache.
    /// Otherwise `(grain, bucket, dims..)`.
    pub key_first: bool,
}

impl RollupDecl {
    pub fn has_dims(&self, dims: &[Dim]) -> bool {
        dims.iter().all(|d| self.dims.contains(d))
    }

    pub fn has_grain(&self, grain: Granularity) -> bool {
        self.grains.contains(&grain)
    }

    /// The index by `(grain, bucket)` of a key-first rollup.
    pub fn bucket_index_name(&self) -> Option<String> {
        self.key_first.then(|| format!("{}_bucket", self.table))
    }

    /// The primary key columns, in order.
    pub fn key_columns(&self) -> Vec<&'static str> {
        let mut columns = vec!["grain"];
        if self.key_first {
            columns.push(Dim::Key.column());
            columns.push("bucket");
            columns.extend(
                self.dims
                    .iter()
                    .filter(|d| **d != Dim::Key)
                    .map(|d| d.column()),
            );
        } else {
            columns.push("bucket");
            columns.extend(self.dims.iter().map(|d| d.column()));
        }
        columns
    }
}

/// A raw-event table: the rows as sent (codes and ids for the dimensions),
/// readable through a view of the same shape as before storage v2.
#[derive(Clone, Copy, Debug)]
pub struct RawDecl {
    /// The table: `id` (the time and the id's hash, see
    /// `storage::raw_write`), `stamped_hash`, the fact's columns,
    /// `received_at`.
    pub table: &'static str,
    /// The readable view (enum names, dictionary values).
    pub view: &'static str,
    /// The event's own id (text), whose hash is the idempotency key.
    pub id_column: &'static str,
    /// The timestamp column (Unix ms); `id >> 20` is the same instant.
    pub time_column: &'static str,
    /// What the latency histogram counts.
    pub hist_column: Option<&'static str>,
}

/// What a fact is made of. Generic code reads this; typed code goes
/// through [`Fact`].
#[derive(Debug)]
pub struct FactDecl {
    pub name: &'static str,
    /// Every dimension, in the order of [`DimValues`].
    pub dims: &'static [Dim],
    pub measures: &'static [MeasureDecl],
    /// Whether rows carry a latency histogram (column `hist`).
    pub has_hist: bool,
    pub raw: Option<RawDecl>,
    /// Smallest first: the planner takes the first that has what it needs.
    pub rollups: &'static [RollupDecl],
}

impl FactDecl {
    /// Position of `dim` in [`Self::dims`].
    pub fn dim_index(&self, dim: Dim) -> Option<usize> {
        self.dims.iter().position(|d| *d == dim)
    }

    /// The merge of every measure into `into`.
    pub fn merge(&self, into: &mut [f64], from: &[f64]) {
        let n = self.measures.len();
        let (into, from) = (&mut into[..n], &from[..n]);
        // "Last by" reads the timestamps before they are merged.
        for (i, m) in self.measures.iter().enumerate() {
            if let Merge::LastBy(at) = m.merge
                && from[at] >= into[at]
            {
                into[i] = from[i];
            }
        }
        for ((m, into), from) in self.measures.iter().zip(into.iter_mut()).zip(from) {
            match m.merge {
                Merge::Sum => *into += from,
                Merge::Max => *into = into.max(*from),
                Merge::Min => *into = into.min(*from),
                Merge::LastBy(_) => {}
            }
        }
    }

    /// The finest grain of any of the fact's rollups: every other grain is
    /// a whole number of it (a test holds the declarations to that), so a
    /// commit adds events up per bucket of it before spreading them.
    pub fn finest_grain(&self) -> Granularity {
        self.rollups
            .iter()
            .flat_map(|r| r.grains.iter().copied())
            .filter(|g| g.millis().is_some())
            .min_by_key(|g| g.millis())
            .unwrap_or(Granularity::Total)
    }

    /// Measures of an empty group.
    pub fn identity(&self) -> Box<[f64]> {
        self.measures.iter().map(|m| m.merge.identity()).collect()
    }
}

/// A fact, as a type: measures are constants of type `Measure<Self>`.
pub trait Fact: 'static {
    const DECL: &'static FactDecl;
}

/// The ids the writer resolves an event's texts to.
pub trait Ids: Sync {
    /// `api_keys.id`; 0 for no key.
    fn key(&self, key: Option<&KeyHash>) -> i64;
    fn language(&self, name: &str) -> i64;
    fn endpoint(&self, path: &str) -> i64;
}

/// A value bound to a statement parameter.
#[derive(Clone, Copy, Debug)]
pub enum Bind<'a> {
    Int(i64),
    Real(f64),
    Text(&'a str),
    OptText(Option<&'a str>),
    Blob(&'a [u8]),
}

/// A column of a raw table and how an event fills it.
pub struct RawColumn<E> {
    pub name: &'static str,
    pub kind: ColumnType,
    pub value: for<'a> fn(&'a E, &dyn Ids) -> Bind<'a>,
}

/// A fact recorded from events of type `Event`: how an event becomes a raw
/// row and a rollup increment.
pub trait Recorded: Fact {
    type Event: Sync + 'static;
    /// The fact-specific raw columns, in table order (after `id` and
    /// `stamped_hash`, before `received_at`).
    const RAW_COLUMNS: &'static [RawColumn<Self::Event>];
    /// The batch's events, if they are of this fact.
    fn events_of(batch: &Batch) -> Option<&[Self::Event]>;
    fn event_id(event: &Self::Event) -> &str;
    fn time_ms(event: &Self::Event) -> i64;
    /// Whether Tally stamped the event on arrival (no timestamp sent).
    fn stamped(event: &Self::Event) -> bool;
    /// The event's dimensions, in [`FactDecl::dims`] order.
    fn dims(event: &Self::Event, ids: &dyn Ids) -> DimValues;
    /// What the event adds to each measure.
    fn contribute(event: &Self::Event, values: &mut Values<Self>)
    where
        Self: Sized;
    /// The value the latency histogram counts.
    fn hist_value(_event: &Self::Event) -> Option<f64> {
        None
    }
}

/// Saturating conversion for byte counts.
pub fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Declares a fact's measures in order: a typed constant per measure and
/// the declaration array, from one list.
macro_rules! measures {
    ($fact:ty { $($name:ident = $column:literal, $merge:expr, $kind:ident, $raw:literal;)* }) => {
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[repr(usize)]
        enum MeasureIndex { $($name),* }
        $(pub const $name: $crate::storage::facts::Measure<$fact> =
            $crate::storage::facts::Measure::at(MeasureIndex::$name as usize);)*
        pub(super) const MEASURES: &[$crate::storage::facts::MeasureDecl] = &[$(
            $crate::storage::facts::MeasureDecl {
                column: $column,
                merge: $merge,
                kind: $crate::storage::facts::ColumnType::$kind,
                raw: $raw,
            }
        ),*];
    };
}
pub(crate) use measures;

/// Every fact's declaration.
pub const ALL: [&FactDecl; 4] = [
    Executions::DECL,
    Requests::DECL,
    PoolEvents::DECL,
    MetricPoints::DECL,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fact_finds_its_own_index() {
        for (i, decl) in ALL.iter().enumerate() {
            assert_eq!(crate::storage::commit::fact_index(decl), i, "{}", decl.name);
        }
        assert_eq!(crate::storage::commit::fact_index(Requests::DECL), 1);
    }

    #[test]
    fn every_grain_is_a_whole_number_of_its_facts_finest() {
        for decl in ALL {
            let finest = decl.finest_grain().millis().unwrap();
            for rollup in decl.rollups {
                assert!(
                    rollup
                        .grains
                        .is_sorted_by_key(|g| g.millis().unwrap_or(i64::MAX))
                );
                for width in rollup.grains.iter().filter_map(|g| g.millis()) {
                    assert_eq!(width % finest, 0, "{} {:?}", rollup.table, rollup.grains);
                }
            }
        }
        assert_eq!(Executions::DECL.finest_grain(), Granularity::Minute);
        assert_eq!(Requests::DECL.finest_grain(), Granularity::Hour);
    }

    #[test]
    fn merge_rules_combine_rows() {
        let mut into = MetricPoints::DECL.identity();
        let rows = [
            [1.0, 5.0, 5.0, 5.0, 5.0, 100.0],
            [1.0, 2.0, 2.0, 2.0, 2.0, 50.0],
        ];
        for row in &rows {
            MetricPoints::DECL.merge(&mut into, row);
        }
        // points, sum, min, max, last (by last_ts), last_ts
        assert_eq!(&*into, &[2.0, 7.0, 2.0, 5.0, 5.0, 100.0]);
    }
}
