//! `sloop explore`: a search for broken invariants. A seeded generator ([`generate`]) draws
//! random scenarios from the scenario model; every policy runs through each with sloop's
//! reconcile loop and with the oracle; [`invariants`] checks every run; a run that breaks one is
//! shrunk ([`shrink`]) to a smaller scenario that still breaks it, printed as a scenario file.
//!
//! What the generator varies: hypervisor count and size, boot, reboot and rebuild times (slow
//! clouds included), action failure rates, throughput and its spread, load shapes (constant,
//! diurnal, piecewise-linear traces and ramps, surges and dips of any size, noise), every fault
//! kind of the model at random targets and times, two faults overlapping, quota exhaustion, API
//! brownouts, silent agents and telemetry blackouts.
//!
//! What the scenario model cannot express, so the search does not cover it: a quota with a
//! number (the model's `quota-exhausted` blocks every create; there is no "8 allowed, 12
//! needed"); a compute service forced down while its host still runs servers (`host-down` is the
//! one dead-host fault); a CSV trace (a generated trace is a `points` curve, which is the same
//! thing written inline). Pure: no IO; runs execute in the simulator.

pub mod generate;
pub mod invariants;
pub mod shrink;
#[cfg(test)]
mod tests;

use crate::{
    policy::Policy,
    sim::{
        Scenario,
        baseline::Group,
        decider::DeciderKind,
        rehearse::{rehearse, rehearse_with},
        report::Report,
    },
};
use invariants::{Bounds, Invariant, RunView, Violation};
use serde::Serialize;
use std::sync::{
    Mutex,
    atomic::{AtomicUsize, Ordering},
};

/// What one (scenario, policy) run gave.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Scenario index within the seed.
    pub index: u64,
    /// Scenario name.
    pub scenario: String,
    /// Policy name.
    pub policy: String,
    /// The broken invariants.
    pub violations: Vec<Violation>,
    /// sloop's SLO-violation minutes.
    pub sloop_violation_minutes: u32,
    /// The oracle's.
    pub oracle_violation_minutes: u32,
    /// sloop's VM-hours.
    pub sloop_vm_hours: f64,
    /// The oracle's.
    pub oracle_vm_hours: f64,
}

/// Runs `policy` through `scenario` with sloop and (when `with_oracle`) the oracle, and checks
/// the invariants. Returns the violations and both reports.
pub fn check_run(
    policy: &Policy,
    scenario: &Scenario,
    bounds: &Bounds,
    with_oracle: bool,
) -> (Vec<Violation>, Report, Option<Report>) {
    let seed = scenario.seed;
    let sloop = rehearse(policy, scenario, seed, None, &mut |_| {});
    let oracle = with_oracle.then(|| {
        let mut d = DeciderKind::Oracle.build(policy, scenario);
        rehearse_with(policy, scenario, seed, d.as_mut(), &mut |_| {}).report
    });
    let limits = &policy.spec.limits;
    let view = RunView {
        ticks: &sloop.ticks,
        faults: &sloop.faults,
        truth: &sloop.truth,
        report: &sloop.report,
        oracle: oracle.as_ref(),
        start: sloop.start,
        initial_instances: scenario.world.initial_instances,
        cap: Group::of(policy).max,
        min_healthy: limits.min_healthy,
        max_actions_per_hour: limits.max_actions_per_hour,
    };
    let violations = invariants::check(&view, bounds);
    (violations, sloop.report, oracle)
}

/// Whether `invariant` breaks when `policy` runs through `scenario`.
pub fn breaks(
    policy: &Policy,
    scenario: &Scenario,
    bounds: &Bounds,
    invariant: Invariant,
) -> Option<Violation> {
    let (violations, _, _) = check_run(policy, scenario, bounds, invariant.needs_oracle());
    violations.into_iter().find(|v| v.invariant == invariant)
}

/// Runs every (scenario, policy) pair on `jobs` threads. Results come back in a fixed order
/// (scenario, then policy), whatever the threads' timing, so a seed always prints the same.
/// `progress` hears (done, total) after each pair.
pub fn explore(
    policies: &[Policy],
    scenarios: &[(u64, Scenario)],
    bounds: &Bounds,
    jobs: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<Outcome> {
    let pairs: Vec<(usize, usize)> = (0..scenarios.len())
        .flat_map(|s| (0..policies.len()).map(move |p| (s, p)))
        .collect();
    par_map(pairs.len(), jobs, progress, |i| {
        let (s, p) = pairs[i];
        let (index, scenario) = &scenarios[s];
        let policy = &policies[p];
        let (violations, report, oracle) = check_run(policy, scenario, bounds, true);
        let oracle = oracle.unwrap_or_else(|| report.clone());
        Outcome {
            index: *index,
            scenario: scenario.name.clone(),
            policy: policy.metadata.name.clone(),
            violations,
            sloop_violation_minutes: report.slo_violation_minutes,
            oracle_violation_minutes: oracle.slo_violation_minutes,
            sloop_vm_hours: report.vm_hours,
            oracle_vm_hours: oracle.vm_hours,
        }
    })
}

/// `f(0..n)` on `jobs` threads, results in index order. `progress` hears (done, n).
pub fn par_map<R: Send>(
    n: usize,
    jobs: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
    f: impl Fn(usize) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let out: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(n));
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, n.max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let r = f(i);
                    if let Ok(mut o) = out.lock() {
                        o.push((i, r));
                    }
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, n);
                }
            });
        }
    });
    let mut results = out.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// A scenario as a file that `sloop rehearse POLICY --scenario FILE` reads back unchanged,
/// headed by the command that reproduces it.
pub fn scenario_yaml(scenario: &Scenario, policy_file: &str) -> Result<String, String> {
    let body = serde_saphyr::to_string(scenario).map_err(|e| format!("{}: {e}", scenario.name))?;
    Ok(format!(
        "# yaml-language-server: $schema=../sloop-scenario.schema.json\n#\n# {}\n# Reproduce: sloop rehearse {policy_file} --scenario <this file>\n{body}",
        scenario.description
    ))
}
