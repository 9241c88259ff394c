//! Tally's benchmark harness. Every figure is measured beside the limit it
//! is judged against, in the same run on the same machine, and reported as a
//! ratio; timings are medians (or percentiles) of several runs.
//!
//! `cargo run -p bench --release -- all` (full sizes; needs
//! `cargo build --release -p tally-server` and `trunk build --release`), or
//! `-- all --quick --binary target/debug/tally` for the CI smoke run, which
//! asserts nothing about speed.

mod clients;
mod cold;
mod datasets;
mod ingest;
mod page;
mod queries;
mod redis_counters;
mod report;
mod traffic;
mod views;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use report::Report;

#[derive(Parser)]
#[command(about = "Measure Tally against the machine's own limits")]
struct Args {
    #[command(subcommand)]
    what: What,
    /// Small sizes and short runs (CI smoke test).
    #[arg(long, global = true)]
    quick: bool,
    /// The server binary to measure.
    #[arg(long, global = true, default_value = "target/release/tally")]
    binary: PathBuf,
    /// Sizes of the query databases instead of the defaults (1 M and 10 M;
    /// 20 k and 100 k with --quick), e.g. `--query-sizes 50000,200000`.
    #[arg(long, global = true, value_delimiter = ',')]
    query_sizes: Option<Vec<usize>>,
    /// Where the JSON results go.
    #[arg(long, global = true, default_value = "target/bench/results.json")]
    out: PathBuf,
}

#[derive(Clone, PartialEq, Eq, Subcommand)]
enum What {
    /// Everything below.
    All,
    /// Ingest over HTTP (batches of 1, 100, 500) vs SQLite's bulk insert; server memory.
    Ingest,
    /// Every admin view and a server function on 90-day databases of 12 and
    /// 1 000 keys at two sizes: warm, cold, memory, growth; vs a raw-row scan.
    Queries,
    /// Only the first call after a start of each view (quarter, UTC, all
    /// keys) on the 1 000-key database, without the warm matrix.
    Cold,
    /// /monitoring in headless Chromium until every chart is drawn; WASM size.
    Page,
    /// Hot-counter updates through the pipelined Redis path vs redis-benchmark.
    Redis,
    /// The Rust producer client: events/s of one client vs a hand-written
    /// sender, the caller's cost per event, TallyLayer's added latency.
    Clients,
    /// Only the ingest load, against a server already running (to profile
    /// it): `bench load --url http://127.0.0.1:8080 --batch 500`.
    Load {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 500)]
        batch: usize,
        #[arg(long, default_value_t = 8)]
        connections: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// The server's process id, for its CPU share.
        #[arg(long)]
        pid: u32,
    },
}

/// Sizes of a run.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    pub quick: bool,
    /// Seconds each ingest load runs.
    pub ingest_seconds: u64,
    /// Executions in the query databases: the smaller and the larger size
    /// (the growth rows compare them), each with 12 and with 1 000 keys.
    pub query_executions: [usize; 2],
    /// Timed calls per combination of the view matrix (after one warm-up):
    /// 100, so that a p95 is the 95th call and not, as with 30, the second
    /// slowest, which one stall of the VM decides.
    pub query_runs: usize,
    pub page_runs: usize,
}

impl Scale {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                quick,
                ingest_seconds: 2,
                query_executions: [20_000, 100_000],
                query_runs: 2,
                page_runs: 2,
            }
        } else {
            Self {
                quick,
                ingest_seconds: 10,
                query_executions: [1_000_000, 10_000_000],
                query_runs: 100,
                page_runs: 7,
            }
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The harness runs from the repository root, so paths in messages are short.
    let root = tally_tests::repo_root();
    std::env::set_current_dir(&root)?;
    if !args.binary.exists() {
        anyhow::bail!(
            "{} is missing: build it (cargo build --release -p tally-server) or pass --binary",
            args.binary.display()
        );
    }
    let mut scale = Scale::new(args.quick);
    if let Some(sizes) = &args.query_sizes {
        anyhow::ensure!(
            sizes.len() == 2 && sizes.iter().all(|&n| n > 0),
            "--query-sizes takes two sizes, e.g. 50000,200000"
        );
        scale.query_executions = [sizes[0].min(sizes[1]), sizes[0].max(sizes[1])];
    }
    let mut report = Report::new(scale, &args.binary);
    let all = args.what == What::All;
    if all || args.what == What::Ingest {
        ingest::run(&args.binary, scale, &mut report).await?;
    }
    if all || args.what == What::Clients {
        clients::run(&args.binary, scale, &mut report).await?;
    }
    if all || args.what == What::Queries {
        queries::run(&args.binary, scale, &mut report).await?;
    }
    if args.what == What::Cold {
        queries::cold_only(&args.binary, scale, &mut report).await?;
    }
    if all || args.what == What::Page {
        page::run(&args.binary, scale, &mut report).await?;
    }
    if all || args.what == What::Redis {
        redis_counters::run(scale, &mut report).await?;
    }
    if let What::Load {
        url,
        batch,
        connections,
        seconds,
        pid,
    } = &args.what
    {
        let result = ingest::load(url, *batch, *connections, *seconds, *pid, "load").await;
        println!("{result}");
        return Ok(());
    }
    report.print();
    report.write(&args.out)?;
    println!("\nresults written to {}", args.out.display());
    Ok(())
}
