//! `sloop rehearse`: the real reconcile loop against the simulated world, at full speed.
//!
//! The world steps at the scenario's resolution; the loop ticks at its own interval and sees
//! only what the probes, telemetry and inventory of the simulated cloud show it.

use super::{
    SimCloud,
    decider::Decider,
    report::{self, Report, TickRecord},
    scenario::Scenario,
    truth::Truth,
};
use crate::{
    act::executor, observe::ProbeSource, policy::Policy, reconcile::Reconciler, replay::LogWriter,
    snapshot::Time,
};
use std::{
    future::Future,
    pin::pin,
    task::{Context, Poll, Waker},
};

/// Everything a rehearsal produced.
pub struct Rehearsal {
    /// The summary.
    pub report: Report,
    /// Ground truth, minute by minute.
    pub truth: Truth,
    /// Every decision tick.
    pub ticks: Vec<TickRecord>,
    /// Scenario start.
    pub start: Time,
    /// The faults that started, with their targets and outcomes.
    pub faults: Vec<super::InjectedFault>,
}

/// Drives a future that never waits on real IO (the simulator answers at once) to completion.
/// A real waker is not needed because nothing ever has to wake us.
pub fn run_ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// Runs `policy` through `scenario` with sloop's reconcile loop. `progress` is called with the
/// share done (0..1).
pub fn rehearse(
    policy: &Policy,
    scenario: &Scenario,
    seed: u64,
    log: Option<LogWriter>,
    progress: &mut dyn FnMut(f64),
) -> Rehearsal {
    let mut cloud = SimCloud::new(scenario, policy, seed);
    let mut reconciler = Reconciler::new(policy.clone());
    if let Some(log) = log {
        reconciler = reconciler.with_decision_log(log);
    }
    let interval = reconciler.interval();
    let ticks = run_loop(scenario, &mut cloud, interval, true, progress, &mut |cloud, t| {
        // The simulated inventory is always available; an observation error would be a bug.
        run_ready(reconciler.tick(cloud, t))
            .ok()
            .map(|tick| TickRecord::new(&tick.snapshot, tick.decision, &tick.outcomes, policy))
    });
    finish(policy, scenario, seed, cloud, ticks, "sloop", progress)
}

/// Runs `policy` through `scenario` with any [`Decider`]: observe, decide, execute, as the
/// reconcile loop does, on the decider's own cadence. The decider's data sources see the world
/// through [`Decider::observed_policy`]; the cloud is acted on as `policy` says.
pub fn rehearse_with(
    policy: &Policy,
    scenario: &Scenario,
    seed: u64,
    decider: &mut dyn Decider,
    progress: &mut dyn FnMut(f64),
) -> Rehearsal {
    let observed = decider.observed_policy(policy);
    let mut cloud = SimCloud::new(scenario, &observed, seed);
    let interval = decider.interval();
    let wakes = decider.wakes_on_evidence();
    let ticks = run_loop(
        scenario,
        &mut cloud,
        interval,
        wakes,
        progress,
        &mut |cloud, t| {
            decider.peek(cloud.world());
            let snapshot = cloud.snapshot(t);
            let decision = decider.decide(&snapshot, t);
            let outcomes = run_ready(executor::execute(policy, &snapshot, &decision.actions, cloud));
            decider.settle(&executor::without_effect(&outcomes));
            Some(TickRecord::new(&snapshot, decision, &outcomes, policy))
        },
    );
    let name = decider.name();
    finish(policy, scenario, seed, cloud, ticks, name, progress)
}

type TickFn<'a> = dyn FnMut(&mut SimCloud, Time) -> Option<TickRecord> + 'a;

/// Steps the world at the scenario's resolution and ticks on schedule, or early when the probes
/// bring new evidence and the decider listens for it (as `sloop run` does).
fn run_loop(
    scenario: &Scenario,
    cloud: &mut SimCloud,
    interval: f64,
    wakes_on_evidence: bool,
    progress: &mut dyn FnMut(f64),
    tick: &mut TickFn<'_>,
) -> Vec<TickRecord> {
    let start = scenario.start_unix();
    let end = scenario.end_unix();
    let mut ticks = Vec::with_capacity(((end - start) / interval) as usize + 1);
    let resolution = scenario.resolution.secs().max(0.001);
    let mut next_tick = start + interval;
    let mut last_tick = start;
    let mut t = start;
    let mut reported = 0.0;
    while t < end - 1e-9 {
        t = (t + resolution).min(end);
        cloud.advance_to(t);
        if t + 1e-9 < next_tick && !(wakes_on_evidence && cloud.evidence_since(last_tick)) {
            continue;
        }
        if let Some(record) = tick(cloud, t) {
            ticks.push(record);
        }
        last_tick = t;
        if t + 1e-9 >= next_tick {
            next_tick += interval;
        }
        let done = (t - start) / (end - start);
        if done - reported >= 0.01 {
            progress(done);
            reported = done;
        }
    }
    cloud.advance_to(end);
    ticks
}

fn finish(
    policy: &Policy,
    scenario: &Scenario,
    seed: u64,
    cloud: SimCloud,
    ticks: Vec<TickRecord>,
    decider: &str,
    progress: &mut dyn FnMut(f64),
) -> Rehearsal {
    let start = scenario.start_unix();
    let truth = cloud.truth().clone();
    let faults = cloud.faults().to_vec();
    let mut report = report::build(policy, scenario, seed, &truth, cloud.faults(), &ticks, start);
    report.decider = decider.into();
    progress(1.0);
    Rehearsal {
        report,
        truth,
        ticks,
        start,
        faults,
    }
}
