use clap::Parser;
use tally::{config::Config, startup::Application, telemetry};

/// A request allocates and frees a few dozen small buffers (headers, the
/// body, parsed strings, futures); glibc's allocator spent a fifth of the
/// server's instructions on them under ingest (callgrind). Built without
/// transparent huge pages (the `no_thp` feature): with them, its arenas
/// held 2 MiB pages resident and the server's RSS at full ingest doubled.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    telemetry::init(config.log_format);
    let app = Application::build(config).await?;
    app.run_until_stopped(tally::startup::shutdown_signal())
        .await
}
