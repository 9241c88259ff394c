//! What the storage tests build their events and databases from.

use crate::{
    model::{ContainerSource, ExecStatus, Execution},
    storage::{Location, Storage, Tuning},
};

/// A completed Go execution of 1 ms at `ts`, without key or tenant.
pub(super) fn execution(id: String, ts: i64, stamped: bool) -> Execution {
    Execution {
        execution_id: id,
        key: None,
        tenant: None,
        language: "go".to_owned(),
        status: ExecStatus::Completed,
        execution_time_ms: 1.0,
        memory_peak_mb: 0.0,
        cpu_time_ms: 0.0,
        container_source: ContainerSource::Unknown,
        files_uploaded: 0,
        files_generated: 0,
        output_size_bytes: 0,
        state_size_bytes: 0,
        queue_wait_ms: 0.0,
        repl_mode: false,
        session_id: None,
        user_id: None,
        entity_id: None,
        created_at_ms: ts,
        stamped,
    }
}

/// A fresh database in memory.
pub(super) async fn memory_storage() -> Storage {
    Storage::open(Location::Memory, Tuning::default())
        .await
        .unwrap()
}
