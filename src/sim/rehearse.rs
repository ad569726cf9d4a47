//! `sloop rehearse`: the real reconcile loop against the simulated world, at full speed.
//!
//! The world steps at the scenario's resolution; the loop ticks at its own interval and sees
//! only what the probes, telemetry and inventory of the simulated cloud show it.

use super::{
    SimCloud,
    report::{self, Report, TickRecord},
    scenario::Scenario,
    truth::Truth,
};
use crate::{policy::Policy, reconcile::Reconciler, replay::LogWriter, snapshot::Time};
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

/// Runs `policy` through `scenario`. `progress` is called with the share done (0..1).
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
    let start = scenario.start_unix();
    let end = scenario.end_unix();
    let interval = reconciler.interval();
    let mut ticks = Vec::with_capacity(((end - start) / interval) as usize + 1);
    let resolution = scenario.resolution.secs().max(0.001);
    let mut next_tick = start + interval;
    let mut last_tick = start;
    let mut t = start;
    let mut reported = 0.0;
    while t < end - 1e-9 {
        t = (t + resolution).min(end);
        cloud.advance_to(t);
        // Tick on schedule, or early when the probes bring new evidence (as `sloop run` does).
        if t + 1e-9 < next_tick && !cloud.evidence_since(last_tick) {
            continue;
        }
        // The simulated inventory is always available; an observation error would be a bug.
        if let Ok(tick) = run_ready(reconciler.tick(&mut cloud, t)) {
            ticks.push(TickRecord::new(
                &tick.snapshot,
                tick.decision,
                &tick.outcomes,
                policy,
            ));
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
    let truth = cloud.truth().clone();
    let report = report::build(policy, scenario, seed, &truth, cloud.faults(), &ticks, start);
    progress(1.0);
    Rehearsal {
        report,
        truth,
        ticks,
        start,
    }
}
