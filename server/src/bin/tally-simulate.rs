//! Sends simulated code-execution traffic to a running Tally.
//!
//! `tally-simulate --url http://127.0.0.1:8080 --key $INGEST_API_KEY --days 30`

use clap::Parser;
use tally::simulator::{self, SimulatorConfig};

#[derive(Parser)]
#[command(about = "Send realistic simulated traffic through Tally's ingest API")]
struct Args {
    /// Tally's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Ingest (or master) key.
    #[arg(long, env = "INGEST_API_KEY", hide_env_values = true)]
    key: String,
    /// Master key, used to give the simulated API keys their names.
    #[arg(long, env = "MASTER_API_KEY", hide_env_values = true)]
    master_key: Option<String>,
    /// Days of history to backfill first.
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// Executions per hour at the weekday peak.
    #[arg(long, default_value_t = 600.0)]
    peak_per_hour: f64,
    /// Stop after the backfill instead of sending live traffic.
    #[arg(long)]
    no_live: bool,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tally::telemetry::init(tally::telemetry::LogFormat::Text);
    let args = Args::parse();
    simulator::run(SimulatorConfig {
        base_url: args.url.trim_end_matches('/').to_owned(),
        ingest_key: args.key,
        master_key: args.master_key,
        backfill_days: args.days,
        peak_per_hour: args.peak_per_hour,
        live: !args.no_live,
        seed: args.seed,
    })
    .await
}
