//! Code executions.

use super::{
    Bind, ColumnType, Dim, DimValues, Fact, FactDecl, Ids, Merge, RawColumn, RawDecl, Recorded,
    RollupDecl, Values, measures, saturating_i64,
};
use crate::model::{Batch, Coded, ContainerSource, ExecStatus, Execution, Granularity};

pub struct Executions;

measures!(Executions {
    EXECUTIONS = "executions", Merge::Sum, Int, "COUNT(*)";
    COMPLETED = "completed", Merge::Sum, Int, "SUM(status = 0)";
    FAILED = "failed", Merge::Sum, Int, "SUM(status = 1)";
    TIMED_OUT = "timed_out", Merge::Sum, Int, "SUM(status = 2)";
    ERRORED = "errored", Merge::Sum, Int, "SUM(status = 3)";
    POOL_HITS = "pool_hits", Merge::Sum, Int, "SUM(container_source = 0)";
    POOL_MISSES = "pool_misses", Merge::Sum, Int, "SUM(container_source = 1)";
    SUM_TIME_MS = "sum_time_ms", Merge::Sum, Real, "SUM(execution_time_ms)";
    MAX_TIME_MS = "max_time_ms", Merge::Max, Real, "MAX(execution_time_ms)";
    TIME_POOL_HIT_MS = "sum_time_pool_hit_ms", Merge::Sum, Real,
        "SUM(CASE container_source WHEN 0 THEN execution_time_ms ELSE 0 END)";
    TIME_POOL_MISS_MS = "sum_time_pool_miss_ms", Merge::Sum, Real,
        "SUM(CASE container_source WHEN 1 THEN execution_time_ms ELSE 0 END)";
    SUM_CPU_MS = "sum_cpu_ms", Merge::Sum, Real, "SUM(cpu_time_ms)";
    SUM_MEMORY_MB = "sum_memory_mb", Merge::Sum, Real, "SUM(memory_peak_mb)";
    MAX_MEMORY_MB = "max_memory_mb", Merge::Max, Real, "MAX(memory_peak_mb)";
    SUM_MEMORY_MB_S = "sum_memory_mb_s", Merge::Sum, Real,
        "SUM(memory_peak_mb * execution_time_ms / 1000.0)";
    FILES_UPLOADED = "sum_files_uploaded", Merge::Sum, Int, "SUM(files_uploaded)";
    FILES_GENERATED = "sum_files_generated", Merge::Sum, Int, "SUM(files_generated)";
    OUTPUT_BYTES = "sum_output_bytes", Merge::Sum, Int, "SUM(output_size_bytes)";
    STATE_BYTES = "sum_state_bytes", Merge::Sum, Int, "SUM(state_size_bytes)";
    SUM_QUEUE_WAIT_MS = "sum_queue_wait_ms", Merge::Sum, Real, "SUM(queue_wait_ms)";
    MAX_QUEUE_WAIT_MS = "max_queue_wait_ms", Merge::Max, Real, "MAX(queue_wait_ms)";
    REPL_EXECUTIONS = "repl_executions", Merge::Sum, Int, "SUM(repl_mode)";
});

/// The count measure of each status, in [`ExecStatus`] code order.
pub const BY_STATUS: [super::Measure<Executions>; 4] = [COMPLETED, FAILED, TIMED_OUT, ERRORED];

static DECL: FactDecl = FactDecl {
    name: "executions",
    dims: &[Dim::Key, Dim::Language],
    measures: MEASURES,
    has_hist: true,
    raw: Some(RawDecl {
        table: "executions_raw",
        view: "executions",
        id_column: "execution_id",
        time_column: "created_at",
        hist_column: Some("execution_time_ms"),
    }),
    rollups: &[
        RollupDecl {
            table: "exec_rollup",
            dims: &[],
            // Minutes since migration 0011 (see `storage::grain_starts`): the
            // edges of a range over all keys are read from raw rows for
            // less than a minute.
            grains: &[
                Granularity::Minute,
                Granularity::QuarterHour,
                Granularity::Hour,
                Granularity::Day,
            ],
            key_first: false,
        },
        RollupDecl {
            table: "exec_rollup_by_language",
            dims: &[Dim::Language],
            // Minutes since migration 0011, as above.
            grains: &[
                Granularity::Minute,
                Granularity::QuarterHour,
                Granularity::Hour,
                Granularity::Day,
                Granularity::Total,
            ],
            key_first: false,
        },
        RollupDecl {
            table: "exec_rollup_by_key",
            dims: &[Dim::Key],
            grains: &[
                Granularity::QuarterHour,
                Granularity::Hour,
                Granularity::Day,
                Granularity::Week,
            ],
            key_first: true,
        },
        RollupDecl {
            table: "exec_rollup_by_key_language",
            dims: &[Dim::Key, Dim::Language],
            // Quarter hours since migration 0010 (see `storage::grain_starts`).
            grains: &[
                Granularity::QuarterHour,
                Granularity::Hour,
                Granularity::Day,
                Granularity::Week,
                Granularity::Total,
            ],
            key_first: true,
        },
    ],
};

impl Fact for Executions {
    const DECL: &'static FactDecl = &DECL;
}

impl Recorded for Executions {
    type Event = Execution;

    fn events_of(batch: &Batch) -> Option<&[Execution]> {
        match batch {
            Batch::Executions(events) => Some(events),
            _ => None,
        }
    }

    const RAW_COLUMNS: &'static [RawColumn<Execution>] = &[
        RawColumn {
            name: "execution_id",
            kind: ColumnType::Text,
            value: |e, _| Bind::Text(&e.execution_id),
        },
        RawColumn {
            name: "created_at",
            kind: ColumnType::Int,
            value: |e, _| Bind::Int(e.created_at_ms),
        },
        RawColumn {
            name: "key_id",
            kind: ColumnType::Int,
            value: |e, ids| Bind::Int(ids.key(e.key.as_ref())),
        },
        RawColumn {
            name: "language_id",
            kind: ColumnType::Int,
            value: |e, ids| Bind::Int(ids.language(&e.language)),
        },
        RawColumn {
            name: "status",
            kind: ColumnType::Int,
            value: |e, _| Bind::Int(e.status.code()),
        },
        RawColumn {
            name: "container_source",
            kind: ColumnType::Int,
            value: |e, _| Bind::Int(e.container_source.code()),
        },
        RawColumn {
            name: "execution_time_ms",
            kind: ColumnType::Real,
            value: |e, _| Bind::Real(e.execution_time_ms),
        },
        RawColumn {
            name: "memory_peak_mb",
            kind: ColumnType::Real,
            value: |e, _| Bind::Real(e.memory_peak_mb),
        },
        RawColumn {
            name: "cpu_time_ms",
            kind: ColumnType::Real,
            value: |e, _| Bind::Real(e.cpu_time_ms),
        },
        RawColumn {
            name: "files_uploaded",
            kind: ColumnType::Int,
            value: |e, _| Bind::Int(e.files_uploaded.into()),
        },
        RawColumn {
            name: "files_generated",
            kind: ColumnType::Int,
            value: |e, _| Bind::Int(e.files_generated.into()),
        },
        RawColumn {
            name: "output_size_bytes",
            kind: ColumnType::Int,
            value: |e, _| Bind::Int(saturating_i64(e.output_size_bytes)),
        },
        RawColumn {
            name: "state_size_bytes",
            kind: ColumnType::Int,
            value: |e, _| Bind::Int(saturating_i64(e.state_size_bytes)),
        },
        RawColumn {
            name: "queue_wait_ms",
            kind: ColumnType::Real,
            value: |e, _| Bind::Real(e.queue_wait_ms),
        },
        RawColumn {
            name: "repl_mode",
            kind: ColumnType::Int,
            value: |e, _| Bind::Int(e.repl_mode.into()),
        },
        RawColumn {
            name: "session_id",
            kind: ColumnType::Text,
            value: |e, _| Bind::OptText(e.session_id.as_deref()),
        },
        RawColumn {
            name: "user_id",
            kind: ColumnType::Text,
            value: |e, _| Bind::OptText(e.user_id.as_deref()),
        },
        RawColumn {
            name: "entity_id",
            kind: ColumnType::Text,
            value: |e, _| Bind::OptText(e.entity_id.as_deref()),
        },
    ];

    fn event_id(e: &Execution) -> &str {
        &e.execution_id
    }

    fn time_ms(e: &Execution) -> i64 {
        e.created_at_ms
    }

    fn stamped(e: &Execution) -> bool {
        e.stamped
    }

    fn dims(e: &Execution, ids: &dyn Ids) -> DimValues {
        [ids.key(e.key.as_ref()), ids.language(&e.language), 0]
    }

    fn contribute(e: &Execution, v: &mut Values<Self>) {
        v.set(EXECUTIONS, 1.0);
        v.set(BY_STATUS[e.status.code() as usize], 1.0);
        let time = e.execution_time_ms;
        match e.container_source {
            ContainerSource::PoolHit => {
                v.set(POOL_HITS, 1.0);
                v.set(TIME_POOL_HIT_MS, time);
            }
            ContainerSource::PoolMiss => {
                v.set(POOL_MISSES, 1.0);
                v.set(TIME_POOL_MISS_MS, time);
            }
            ContainerSource::Unknown => {}
        }
        v.set(SUM_TIME_MS, time);
        v.set(MAX_TIME_MS, time);
        v.set(SUM_CPU_MS, e.cpu_time_ms);
        v.set(SUM_MEMORY_MB, e.memory_peak_mb);
        v.set(MAX_MEMORY_MB, e.memory_peak_mb);
        v.set(SUM_MEMORY_MB_S, e.memory_peak_mb * time / 1000.0);
        v.set(FILES_UPLOADED, f64::from(e.files_uploaded));
        v.set(FILES_GENERATED, f64::from(e.files_generated));
        v.set(OUTPUT_BYTES, saturating_i64(e.output_size_bytes) as f64);
        v.set(STATE_BYTES, saturating_i64(e.state_size_bytes) as f64);
        v.set(SUM_QUEUE_WAIT_MS, e.queue_wait_ms);
        v.set(MAX_QUEUE_WAIT_MS, e.queue_wait_ms);
        v.set(REPL_EXECUTIONS, f64::from(u8::from(e.repl_mode)));
    }

    fn hist_value(e: &Execution) -> Option<f64> {
        Some(e.execution_time_ms)
    }
}

/// The status counted by `measure`, if it is a status count.
pub fn status_of(index: usize) -> Option<ExecStatus> {
    BY_STATUS
        .iter()
        .position(|m| m.index() == index)
        .and_then(|code| ExecStatus::from_code(code as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_raw_sql_uses_the_model_codes() {
        for status in ExecStatus::ALL {
            let raw = MEASURES[BY_STATUS[status.code() as usize].index()].raw;
            assert_eq!(raw, format!("SUM(status = {})", status.code()));
            assert_eq!(
                status_of(BY_STATUS[status.code() as usize].index()),
                Some(*status)
            );
        }
        assert_eq!(ContainerSource::PoolHit.code(), 0);
        assert_eq!(ContainerSource::PoolMiss.code(), 1);
        assert!(MEASURES[TIME_POOL_HIT_MS.index()].raw.contains("WHEN 0"));
    }
}
