//! The healing memory survives restarts: a controller restarted after every repair continues
//! the ladder at the next rung (drain, soft reboot, hard reboot, replace) instead of starting
//! it over, because each incarnation rebuilds the rung each instance reached from the action
//! journal (`History::adopt_healing`). Before that rebuild, every restart forgot the repair it
//! had just made, and a persistent fault got a soft reboot per restart until the budget ran out
//! (measured: 17 soft reboots of one instance over 18 restarts). The migration memory is
//! rebuilt the same way; its unit test is in `src/history/adopt.rs` (the shipped scenarios
//! never re-migrate a moved server even without it, so no run here can tell).

use super::cloud::{Call, Fate, Hook, Run, Tick};
use sloop::{decision::Action, snapshot::Time};
use std::collections::BTreeMap;

struct Calm;

impl Hook for Calm {
    fn call(&mut self, _: Call, _: &str, _: Time) -> Fate {
        Fate::Pass
    }
}

/// instance-crash with a crash no reboot clears: the whole ladder is needed.
pub fn persistent_crash() -> sloop::sim::Scenario {
    let text = std::fs::read_to_string("policies/scenarios/instance-crash.yaml").expect("shipped");
    let one = "fault: {kind: instance-crash, instance: 2, mode: process}";
    assert!(text.contains(one), "instance-crash.yaml changed shape");
    let text = text.replace(
        one,
        "fault: {kind: instance-crash, instance: 2, mode: process, persistent: true}",
    );
    sloop::sim::parse_scenario("persistent-crash", text.as_bytes()).expect("parses")
}

/// Runs the scenario, restarting after every tick that repaired something (with the journal
/// read back, or lost, and with or without the servers' repair stamps); returns the repairs
/// sent per instance, in order, and the restarts.
fn repairs_with_restarts(
    scenario: &sloop::sim::Scenario,
    journal: bool,
    stamps: bool,
) -> (BTreeMap<String, Vec<String>>, u32) {
    let policy = crate::policy();
    let mut run = Run::new(&policy, scenario, scenario.seed, Calm);
    run.rebuild_from_journal = journal;
    run.cloud.keep_stamps = stamps;
    let mut repairs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    while let Some((_, tick)) = run.next() {
        let Tick::Done(report) = tick else { continue };
        let mut repaired = false;
        for a in &report.decision.actions {
            if matches!(
                a.action,
                Action::Admit { .. } | Action::ScaleOut { .. } | Action::ScaleIn { .. }
            ) {
                continue;
            }
            let ok = report.outcomes.iter().any(|o| o.id == a.id && o.result.is_ok());
            if let (true, Some(i)) = (ok, a.action.instance()) {
                repairs
                    .entry(i.clone())
                    .or_default()
                    .push(a.action.kind().label().to_owned());
                repaired = true;
            }
        }
        if repaired {
            run.restart();
        }
    }
    (repairs, run.restarts)
}

/// Fails when a rung was applied twice to one instance: the ladder started over.
fn assert_each_rung_once(repairs: &BTreeMap<String, Vec<String>>) {
    for (instance, kinds) in repairs {
        let mut seen = std::collections::BTreeSet::new();
        for k in kinds {
            assert!(
                seen.insert(k.as_str()),
                "{instance}: rung {k} applied twice across restarts ({kinds:?}); the ladder started over"
            );
        }
    }
}

#[test]
fn a_restarted_controller_continues_the_ladder_at_the_next_rung() {
    let (repairs, restarts) = repairs_with_restarts(&persistent_crash(), true, true);
    crate::figure(
        "ladder-restarts",
        &format!("persistent-crash, restart after every repair: {restarts} restarts, repairs {repairs:?}"),
    );
    assert!(restarts >= 2, "too few repairs to test anything: {repairs:?}");
    assert_each_rung_once(&repairs);
}

/// The journal deleted at every restart (a new pod on a new node, a lost volume, another
/// replica taking the lease): the rungs stamped on the server (`sloop.heal`) carry the ladder.
#[test]
fn the_ladder_survives_a_lost_journal_through_the_servers_stamps() {
    let scenario = persistent_crash();
    let (blind, blind_restarts) = repairs_with_restarts(&scenario, false, false);
    let (repairs, restarts) = repairs_with_restarts(&scenario, false, true);
    let count =
        |r: &BTreeMap<String, Vec<String>>, k: &str| r.values().flatten().filter(|x| x.as_str() == k).count();
    crate::figure(
        "ladder-lost-journal",
        &format!(
            "persistent-crash, journal deleted at every restart: without stamps {blind_restarts} restarts, \
             {} soft reboots, repairs {blind:?}; with stamps {restarts} restarts, {} soft reboots, repairs {repairs:?}",
            count(&blind, "reboot-soft"),
            count(&repairs, "reboot-soft"),
        ),
    );
    assert!(
        count(&blind, "reboot-soft") >= 2,
        "without stamps or journal the ladder should start over (else this test shows nothing): {blind:?}"
    );
    assert!(restarts >= 2, "too few repairs to test anything: {repairs:?}");
    assert_each_rung_once(&repairs);
    let climbed: Vec<&str> = ["drain", "reboot-soft", "reboot-hard", "replace"]
        .into_iter()
        .filter(|k| count(&repairs, k) == 1)
        .collect();
    assert_eq!(
        climbed,
        ["drain", "reboot-soft", "reboot-hard", "replace"],
        "the whole ladder, once each: {repairs:?}"
    );
}
