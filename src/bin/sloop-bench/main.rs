//! `sloop-bench`: the benchmarks, a binary of their own so that none of their code ships in
//! `sloop`. Figures are printed, never asserted (timed tests flake on shared machines); each
//! benchmark says what it measured and on how much work (BENCHMARKS.md lists the commands).
//!
//! ```text
//! cargo run --release --bin sloop-bench -- deciders --seeds 3
//! ```

/// `println!` that stops quietly when standard output is closed (`sloop-bench ... | head`).
macro_rules! outln {
    ($($arg:tt)*) => { sloop::cli::out::line(format_args!($($arg)*)) };
}

/// `print!` that stops quietly when standard output is closed.
macro_rules! out {
    ($($arg:tt)*) => { sloop::cli::out::text(format_args!($($arg)*)) };
}

mod deciders;
mod engine;
mod ingest;
mod ingest_load;
mod probes;
mod probes_load;
mod rehearsal;
mod stats;
#[path = "../../testkit/mod.rs"]
mod testkit;
mod uptime;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// sloop-bench: measures sloop's engine, probes, ingest and decision quality and prints the
/// figures.
#[derive(Debug, Parser)]
#[command(name = "sloop-bench", version)]
struct Cli {
    /// Repetitions of the rehearsal benchmark (without a subcommand).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// A specific benchmark instead of the default one (rehearsal speed, one decision pass).
    #[command(subcommand)]
    what: Option<Bench>,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// The probe engine: CPU per 1000 probes, RSS and schedule jitter at a fixed rate.
    Probes(probes::ProbesArgs),
    /// Decision quality: every scenario × every decider (sloop, heat-aodh, senlin-health, hpa,
    /// oracle) × seeds, scored by ground truth, with the goal verdict per scenario.
    Deciders(deciders::DecidersArgs),
    /// Engine figures: decision pass at 10,000 VMs / 500 policies, SLO evaluator cost, burn-rate
    /// alert timing, rehearsal speed, detection delay against its lower bound.
    Engine(engine::EngineArgs),
    /// Overload: reconcile tick duration and lateness with and without 10,000 agent results/s
    /// posted to the ingest endpoint by a separate process.
    Ingest(ingest::IngestArgs),
    /// The load generator `ingest` starts (reads `NAME TOKEN` lines on stdin).
    #[command(hide = true)]
    IngestLoad(ingest_load::LoadArgs),
    /// Reconcile pass cost against uptime (hours of simulated 1 s ticks) and the SLO
    /// evaluation's cost against the history it holds (10 min to 30 days).
    Uptime(uptime::UptimeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.what {
        None => rehearsal::run(cli.rounds),
        Some(Bench::Probes(args)) => probes::run(&args),
        Some(Bench::Deciders(args)) => deciders::run(&args),
        Some(Bench::Engine(args)) => engine::run(&args),
        Some(Bench::Ingest(args)) => ingest::run(&args),
        Some(Bench::IngestLoad(args)) => ingest_load::run(&args),
        Some(Bench::Uptime(args)) => uptime::run(&args),
    }
}
