//! The write path behind ingest: the single writer that group-commits
//! validated batches and feeds the hot counters.

mod counter_deltas;
pub mod writer;
