//! `sloop-bench deciders`: decision quality, every shipped scenario × every decider × several
//! seeds, scored by the simulator's ground truth. Prints per scenario the SLO-violation
//! minutes, error budget spent, time to detect and to mitigate each fault, actions, false
//! healing actions and VM-hours (min/median/max over seeds), and states the goal per
//! scenario: sloop's violation minutes ≤ 0.2 × the best peer's at ≤ 1.1 × its VM-hours, with
//! no false healing. The oracle is shown as a bound and is never the "best peer".

use crate::stats::{Spread, machine};
use serde::Serialize;
use sloop::{
    clock::Stopwatch,
    policy::{self, Policy},
    sim::{
        self, Scenario,
        decider::DeciderKind,
        rehearse::{rehearse, rehearse_with},
        report::Report,
    },
};
use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{Mutex, atomic::AtomicUsize, atomic::Ordering},
};

/// Output formats of the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TableFormat {
    /// Markdown tables (for BENCHMARKS.md).
    #[default]
    Md,
    /// One JSON document.
    Json,
}

/// Arguments of `sloop-bench deciders`.
#[derive(Debug, Clone, clap::Args)]
pub struct DecidersArgs {
    /// Seeds per scenario and decider (the scenario's seed, then +1, +2, …).
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// Directory of scenario files.
    #[arg(long, default_value = "policies/scenarios")]
    pub scenarios: PathBuf,
    /// The policy sloop runs (its group, probes and objectives also frame the baselines).
    #[arg(long, default_value = "policies/election-web.yaml")]
    pub policy: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: TableFormat,
    /// Worker threads (default: the machine's cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Also write the JSON document to this file (whatever `--format` prints).
    #[arg(long, value_name = "FILE")]
    pub json_out: Option<PathBuf>,
}

/// One rehearsal's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// Scenario name.
    pub scenario: String,
    /// Decider name.
    pub decider: String,
    /// Seed.
    pub seed: u64,
    /// Minutes with any objective violated.
    pub violation_minutes: f64,
    /// Share of the availability objective's period budget spent.
    pub budget_spent: f64,
    /// Per fault: seconds to detect and to mitigate (None: never).
    pub faults: Vec<(String, Option<f64>, Option<f64>)>,
    /// Actions taken.
    pub actions: f64,
    /// Healing actions on instances no fault touched.
    pub false_healing: f64,
    /// Server-hours.
    pub vm_hours: f64,
    /// Wall-clock seconds of the rehearsal.
    pub wall_s: f64,
}

impl Run {
    fn of(r: &Report, wall_s: f64) -> Self {
        Self {
            scenario: r.scenario.clone(),
            decider: r.decider.clone(),
            seed: r.seed,
            violation_minutes: r.slo_violation_minutes as f64,
            budget_spent: r
                .objectives
                .iter()
                .filter_map(|o| o.budget_spent)
                .fold(0.0, f64::max),
            faults: r
                .faults
                .iter()
                .map(|f| (f.kind.clone(), f.detected_after_s, f.mitigated_after_s))
                .collect(),
            actions: r.actions.values().sum::<u32>() as f64,
            false_healing: r.false_healing_actions as f64,
            vm_hours: r.vm_hours,
            wall_s,
        }
    }
}

/// The goal verdict of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    /// Scenario name.
    pub scenario: String,
    /// The peer with the fewest median violation minutes (then the fewest VM-hours).
    pub best_peer: String,
    /// sloop's median violation minutes.
    pub sloop_violation: f64,
    /// The best peer's median violation minutes.
    pub peer_violation: f64,
    /// The oracle's median violation minutes, when it ran.
    pub oracle_violation: Option<f64>,
    /// sloop's median VM-hours over the best peer's.
    pub vm_hours_ratio: f64,
    /// sloop's false healing actions, worst seed.
    pub sloop_false_healing: f64,
    /// Whether every part of the goal holds.
    pub met: bool,
    /// sloop's median VM-hours over the oracle's, when the oracle ran.
    pub oracle_vm_hours_ratio: Option<f64>,
    /// Issue 20's cost goal, where the oracle has 0 violation minutes: sloop also 0, at at most
    /// 1.15× the oracle's VM-hours. `None` where the oracle loses minutes or did not run.
    pub cost_met: Option<bool>,
}

/// The goal for one scenario from its runs (medians over seeds).
pub fn goal(scenario: &str, runs: &[Run]) -> Option<Goal> {
    let med = |d: &str, f: fn(&Run) -> f64| {
        let v: Vec<f64> = runs
            .iter()
            .filter(|r| r.scenario == scenario && r.decider == d)
            .map(f)
            .collect();
        (!v.is_empty()).then(|| Spread::of(&v).median)
    };
    let sloop_v = med("sloop", |r| r.violation_minutes)?;
    let sloop_h = med("sloop", |r| r.vm_hours)?;
    let (best, peer_v, peer_h) = DeciderKind::ALL
        .iter()
        .filter(|k| k.is_peer())
        .filter_map(|k| {
            Some((
                k.label(),
                med(k.label(), |r| r.violation_minutes)?,
                med(k.label(), |r| r.vm_hours)?,
            ))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.2.total_cmp(&b.2)))?;
    let false_heal = runs
        .iter()
        .filter(|r| r.scenario == scenario && r.decider == "sloop")
        .map(|r| r.false_healing)
        .fold(0.0, f64::max);
    let ratio = sloop_h / peer_h.max(1e-9);
    let oracle_v = med("oracle", |r| r.violation_minutes);
    let oracle_ratio = med("oracle", |r| r.vm_hours).map(|h| sloop_h / h.max(1e-9));
    Some(Goal {
        scenario: scenario.into(),
        best_peer: best.into(),
        sloop_violation: sloop_v,
        peer_violation: peer_v,
        oracle_violation: oracle_v,
        vm_hours_ratio: ratio,
        sloop_false_healing: false_heal,
        met: sloop_v <= 0.2 * peer_v + 1e-9 && ratio <= 1.1 + 1e-9 && false_heal == 0.0,
        oracle_vm_hours_ratio: oracle_ratio,
        cost_met: oracle_v
            .filter(|v| *v == 0.0)
            .and(oracle_ratio)
            .map(|r| sloop_v == 0.0 && r <= 1.15 + 1e-9),
    })
}

/// Loads every `*.yaml` scenario in `dir`, sorted by file name.
pub fn load_scenarios(dir: &Path) -> Result<Vec<Scenario>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            sim::load_scenario(p).map_err(|errs| {
                let msgs: Vec<String> = errs.iter().map(sloop::cli::render_diagnostic).collect();
                msgs.join("\n")
            })
        })
        .collect()
}

/// Runs every (scenario, decider, seed) on `threads` workers, in a stable output order.
pub fn run_all(policy: &Policy, scenarios: &[Scenario], seeds: u64, threads: usize) -> Vec<Run> {
    let mut jobs = Vec::new();
    for (s, sc) in scenarios.iter().enumerate() {
        for kind in DeciderKind::ALL {
            for k in 0..seeds.max(1) {
                jobs.push((s, kind, sc.seed.wrapping_add(k)));
            }
        }
    }
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<(usize, Run)>> = Mutex::new(Vec::with_capacity(jobs.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(s, kind, seed)) = jobs.get(i) else {
                        break;
                    };
                    let scenario = &scenarios[s];
                    let watch = Stopwatch::start();
                    let report = match kind {
                        DeciderKind::Sloop => rehearse(policy, scenario, seed, None, &mut |_| {}).report,
                        other => {
                            let mut d = other.build(policy, scenario);
                            rehearse_with(policy, scenario, seed, d.as_mut(), &mut |_| {}).report
                        }
                    };
                    let run = Run::of(&report, watch.elapsed().as_secs_f64());
                    if let Ok(mut o) = out.lock() {
                        o.push((i, run));
                    }
                }
            });
        }
    });
    let mut runs = out.into_inner().unwrap_or_default();
    runs.sort_by_key(|(i, _)| *i);
    runs.into_iter().map(|(_, r)| r).collect()
}

fn fmt_spread(v: &[f64], digits: usize) -> String {
    let s = Spread::of(v);
    if (s.max - s.min).abs() < 1e-9 {
        format!("{:.*}", digits, s.median)
    } else {
        format!(
            "{:.*} ({:.*}–{:.*})",
            digits, s.median, digits, s.min, digits, s.max
        )
    }
}

fn fault_cell(runs: &[&Run]) -> String {
    let n = runs.iter().map(|r| r.faults.len()).max().unwrap_or(0);
    if n == 0 {
        return "–".into();
    }
    let cell = |vals: Vec<Option<f64>>| {
        let got: Vec<f64> = vals.iter().flatten().copied().collect();
        let never = vals.len() - got.len();
        match (got.is_empty(), never) {
            (true, _) => "never".to_string(),
            (false, 0) => format!("{:.0}", Spread::of(&got).median),
            (false, k) => format!("{:.0} ({k}× never)", Spread::of(&got).median),
        }
    };
    (0..n)
        .map(|i| {
            let kind = runs
                .iter()
                .find_map(|r| r.faults.get(i).map(|f| f.0.clone()))
                .unwrap_or_default();
            let det = cell(runs.iter().map(|r| r.faults.get(i).and_then(|f| f.1)).collect());
            let mit = cell(runs.iter().map(|r| r.faults.get(i).and_then(|f| f.2)).collect());
            format!("{kind}: {det} / {mit}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The Markdown tables: one per scenario, then the goal summary.
pub fn markdown(runs: &[Run], goals: &[Goal], seeds: u64) -> String {
    let mut out = String::new();
    let mut scenarios: Vec<&str> = Vec::new();
    for r in runs {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
    }
    out.push_str(&format!(
        "Figures are medians over {seeds} seed(s), with (min–max) where they differ.\n\n"
    ));
    for sc in &scenarios {
        out.push_str(&format!("#### {sc}\n\n"));
        out.push_str(
            "| decider | SLO-violation min | budget spent % | detect / mitigate s, per fault | actions | false healing | VM-hours |\n|---|---|---|---|---|---|---|\n",
        );
        for kind in DeciderKind::ALL {
            let rs: Vec<&Run> = runs
                .iter()
                .filter(|r| &r.scenario == sc && r.decider == kind.label())
                .collect();
            if rs.is_empty() {
                continue;
            }
            let col = |f: fn(&Run) -> f64| rs.iter().map(|r| f(r)).collect::<Vec<f64>>();
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                kind.label(),
                fmt_spread(&col(|r| r.violation_minutes), 0),
                fmt_spread(&col(|r| r.budget_spent * 100.0), 2),
                fault_cell(&rs),
                fmt_spread(&col(|r| r.actions), 0),
                fmt_spread(&col(|r| r.false_healing), 0),
                fmt_spread(&col(|r| r.vm_hours), 1),
            ));
        }
        if let Some(g) = goals.iter().find(|g| &g.scenario == sc) {
            out.push_str(&format!("\nGoal: **{}** — {}\n\n", verdict(g), explain(g)));
        }
    }
    out.push_str("#### Goal per scenario\n\n");
    out.push_str("| scenario | sloop viol. min | best peer | peer viol. min | oracle viol. min | sloop/peer VM-h | sloop false healing | goal | sloop/oracle VM-h | cost goal |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for g in goals {
        out.push_str(&format!(
            "| {} | {:.0} | {} | {:.0} | {} | {:.3} | {:.0} | {} | {} | {} |\n",
            g.scenario,
            g.sloop_violation,
            g.best_peer,
            g.peer_violation,
            g.oracle_violation.map_or("–".into(), |v| format!("{v:.0}")),
            g.vm_hours_ratio,
            g.sloop_false_healing,
            verdict(g),
            g.oracle_vm_hours_ratio.map_or("–".into(), |r| format!("{r:.3}")),
            match g.cost_met {
                Some(true) => "met",
                Some(false) => "missed",
                None => "–",
            },
        ));
    }
    let met = goals.iter().filter(|g| g.met).count();
    out.push_str(&format!("\nGoal met on {met} of {} scenarios.\n", goals.len()));
    let judged = goals.iter().filter(|g| g.cost_met.is_some()).count();
    let cost_met = goals.iter().filter(|g| g.cost_met == Some(true)).count();
    out.push_str(&format!(
        "Cost goal (where the oracle has 0 violation minutes: sloop 0 at ≤ 1.15× the oracle's VM-hours) met on {cost_met} of {judged}.\n"
    ));
    out
}

fn verdict(g: &Goal) -> &'static str {
    if g.met { "met" } else { "missed" }
}

fn explain(g: &Goal) -> String {
    let mut why = Vec::new();
    if g.sloop_violation > 0.2 * g.peer_violation + 1e-9 {
        why.push(format!(
            "sloop {:.0} violation min > 0.2 × {} {:.0}",
            g.sloop_violation, g.best_peer, g.peer_violation
        ));
    }
    if g.vm_hours_ratio > 1.1 + 1e-9 {
        why.push(format!(
            "VM-hours {:.2}× {} (> 1.1×)",
            g.vm_hours_ratio, g.best_peer
        ));
    }
    if g.sloop_false_healing > 0.0 {
        why.push(format!("{:.0} false healing actions", g.sloop_false_healing));
    }
    if why.is_empty() {
        format!(
            "sloop {:.0} violation min vs {} {:.0}, at {:.3}× its VM-hours, no false healing",
            g.sloop_violation, g.best_peer, g.peer_violation, g.vm_hours_ratio
        )
    } else {
        why.join("; ")
    }
}

/// Runs the decider benchmark and prints its tables.
pub fn run(args: &DecidersArgs) -> ExitCode {
    let policy = match policy::load_file(&args.policy) {
        Ok(l) => l.policy,
        Err(errs) => {
            for e in errs {
                eprintln!("{}", sloop::cli::render_diagnostic(&e));
            }
            return ExitCode::from(1);
        }
    };
    let scenarios = match load_scenarios(&args.scenarios) {
        Ok(s) if !s.is_empty() => s,
        Ok(_) => {
            eprintln!("error: {}: no *.yaml scenarios", args.scenarios.display());
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let watch = Stopwatch::start();
    let runs = run_all(&policy, &scenarios, args.seeds, threads);
    let wall = watch.elapsed().as_secs_f64();
    let goals: Vec<Goal> = scenarios.iter().filter_map(|s| goal(&s.name, &runs)).collect();
    let doc = serde_json::json!({
        "machine": machine(),
        "seeds": args.seeds,
        "threads": threads,
        "wall_s": wall,
        "runs": runs,
        "goals": goals,
    });
    let json = serde_json::to_string_pretty(&doc).unwrap_or_default();
    if let Some(path) = &args.json_out
        && let Err(e) = std::fs::write(path, &json)
    {
        eprintln!("error: {}: {e}", path.display());
        return ExitCode::from(1);
    }
    match args.format {
        TableFormat::Json => outln!("{json}"),
        TableFormat::Md => {
            outln!(
                "<!-- sloop-bench deciders --seeds {}: {} rehearsals on {threads} thread(s) in {wall:.1} s; {} -->\n",
                args.seeds,
                runs.len(),
                machine()
            );
            out!("{}", markdown(&runs, &goals, args.seeds));
        }
    }
    ExitCode::SUCCESS
}
