//! Container-pool events.

use super::{
    Bind, ColumnType, Dim, DimValues, Fact, FactDecl, Ids, Measure, Merge, RawColumn, RawDecl,
    Recorded, RollupDecl, Values, measures,
};
use crate::model::{Batch, Coded, Granularity, PoolEvent};

pub struct PoolEvents;

measures!(PoolEvents {
    EVENTS = "events", Merge::Sum, Int, "COUNT(*)";
    HITS = "hits", Merge::Sum, Int, "SUM(kind = 0)";
    MISSES = "misses", Merge::Sum, Int, "SUM(kind = 1)";
    EXHAUSTED = "exhausted", Merge::Sum, Int, "SUM(kind = 2)";
    SUM_ACQUIRE_MS = "sum_acquire_ms", Merge::Sum, Real, "SUM(acquire_time_ms)";
    SUM_ACQUIRE_HIT_MS = "sum_acquire_hit_ms", Merge::Sum, Real,
        "SUM(CASE kind WHEN 0 THEN acquire_time_ms ELSE 0 END)";
    SUM_ACQUIRE_MISS_MS = "sum_acquire_miss_ms", Merge::Sum, Real,
        "SUM(CASE kind WHEN 1 THEN acquire_time_ms ELSE 0 END)";
    SUM_ACQUIRE_EXHAUSTED_MS = "sum_acquire_exhausted_ms", Merge::Sum, Real,
        "SUM(CASE kind WHEN 2 THEN acquire_time_ms ELSE 0 END)";
    MAX_ACQUIRE_MS = "max_acquire_ms", Merge::Max, Real, "MAX(acquire_time_ms)";
});

/// Per kind, in [`PoolKind`] code order: (its count, its acquire time).
pub const BY_KIND: [(Measure<PoolEvents>, Measure<PoolEvents>); 3] = [
    (HITS, SUM_ACQUIRE_HIT_MS),
    (MISSES, SUM_ACQUIRE_MISS_MS),
    (EXHAUSTED, SUM_ACQUIRE_EXHAUSTED_MS),
];

static DECL: FactDecl = FactDecl {
    name: "pool",
    dims: &[Dim::Language],
    measures: MEASURES,
    has_hist: false,
    raw: Some(RawDecl {
        table: "pool_events_raw",
        view: "pool_events",
        id_column: "event_id",
        time_column: "ts",
        hist_column: None,
    }),
    rollups: &[RollupDecl {
        table: "pool_rollup_by_language",
        dims: &[Dim::Language],
        grains: &[Granularity::Hour, Granularity::Day, Granularity::Total],
        key_first: false,
    }],
};

impl Fact for PoolEvents {
    const DECL: &'static FactDecl = &DECL;
}

impl Recorded for PoolEvents {
    type Event = PoolEvent;

    fn events_of(batch: &Batch) -> Option<&[PoolEvent]> {
        match batch {
            Batch::Pool(events) => Some(events),
            _ => None,
        }
    }

    const RAW_COLUMNS: &'static [RawColumn<PoolEvent>] = &[
        RawColumn {
            name: "event_id",
            kind: ColumnType::Text,
            value: |e, _| Bind::Text(&e.id),
        },
        RawColumn {
            name: "ts",
            kind: ColumnType::Int,
            value: |e, _| Bind::Int(e.ts_ms),
        },
        RawColumn {
            name: "kind",
            kind: ColumnType::Int,
            value: |e, _| Bind::Int(e.kind.code()),
        },
        RawColumn {
            name: "language_id",
            kind: ColumnType::Int,
            value: |e, ids| Bind::Int(ids.language(&e.language)),
        },
        RawColumn {
            name: "acquire_time_ms",
            kind: ColumnType::Real,
            value: |e, _| Bind::Real(e.acquire_time_ms),
        },
    ];

    fn event_id(e: &PoolEvent) -> &str {
        &e.id
    }

    fn time_ms(e: &PoolEvent) -> i64 {
        e.ts_ms
    }

    fn stamped(e: &PoolEvent) -> bool {
        e.stamped
    }

    fn dims(e: &PoolEvent, ids: &dyn Ids) -> DimValues {
        [ids.language(&e.language), 0, 0]
    }

    fn contribute(e: &PoolEvent, v: &mut Values<Self>) {
        v.set(EVENTS, 1.0);
        v.set(SUM_ACQUIRE_MS, e.acquire_time_ms);
        v.set(MAX_ACQUIRE_MS, e.acquire_time_ms);
        let (count, time) = BY_KIND[e.kind.code() as usize];
        v.set(count, 1.0);
        v.set(time, e.acquire_time_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PoolKind;

    #[test]
    fn the_raw_sql_uses_the_model_codes() {
        for kind in PoolKind::ALL {
            let (count, time) = BY_KIND[kind.code() as usize];
            assert_eq!(
                MEASURES[count.index()].raw,
                format!("SUM(kind = {})", kind.code())
            );
            assert!(
                MEASURES[time.index()]
                    .raw
                    .contains(&format!("WHEN {} ", kind.code()))
            );
        }
    }
}
