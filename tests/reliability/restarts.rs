//! The action budget survives restarts: a controller that crash-loops through a storm (the
//! election-night surge with a tight budget) is killed and restarted every few ticks, each
//! time with an empty memory, and still never sends more actions to the cloud in any hour
//! than `maxActionsPerHour`. Each incarnation rebuilds the last hour's charges from the servers'
//! `sloop.action` stamps (the cloud, source of truth) and from the action journal (actions that
//! leave no server, failed attempts). The same run with neither source shows what a fresh
//! budget per start would do, so the test can fail. A second test kills the controller right
//! after the cloud accepted every repair: the journal's intent line, written before the call,
//! is all that charges it (with the journal written after the call, it fails).

use super::cloud::{Hook, Run, Tick, max_in_window};
use sloop::{decision::ActionKind, snapshot::Time};

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

/// Kills the controller right after the cloud accepted each healing call (reboot, rebuild,
/// live migration). Their repair stamps went out before them, so the servers tell the next
/// incarnation too; the journal's intent line is the record that also names the action.
struct KillAfterHealing(usize);

impl Hook for KillAfterHealing {
    fn call(&mut self, call: super::cloud::Call, _: &str, _: Time) -> super::cloud::Fate {
        use super::cloud::{Call, Fate};
        if matches!(call, Call::Reboot | Call::Rebuild | Call::Migrate) {
            self.0 += 1;
            Fate::KillAfter
        } else {
            Fate::Pass
        }
    }
}

/// An instance that keeps failing and a controller killed in the middle of every repair:
/// each incarnation must find the interrupted repair's intent in the journal and charge it.
/// With the journal written after the call (the old order), every kill erased the charge of
/// the one action in flight, and the crash loop repaired without any budget.
#[test]
fn an_action_in_flight_at_a_kill_is_charged_after_the_restart() {
    let budget = 3;
    let mut failures = Vec::new();
    for (name, scenario) in [
        ("six-crashes", six_crashes()),
        ("noisy-neighbour", crate::scenario("noisy-neighbour")),
    ] {
        let mut policy = crate::policy();
        policy.spec.limits.max_actions_per_hour = budget;
        let mut run = Run::new(&policy, &scenario, scenario.seed, KillAfterHealing(0));
        while let Some((_, tick)) = run.next() {
            if matches!(tick, Tick::Killed) {
                run.restart();
            }
        }
        let healing: Vec<Time> = run
            .attempted
            .iter()
            .filter(|(_, k)| !matches!(k, ActionKind::ScaleOut | ActionKind::ScaleIn))
            .map(|(t, _)| *t)
            .collect();
        let all: Vec<Time> = run.attempted.iter().map(|(t, _)| *t).collect();
        let peak = max_in_window(&all, 3600.0);
        crate::figure(
            "restarts",
            &format!(
                "{name}, kill -9 after every accepted healing call: {} kills, {} restarts, {} repairs sent, peak {peak} actions per hour (budget {budget})",
                run.cloud.hook.0,
                run.restarts,
                healing.len()
            ),
        );
        if run.cloud.hook.0 == 0 {
            failures.push(format!("{name}: no healing call was ever made, nothing tested"));
        }
        if peak > budget as usize {
            failures.push(format!(
                "{name}: {peak} actions reached the cloud in one hour across {} kills mid-action > budget {budget}",
                run.restarts
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// instance-crash with six instances crashing ten minutes apart: six repairs wanted in an hour.
fn six_crashes() -> sloop::sim::Scenario {
    let text = std::fs::read_to_string("policies/scenarios/instance-crash.yaml").expect("shipped");
    let one = "  - at: 30m\n    fault: {kind: instance-crash, instance: 2, mode: process}\n";
    assert!(text.contains(one), "instance-crash.yaml changed shape");
    let six: String = (0..6)
        .map(|i| {
            format!(
                "  - at: {}m\n    fault: {{kind: instance-crash, instance: {i}, mode: process}}\n",
                20 + 10 * i
            )
        })
        .collect();
    sloop::sim::parse_scenario("six-crashes", text.replace(one, &six).as_bytes()).expect("parses")
}
