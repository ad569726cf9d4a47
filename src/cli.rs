//! The command line: the policy tools (`check`, `schema`, `explain`, `import`), the simulator
//! (`rehearse`, `explore`, `replay`), the controller (`run`, `plan`, `history`) and remote probe
//! locations (`agent`, `agent-token`). The benchmarks are a separate binary, `sloop-bench`
//! (`src/bin/sloop-bench/`), so none of their code ships in `sloop`.
//! Exit codes: 0 success, 1 the input is invalid (or a check failed), 2 usage errors.

/// `println!` that stops quietly when standard output is closed (see [`out`]).
macro_rules! outln {
    ($($arg:tt)*) => { $crate::cli::out::line(format_args!($($arg)*)) };
}

/// `print!` that stops quietly when standard output is closed (see [`out`]).
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::out::text(format_args!($($arg)*)) };
}

mod agent;
mod check;
mod explore;
mod history;
pub mod out;

pub use check::render as render_diagnostic;
mod plan;
mod rehearse;
mod run;

use clap::{Parser, Subcommand, ValueEnum};
use std::{path::PathBuf, process::ExitCode};

/// sloop: keeps web services on OpenStack inside their service-level objectives.
#[derive(Debug, Parser)]
#[command(name = "sloop", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Output formats for machine consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// For CI pipelines and scripts.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate policy files or directories; exit 0 if all are valid, 1 if not.
    Check {
        /// Policy files, or directories of `*.yaml` policies.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Print the JSON Schema of the policy language.
    Schema,
    /// Explain in plain English what a policy will do.
    Explain {
        /// The policy file.
        policy: PathBuf,
    },
    /// Run a policy through a simulated scenario and report SLO compliance, actions and cost.
    Rehearse(rehearse::RehearseArgs),
    /// Search random scenarios for broken invariants: every policy with sloop and the oracle,
    /// counterexamples shrunk and printed as scenario files; exit 1 when an invariant breaks.
    Explore(explore::ExploreArgs),
    /// Re-run the decision core on a recorded decision log and report any difference.
    Replay {
        /// A decision log written by `rehearse --decision-log` (or `run`).
        log: PathBuf,
    },
    /// Run a remote probe location that reports to a controller.
    Agent(agent::AgentArgs),
    /// Make an agent token (or hash one) and print the controller's `name: sha256hex` line.
    AgentToken(agent::TokenArgs),
    /// Run the controller: reconcile every policy, serve the status page and /metrics.
    Run(Box<run::RunConfig>),
    /// Print the action journal kept by `sloop run`.
    History(history::HistoryArgs),
    /// One observe-judge-plan pass against the real cloud: print what would be done and why,
    /// change nothing.
    Plan(plan::PlanArgs),
    /// Convert documents from other formats into sloop policy fragments.
    Import {
        #[command(subcommand)]
        what: Import,
    },
}

#[derive(Debug, Subcommand)]
enum Import {
    /// OpenSLO v1 `SLO` documents to sloop objectives (printed as YAML).
    Openslo {
        /// The OpenSLO file (one or more YAML documents).
        file: PathBuf,
        /// Unit of thresholdMetric values in SLOs without a `sloop.dev/threshold-unit`
        /// annotation (OpenSLO values are unitless; without either, a threshold is an error).
        #[arg(long, value_enum, value_name = "UNIT")]
        threshold_unit: Option<crate::policy::openslo::ThresholdUnit>,
    },
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { paths, format } => check::run(&paths, format),
        Command::Schema => {
            outln!("{}", schema_text());
            ExitCode::SUCCESS
        }
        Command::Explain { policy } => check::explain(&policy),
        Command::Rehearse(args) => rehearse::run(&args),
        Command::Replay { log } => rehearse::replay(&log),
        Command::Explore(args) => explore::run(&args),
        Command::Agent(args) => agent::run(&args),
        Command::AgentToken(args) => agent::token(&args),
        Command::Run(args) => run::run(*args),
        Command::History(args) => history::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Import {
            what: Import::Openslo { file, threshold_unit },
        } => check::import_openslo(&file, threshold_unit),
    }
}

/// The policy JSON Schema exactly as checked in at `policies/sloop-policy.schema.json`.
pub fn schema_text() -> String {
    serde_json::to_string_pretty(&crate::policy::json_schema()).unwrap_or_default()
}

/// Colour in log lines only for a person at a terminal: escape codes in a file or a log
/// shipper's pipe are noise (`NO_COLOR` turns it off at a terminal too).
fn stderr_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Runs `work` on a multi-threaded runtime: success, or its error on stderr after `label: ` and
/// exit code 1 (also when the runtime cannot start).
pub fn block_on(label: &str, work: impl std::future::Future<Output = Result<(), String>>) -> ExitCode {
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
        .and_then(|runtime| runtime.block_on(work));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{label}: {e}");
            ExitCode::from(1)
        }
    }
}
