//! Custom metric points received over OTLP, rolled up per series. Their raw
//! points live in `metric_points` (see `storage::custom_metrics`).

use super::{Dim, Fact, FactDecl, Merge, RollupDecl, measures};
use crate::model::Granularity;

pub struct MetricPoints;

measures!(MetricPoints {
    POINTS = "points", Merge::Sum, Int, "COUNT(*)";
    SUM = "sum", Merge::Sum, Real, "SUM(value)";
    MIN = "min", Merge::Min, Real, "MIN(value)";
    MAX = "max", Merge::Max, Real, "MAX(value)";
    LAST = "last", Merge::LastBy(LAST_TS.index()), Real, "0";
    LAST_TS = "last_ts", Merge::Max, Int, "MAX(ts)";
});

static DECL: FactDecl = FactDecl {
    name: "metric points",
    dims: &[Dim::Series],
    measures: MEASURES,
    has_hist: false,
    raw: None,
    rollups: &[RollupDecl {
        table: "metric_rollup",
        dims: &[Dim::Series],
        grains: &[Granularity::Hour, Granularity::Day],
        key_first: false,
    }],
};

impl Fact for MetricPoints {
    const DECL: &'static FactDecl = &DECL;
}
