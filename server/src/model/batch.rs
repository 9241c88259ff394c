//! The validated events of one ingest request, all of one kind.

use super::{ApiRequest, Execution, PoolEvent};

#[derive(Debug)]
pub enum Batch {
    Executions(Vec<Execution>),
    Requests(Vec<ApiRequest>),
    Pool(Vec<PoolEvent>),
}

impl Batch {
    pub fn len(&self) -> usize {
        match self {
            Self::Executions(v) => v.len(),
            Self::Requests(v) => v.len(),
            Self::Pool(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `executions`, `requests` or `pool`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Executions(_) => "executions",
            Self::Requests(_) => "requests",
            Self::Pool(_) => "pool",
        }
    }
}
