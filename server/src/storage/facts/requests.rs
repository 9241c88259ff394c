//! API requests served by the platform.

use super::{
    Bind, ColumnType, Dim, DimValues, Fact, FactDecl, Ids, Measure, Merge, RawColumn, RawDecl,
    Recorded, RollupDecl, Values, measures,
};
use crate::model::{ApiRequest, Batch, Granularity, method_code};

pub struct Requests;

measures!(Requests {
    REQUESTS = "requests", Merge::Sum, Int, "COUNT(*)";
    CACHE_HITS = "cache_hits", Merge::Sum, Int, "SUM(cache_hit)";
    WITH_ERROR = "with_error", Merge::Sum, Int, "SUM(error IS NOT NULL)";
    SUM_DURATION_MS = "sum_duration_ms", Merge::Sum, Real, "SUM(duration_ms)";
    MAX_DURATION_MS = "max_duration_ms", Merge::Max, Real, "MAX(duration_ms)";
    CLASS_1XX = "class_1xx", Merge::Sum, Int, "SUM(status_code / 100 = 1)";
    CLASS_2XX = "class_2xx", Merge::Sum, Int, "SUM(status_code / 100 = 2)";
    CLASS_3XX = "class_3xx", Merge::Sum, Int, "SUM(status_code / 100 = 3)";
    CLASS_4XX = "class_4xx", Merge::Sum, Int, "SUM(status_code / 100 = 4)";
    CLASS_5XX = "class_5xx", Merge::Sum, Int, "SUM(status_code / 100 = 5)";
});

/// The count of each status class `1xx`..`5xx`.
pub const BY_CLASS: [(u16, Measure<Requests>); 5] = [
    (1, CLASS_1XX),
    (2, CLASS_2XX),
    (3, CLASS_3XX),
    (4, CLASS_4XX),
    (5, CLASS_5XX),
];

static DECL: FactDecl = FactDecl {
    name: "requests",
    dims: &[Dim::Key, Dim::Endpoint, Dim::Method],
    measures: MEASURES,
    has_hist: true,
    raw: Some(RawDecl {
        table: "api_requests_raw",
        view: "api_requests",
        id_column: "request_id",
        time_column: "ts",
        hist_column: Some("duration_ms"),
    }),
    rollups: &[
        RollupDecl {
            table: "request_rollup_by_endpoint",
            dims: &[Dim::Endpoint, Dim::Method],
            grains: &[Granularity::Hour, Granularity::Day, Granularity::Total],
            key_first: false,
        },
        RollupDecl {
            table: "request_rollup_by_key",
            dims: &[Dim::Key],
            grains: &[Granularity::Hour, Granularity::Day],
            key_first: true,
        },
        RollupDecl {
            table: "request_rollup_by_key_endpoint",
            dims: &[Dim::Key, Dim::Endpoint, Dim::Method],
            grains: &[Granularity::Hour, Granularity::Day],
            key_first: true,
        },
    ],
};

impl Fact for Requests {
    const DECL: &'static FactDecl = &DECL;
}

impl Recorded for Requests {
    type Event = ApiRequest;

    fn events_of(batch: &Batch) -> Option<&[ApiRequest]> {
        match batch {
            Batch::Requests(events) => Some(events),
            _ => None,
        }
    }

    const RAW_COLUMNS: &'static [RawColumn<ApiRequest>] = &[
        RawColumn {
            name: "request_id",
            kind: ColumnType::Text,
            value: |e, _| Bind::Text(&e.id),
        },
        RawColumn {
            name: "ts",
            kind: ColumnType::Int,
            value: |e, _| Bind::Int(e.ts_ms),
        },
        RawColumn {
            name: "method",
            kind: ColumnType::Int,
            value: |e, _| Bind::Int(method_code(&e.method)),
        },
        RawColumn {
            name: "endpoint_id",
            kind: ColumnType::Int,
            value: |e, ids| Bind::Int(ids.endpoint(&e.endpoint)),
        },
        RawColumn {
            name: "status_code",
            kind: ColumnType::Int,
            value: |e, _| Bind::Int(e.status_code.into()),
        },
        RawColumn {
            name: "duration_ms",
            kind: ColumnType::Real,
            value: |e, _| Bind::Real(e.duration_ms),
        },
        RawColumn {
            name: "key_id",
            kind: ColumnType::Int,
            value: |e, ids| Bind::Int(ids.key(e.key.as_ref())),
        },
        RawColumn {
            name: "cache_hit",
            kind: ColumnType::Int,
            value: |e, _| Bind::Int(e.cache_hit.into()),
        },
        RawColumn {
            name: "client_ip",
            kind: ColumnType::Text,
            value: |e, _| Bind::OptText(e.client_ip.as_deref()),
        },
        RawColumn {
            name: "user_agent",
            kind: ColumnType::Text,
            value: |e, _| Bind::OptText(e.user_agent.as_deref()),
        },
        RawColumn {
            name: "error",
            kind: ColumnType::Text,
            value: |e, _| Bind::OptText(e.error.as_deref()),
        },
    ];

    fn event_id(e: &ApiRequest) -> &str {
        &e.id
    }

    fn time_ms(e: &ApiRequest) -> i64 {
        e.ts_ms
    }

    fn stamped(e: &ApiRequest) -> bool {
        e.stamped
    }

    fn dims(e: &ApiRequest, ids: &dyn Ids) -> DimValues {
        [
            ids.key(e.key.as_ref()),
            ids.endpoint(&e.endpoint),
            method_code(&e.method),
        ]
    }

    fn contribute(e: &ApiRequest, v: &mut Values<Self>) {
        v.set(REQUESTS, 1.0);
        v.set(CACHE_HITS, f64::from(u8::from(e.cache_hit)));
        v.set(WITH_ERROR, f64::from(u8::from(e.error.is_some())));
        v.set(SUM_DURATION_MS, e.duration_ms);
        v.set(MAX_DURATION_MS, e.duration_ms);
        if let Some((_, class)) = BY_CLASS.iter().find(|(c, _)| *c == e.status_code / 100) {
            v.set(*class, 1.0);
        }
    }

    fn hist_value(e: &ApiRequest) -> Option<f64> {
        Some(e.duration_ms)
    }
}
