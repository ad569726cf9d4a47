//! `sloop explore`: generate random scenarios, run every policy through each with sloop and the
//! oracle, check the invariants, shrink each counterexample and print it as a scenario file.

use super::check::render;
use crate::{
    clock::Stopwatch,
    policy::{self, Policy},
    sim::explore::{
        self, Outcome,
        generate::scenario,
        invariants::{Bounds, Invariant, Violation},
        shrink::{Shrunk, shrink},
    },
};
use serde::Serialize;
use std::{
    collections::BTreeSet,
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

/// Arguments of `sloop explore`.
///
/// Invariants checked on every run (defaults of the margins in brackets):
/// false-healing: no healing action on an instance no fault touched;
/// retry-backoff: no action kind retried on the same target sooner than --retry-backoff [30s]
/// after it failed;
/// attempt-budget: attempts per rolling hour (failed ones included, admits excluded) within
/// limits.maxActionsPerHour;
/// unmitigated: every server fault (instance-*, host-*) mitigated within --mitigate-within
/// [10m], or an alert in that time naming why not (cap, quota, freeze, network, budget, ladder);
/// max-instances: never more servers (ERROR included) than the policy's cap;
/// min-healthy: never fewer than limits.minHealthy serving while sloop holds servers no fault
/// touched out of rotation;
/// violation-minutes: SLO-violation minutes ≤ the oracle's + --violation-margin [5];
/// vm-hours: VM-hours ≤ --vm-hours-factor [1.5] × the oracle's.
#[derive(Debug, Clone, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ExploreArgs {
    /// Scenarios to generate.
    #[arg(long, default_value_t = 100)]
    pub count: u64,
    /// Seed of the generator: the same seed and count always give the same scenarios and
    /// results.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Index of the first scenario: `--from 500 --count 500` runs scenarios 500–999 of the seed,
    /// so a long search can be split into parts that each print their own results.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// A policy to run (repeatable; default: every policy in policies/).
    #[arg(long = "policy", value_name = "FILE")]
    pub policies: Vec<PathBuf>,
    /// Worker threads (default: the machine's cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Write each shrunk counterexample as a scenario file into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Rehearsals to spend shrinking each counterexample (0: do not shrink). The first run that
    /// breaks each (policy, invariant) pair is shrunk.
    #[arg(long, default_value_t = 40)]
    pub shrink_trials: usize,
    /// SLO-violation minutes allowed beyond the oracle's.
    #[arg(long, default_value_t = 5.0)]
    pub violation_margin: f64,
    /// VM-hours allowed, as a multiple of the oracle's.
    #[arg(long, default_value_t = 1.5)]
    pub vm_hours_factor: f64,
    /// Time within which a server fault must be mitigated (or an alert say why not).
    #[arg(long, default_value = "10m")]
    pub mitigate_within: policy::units::Duration,
    /// Time an action kind must wait before retrying the same target after a failure.
    #[arg(long, default_value = "30s")]
    pub retry_backoff: policy::units::Duration,
    /// Known open violations, one per line: `POLICY INVARIANT SCENARIO COUNTEREXAMPLE-FILE`.
    /// Listed violations are reported but do not fail the run; any other one does.
    #[arg(long, value_name = "FILE")]
    pub known: Option<PathBuf>,
}

/// One known open violation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Known {
    policy: String,
    invariant: String,
    scenario: String,
}

/// A shrunk counterexample, as printed.
#[derive(Debug, Clone, Serialize)]
struct Counterexample {
    policy: String,
    invariant: Invariant,
    scenario: String,
    shrunk_to: String,
    violation: Violation,
    trials: usize,
    file: Option<String>,
    yaml: String,
}

/// Runs `sloop explore`.
pub fn run(args: &ExploreArgs) -> ExitCode {
    let (files, policies) = match load_policies(&args.policies) {
        Ok(p) => p.into_iter().unzip::<_, _, Vec<PathBuf>, Vec<Policy>>(),
        Err(code) => return code,
    };
    let known = match args.known.as_deref().map(read_known).transpose() {
        Ok(k) => k.unwrap_or_default(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let bounds = Bounds {
        violation_margin_min: args.violation_margin,
        vm_hours_factor: args.vm_hours_factor,
        mitigate_within_s: args.mitigate_within.secs(),
        retry_backoff_s: args.retry_backoff.secs(),
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let scenarios: Vec<_> = (args.from..args.from + args.count)
        .map(|i| (i, scenario(args.seed, i)))
        .collect();
    let watch = Stopwatch::start();
    let tty = std::io::stderr().is_terminal();
    let progress = |done: usize, total: usize| {
        if tty {
            eprint!("\rexplore: {done}/{total} runs");
            let _ = std::io::stderr().flush();
        }
    };
    let outcomes = explore::explore(&policies, &scenarios, &bounds, jobs, &progress);
    if tty {
        eprintln!();
    }
    let examples = counterexamples(args, (&files, &policies), &scenarios, &outcomes, &bounds, jobs);
    let examples = match examples {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let wall = watch.elapsed().as_secs_f64();
    let (new, gone) = against_known(&outcomes, &known);
    if args.json {
        let doc = serde_json::json!({
            "seed": args.seed,
            "from": args.from,
            "count": args.count,
            "policies": policies.iter().map(|p| &p.metadata.name).collect::<Vec<_>>(),
            "bounds": bounds,
            "runs": outcomes.len(),
            "jobs": jobs,
            "wall_s": wall,
            "violations": table(&outcomes, &policies),
            "failing_runs": outcomes.iter().filter(|o| !o.violations.is_empty()).collect::<Vec<_>>(),
            "counterexamples": examples,
            "new": new.len(),
        });
        outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        print_text(args, &policies, &outcomes, &examples, wall, jobs);
        if args.known.is_some() {
            outln!("\n{} violation(s) not in the known list:", new.len());
            for k in &new {
                outln!("  {} {} {}", k.policy, k.invariant, k.scenario);
            }
            for k in &gone {
                outln!(
                    "  no longer seen (remove from the list): {} {} {}",
                    k.policy,
                    k.invariant,
                    k.scenario
                );
            }
        }
    }
    let failed = if args.known.is_some() {
        !new.is_empty()
    } else {
        outcomes.iter().any(|o| !o.violations.is_empty())
    };
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn load_policies(files: &[PathBuf]) -> Result<Vec<(PathBuf, Policy)>, ExitCode> {
    let loaded = if files.is_empty() {
        policy::load_dir(Path::new("policies"))
    } else {
        policy::load_files(files)
    };
    match loaded {
        Ok(l) if !l.is_empty() => Ok(l.into_iter().map(|l| (l.file, l.policy)).collect()),
        Ok(_) => {
            eprintln!("error: no policies to explore");
            Err(ExitCode::from(1))
        }
        Err(errs) => {
            for e in errs {
                eprintln!("{}", render(&e));
            }
            Err(ExitCode::from(1))
        }
    }
}

fn read_known(path: &Path) -> Result<BTreeSet<Known>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        let [policy, invariant, scenario, _file] = cols[..] else {
            return Err(format!(
                "{}:{}: expected `POLICY INVARIANT SCENARIO COUNTEREXAMPLE-FILE`, found `{line}`",
                path.display(),
                n + 1
            ));
        };
        invariant
            .parse::<Invariant>()
            .map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
        out.insert(Known {
            policy: policy.into(),
            invariant: invariant.into(),
            scenario: scenario.into(),
        });
    }
    Ok(out)
}

/// Violations not in `known`, and known entries no run showed.
fn against_known(outcomes: &[Outcome], known: &BTreeSet<Known>) -> (Vec<Known>, Vec<Known>) {
    let seen: BTreeSet<Known> = outcomes
        .iter()
        .flat_map(|o| {
            o.violations.iter().map(|v| Known {
                policy: o.policy.clone(),
                invariant: v.invariant.label().into(),
                scenario: o.scenario.clone(),
            })
        })
        .collect();
    (
        seen.difference(known).cloned().collect(),
        known.difference(&seen).cloned().collect(),
    )
}

/// Runs breaking each invariant, per policy.
fn table(outcomes: &[Outcome], policies: &[Policy]) -> serde_json::Value {
    let mut doc = serde_json::Map::new();
    for inv in Invariant::ALL {
        let mut row = serde_json::Map::new();
        for p in policies {
            let n = outcomes
                .iter()
                .filter(|o| o.policy == p.metadata.name && o.violations.iter().any(|v| v.invariant == inv))
                .count();
            row.insert(p.metadata.name.clone(), n.into());
        }
        doc.insert(inv.label().into(), row.into());
    }
    doc.into()
}

/// Shrinks the first run breaking each (policy, invariant) pair, in parallel.
fn counterexamples(
    args: &ExploreArgs,
    (files, policies): (&[PathBuf], &[Policy]),
    scenarios: &[(u64, crate::sim::Scenario)],
    outcomes: &[Outcome],
    bounds: &Bounds,
    jobs: usize,
) -> Result<Vec<Counterexample>, String> {
    let mut firsts: Vec<(usize, &Outcome, &Violation)> = Vec::new();
    for o in outcomes {
        let Some(p) = policies.iter().position(|p| p.metadata.name == o.policy) else {
            continue;
        };
        for v in &o.violations {
            if !firsts
                .iter()
                .any(|(q, f, w)| *q == p && f.policy == o.policy && w.invariant == v.invariant)
            {
                firsts.push((p, o, v));
            }
        }
    }
    if args.shrink_trials == 0 && args.out.is_none() {
        return Ok(Vec::new());
    }
    let shrunk: Vec<Shrunk> = explore::par_map(firsts.len(), jobs, &|_, _| {}, |i| {
        let (p, o, v) = firsts[i];
        let original = &scenarios[(o.index - args.from) as usize].1;
        shrink(&policies[p], original, v.clone(), bounds, args.shrink_trials)
    });
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut out = Vec::new();
    for ((p, o, _), s) in firsts.iter().zip(shrunk) {
        let policy = &policies[*p].metadata.name;
        let invariant = s.violation.invariant;
        let mut sc = s.scenario.clone();
        sc.name = format!(
            "explored-{policy}-{}-{}-{}",
            invariant.label(),
            args.seed,
            o.index
        );
        sc.description = format!(
            "Found by `sloop explore --seed {} --count {}` ({}), shrunk in {} rehearsals: {}",
            args.seed, args.count, o.scenario, s.trials, s.violation.detail
        );
        let yaml = explore::scenario_yaml(&sc, &files[*p].display().to_string())?;
        let file = match &args.out {
            Some(dir) => {
                let path = dir.join(format!("{}.yaml", sc.name));
                std::fs::write(&path, &yaml).map_err(|e| format!("{}: {e}", path.display()))?;
                Some(path.display().to_string())
            }
            None => None,
        };
        out.push(Counterexample {
            policy: policy.clone(),
            invariant,
            scenario: o.scenario.clone(),
            shrunk_to: sc.name.clone(),
            violation: s.violation,
            trials: s.trials,
            file,
            yaml,
        });
    }
    Ok(out)
}

fn print_text(
    args: &ExploreArgs,
    policies: &[Policy],
    outcomes: &[Outcome],
    examples: &[Counterexample],
    wall: f64,
    jobs: usize,
) {
    let failing = outcomes.iter().filter(|o| !o.violations.is_empty()).count();
    outln!(
        "sloop explore --seed {} --count {}: {} scenarios × {} policies = {} runs (sloop + oracle each) on {jobs} thread(s) in {wall:.1} s; {failing} run(s) broke an invariant.\n",
        args.seed,
        args.count,
        args.count,
        policies.len(),
        outcomes.len()
    );
    let names: Vec<&str> = policies.iter().map(|p| p.metadata.name.as_str()).collect();
    outln!("| invariant | {} |", names.join(" | "));
    outln!("|---|{}", "---|".repeat(names.len()));
    for inv in Invariant::ALL {
        let cells: Vec<String> = names
            .iter()
            .map(|p| {
                outcomes
                    .iter()
                    .filter(|o| &o.policy == p && o.violations.iter().any(|v| v.invariant == inv))
                    .count()
                    .to_string()
            })
            .collect();
        outln!("| {} | {} |", inv.label(), cells.join(" | "));
    }
    if examples.is_empty() {
        return;
    }
    outln!("\nCounterexamples (the first run breaking each policy × invariant, shrunk):");
    for c in examples {
        outln!(
            "- {} {}: {} (from {}, {} shrink rehearsals){}",
            c.policy,
            c.invariant.label(),
            c.violation.detail,
            c.scenario,
            c.trials,
            c.file.as_ref().map_or(String::new(), |f| format!(" -> {f}"))
        );
    }
    if args.out.is_none() {
        for c in examples {
            outln!("\n# --- {} ---\n{}", c.shrunk_to, c.yaml);
        }
    }
}
