//! Tally's domain types: the events a platform sends, parsed into values
//! that are valid by construction, and the keys and tenants they name.
//! Every other module imports from here; this module imports from none.

mod batch;
mod codes;
mod execution;
mod fields;
mod granularity;
mod key;
mod pool;
mod request;
pub mod time;

pub use batch::Batch;
pub use codes::Coded;
pub use execution::{ContainerSource, ExecStatus, Execution, ExecutionInput};
pub use fields::{FieldError, Limits, TimestampInput};
pub use granularity::Granularity;
pub use key::{KeyHash, KeyMemo, MAX_TENANT, tenant};
pub use pool::{PoolEvent, PoolInput, PoolKind};
pub use request::{ApiRequest, METHODS, RequestInput, method_code};
