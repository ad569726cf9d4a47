//! `sloop rehearse` and `sloop replay`.

use super::check::render;
use crate::{
    clock::Stopwatch,
    policy,
    replay::{self, LogWriter},
    sim::{
        self,
        decider::DeciderKind,
        rehearse::{rehearse, rehearse_with},
        report_html, summary,
    },
};
use std::{
    io::{BufReader, IsTerminal, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

/// Arguments of `sloop rehearse`.
#[derive(Debug, clap::Args)]
pub struct RehearseArgs {
    /// The policy to rehearse.
    policy: PathBuf,
    /// The scenario file (see policies/scenarios/README.md).
    #[arg(long)]
    scenario: PathBuf,
    /// Random seed (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Write a self-contained HTML report with plots.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Record every decision for `sloop replay`: JSON lines in a gzip stream (`zcat` reads it).
    #[arg(long, value_name = "FILE")]
    decision_log: Option<PathBuf>,
    /// Exit 1 when an expectation of the scenario does not hold.
    #[arg(long)]
    check: bool,
    /// Which controller decides: sloop, or a peer's algorithm to compare with (heat-aodh,
    /// senlin-health, hpa), or the oracle that knows the future (a lower bound).
    #[arg(long, default_value = "sloop", value_parser = parse_decider)]
    decider: DeciderKind,
}

fn parse_decider(s: &str) -> Result<DeciderKind, String> {
    s.parse()
}

fn fail(errors: &[crate::document::Diagnostic]) -> ExitCode {
    for e in errors {
        eprintln!("{}", render(e));
    }
    ExitCode::from(1)
}

/// Runs a rehearsal and prints its report.
pub fn run(args: &RehearseArgs) -> ExitCode {
    let loaded = match policy::load_file(&args.policy) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let scenario = match sim::load_scenario(&args.scenario) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let seed = args.seed.unwrap_or(scenario.seed);
    let log = match &args.decision_log {
        None => None,
        Some(path) => match std::fs::File::create(path)
            .and_then(|f| LogWriter::new(Box::new(std::io::BufWriter::new(f)), &loaded.policy))
        {
            Ok(w) => Some(w),
            Err(e) => {
                eprintln!("error: {}: cannot write the decision log: {e}", path.display());
                return ExitCode::from(1);
            }
        },
    };
    let terminal = std::io::stderr().is_terminal();
    let mut progress = |done: f64| {
        if terminal {
            eprint!("\rrehearsing {:>3.0}%", done * 100.0);
            if done >= 1.0 {
                eprint!("\r              \r");
            }
            let _ = std::io::stderr().flush();
        }
    };
    let watch = Stopwatch::start();
    let result = match args.decider {
        DeciderKind::Sloop => rehearse(&loaded.policy, &scenario, seed, log, &mut progress),
        other => {
            if log.is_some() {
                eprintln!("note: --decision-log records sloop's decisions only; {other} is not logged");
            }
            let mut decider = other.build(&loaded.policy, &scenario);
            rehearse_with(&loaded.policy, &scenario, seed, decider.as_mut(), &mut progress)
        }
    };
    let wall = watch.elapsed().as_secs_f64();
    if let Some(path) = &args.report {
        let html = report_html::render(
            &result.report,
            &result.truth,
            &result.ticks,
            &loaded.policy,
            result.start,
        );
        if let Err(e) = std::fs::write(path, html) {
            eprintln!("error: {}: cannot write the report: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&result.report).unwrap_or_default()
        );
    } else {
        out!("{}", summary::render(&result.report, wall));
        if let Some(path) = &args.report {
            outln!("HTML report: {}", path.display());
        }
    }
    if args.check && result.report.expectations.iter().any(|e| !e.ok) {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// Replays a decision log.
pub fn replay(path: &Path) -> ExitCode {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::from(1);
        }
    };
    match replay::replay(BufReader::new(file)) {
        Ok(r) => {
            outln!(
                "replayed {} decisions: {} decision mismatches, {} history mismatches",
                r.ticks,
                r.decision_mismatches.len(),
                r.history_mismatches.len()
            );
            if let Some((line, recorded, now)) = &r.first_difference {
                outln!("first difference at line {line}:\n  recorded:   …{recorded}…\n  recomputed: …{now}…");
            }
            for line in r.decision_mismatches.iter().take(10) {
                outln!("  decision differs at line {line}");
            }
            for line in r.history_mismatches.iter().take(10) {
                outln!("  history differs after line {line}");
            }
            if r.identical() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            ExitCode::from(1)
        }
    }
}
