//! Shrinking a counterexample: greedy, one simplification at a time (drop a fault, a surge, the
//! noise; halve the run or the world; back to default timings and no failing actions), keeping
//! each step only when the same invariant still breaks. What is left is the smallest scenario
//! the search found that reproduces the violation, ready to become a regression scenario.

use super::{
    breaks,
    invariants::{Bounds, Invariant, Violation},
};
use crate::{
    policy::{Policy, units::Duration},
    sim::scenario::{BaseLoad, FailureRates, Scenario, Timings},
};

/// A shrunk counterexample.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The smallest scenario found that still breaks the invariant.
    pub scenario: Scenario,
    /// The violation it gives.
    pub violation: Violation,
    /// Rehearsals spent shrinking.
    pub trials: usize,
}

/// Shrinks `scenario` while `invariant` still breaks for `policy`, within `max_trials`
/// rehearsals. `found` is the violation of the original.
pub fn shrink(
    policy: &Policy,
    scenario: &Scenario,
    found: Violation,
    bounds: &Bounds,
    max_trials: usize,
) -> Shrunk {
    let invariant = found.invariant;
    let mut best = Shrunk {
        scenario: scenario.clone(),
        violation: found,
        trials: 0,
    };
    'improve: loop {
        for candidate in candidates(&best.scenario, bounds) {
            if best.trials >= max_trials {
                break 'improve;
            }
            best.trials += 1;
            if let Some(v) = breaks(policy, &candidate, bounds, invariant) {
                best.scenario = candidate;
                best.violation = v;
                continue 'improve;
            }
        }
        break;
    }
    best
}

/// Simpler variants of `s`, most reducing first. Every one is a valid scenario.
pub fn candidates(s: &Scenario, bounds: &Bounds) -> Vec<Scenario> {
    let mut out = Vec::new();
    let with = |f: &dyn Fn(&mut Scenario)| {
        let mut c = s.clone();
        f(&mut c);
        c
    };
    for i in 0..s.faults.len() {
        out.push(with(&|c| {
            c.faults.remove(i);
        }));
    }
    if let Some(d) = shorter(s, bounds) {
        out.push(with(&|c| cut(c, d)));
    }
    for i in 0..s.load.surges.len() {
        out.push(with(&|c| {
            c.load.surges.remove(i);
        }));
    }
    if s.load.noise.is_some() {
        out.push(with(&|c| c.load.noise = None));
    }
    if let BaseLoad::Points(p) = &s.load.base
        && p.len() > 1
    {
        let mean = (p.iter().map(|x| x.rps).sum::<f64>() / p.len() as f64).round();
        out.push(with(&|c| c.load.base = BaseLoad::Constant(mean)));
    }
    if let BaseLoad::Diurnal(d) = &s.load.base {
        let mean = d.mean;
        out.push(with(&|c| c.load.base = BaseLoad::Constant(mean)));
    }
    let hv = &s.world.hypervisors;
    if hv.count > 1 {
        let half = hv.count.div_ceil(2);
        out.push(with(&|c| c.world.hypervisors.count = half));
    }
    if s.world.initial_instances > 1 {
        out.push(with(&|c| c.world.initial_instances -= 1));
    }
    if s.world.failures != FailureRates::default() {
        out.push(with(&|c| c.world.failures = FailureRates::default()));
    }
    if s.world.timings != Timings::default() {
        out.push(with(&|c| c.world.timings = Timings::default()));
    }
    if s.world.throughput_spread > 0.0 {
        out.push(with(&|c| c.world.throughput_spread = 0.0));
    }
    out
}

/// A shorter run that still holds every fault's start and the time to judge its mitigation:
/// half the run, but no less than the last fault's start plus the mitigation bound and 5
/// minutes, and never under 30 minutes: a shorter run ends inside the policies' scale-in
/// stabilisation (15–20 min), and VM-hours would then compare a deliberate hold with the
/// oracle's immediate scale-in. `None` when that is no shorter.
fn shorter(s: &Scenario, bounds: &Bounds) -> Option<f64> {
    let last_fault = s.faults.iter().map(|f| f.at.secs()).fold(0.0, f64::max);
    let need = if s.faults.is_empty() {
        0.0
    } else {
        last_fault + bounds.mitigate_within_s + 300.0
    };
    let d = (s.duration.secs() / 2.0).max(need).max(1800.0).round();
    (d < s.duration.secs() - 1.0).then_some(d)
}

fn cut(c: &mut Scenario, secs: f64) {
    c.duration = Duration::from_secs(secs);
    c.faults.retain(|f| f.at.secs() <= secs);
    c.load.surges.retain(|g| g.at.secs() <= secs);
}

/// Every invariant a list of violations names, in order, once.
pub fn invariants_of(violations: &[Violation]) -> Vec<Invariant> {
    let mut out: Vec<Invariant> = violations.iter().map(|v| v.invariant).collect();
    out.sort();
    out.dedup();
    out
}
