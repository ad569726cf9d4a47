//! The action budget survives restarts: a controller that crash-loops through a storm (the
//! election-night surge with a tight budget) is killed and restarted every few ticks, each
//! time with an empty memory, and still never sends more actions to the cloud in any hour
//! than `maxActionsPerHour`. Each incarnation rebuilds the last hour's charges from the servers'
//! `sloop.action` stamps (the cloud, source of truth) and from the action journal (actions that
//! leave no server, failed attempts). The same run with neither source shows what a fresh
//! budget per start would do, so the test can fail.

use super::cloud::{Hook, Run, Tick, max_in_window};
use sloop::snapshot::Time;

/// No fault: the storm is the controller's own restarts.
struct Calm;

impl Hook for Calm {
    fn call(&mut self, _: super::cloud::Call, _: &str, _: Time) -> super::cloud::Fate {
        super::cloud::Fate::Pass
    }
}

/// Runs the evening, restarting every `every` ticks; returns (restarts, peak actions per hour,
/// actions in total, by kind): actions that reached the cloud.
fn crash_loop(budget: u32, every: usize, rebuild: bool) -> (u32, usize, usize, String) {
    let mut policy = crate::policy();
    policy.spec.limits.max_actions_per_hour = budget;
    let scenario = crate::election_evening();
    let mut run = Run::new(&policy, &scenario, scenario.seed, Calm);
    run.rebuild_from_journal = rebuild;
    let mut n = 0;
    while let Some((_, tick)) = run.next() {
        if let Tick::Done(report) = &tick
            && let Some(e) = report.outcomes.iter().find_map(|o| o.result.as_ref().err())
        {
            panic!("no fault is injected, yet an action failed: {e}");
        }
        n += 1;
        if n % every == 0 {
            run.restart();
        }
    }
    let times: Vec<Time> = run.attempted.iter().map(|(t, _)| *t).collect();
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for (_, k) in &run.attempted {
        *kinds.entry(k.label()).or_default() += 1;
    }
    (
        run.restarts,
        max_in_window(&times, 3600.0),
        times.len(),
        format!("{kinds:?}"),
    )
}

#[test]
fn a_crash_looping_controller_never_exceeds_the_hourly_budget() {
    let budget = 8;
    let mut failures = Vec::new();
    for every in [2, 3, 7] {
        let (restarts, peak, total, kinds) = crash_loop(budget, every, true);
        crate::figure(
            "restarts",
            &format!(
                "election-evening, restart every {every} ticks: {restarts} restarts, {total} actions charged {kinds}, peak {peak} per hour (budget {budget})"
            ),
        );
        if peak > budget as usize {
            failures.push(format!(
                "restart every {every} ticks: {peak} actions in one hour > budget {budget}"
            ));
        }
        if total < budget as usize {
            failures.push(format!(
                "restart every {every} ticks: only {total} actions, the storm never reached the budget"
            ));
        }
    }
    // Without the journal (the stamps alone, as after a lost journal volume), for contrast.
    let (restarts, peak, total, kinds) = crash_loop(budget, 3, false);
    crate::figure(
        "restarts",
        &format!(
            "same, restart every 3 ticks, stamps only (no journal): {restarts} restarts, {total} actions {kinds}, peak {peak} per hour"
        ),
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
