//! State shared by every handler and server function.

use std::{sync::Arc, time::Instant};

use secrecy::SecretString;

use crate::{config::Config, counters::Counters, ingest::writer::Writer, storage::Storage};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub storage: Storage,
    pub writer: Writer,
    pub counters: Counters,
    /// The master key in force (configured or generated at start-up).
    pub master_key: SecretString,
    pub started_at: Instant,
}
