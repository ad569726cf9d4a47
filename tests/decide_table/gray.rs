//! Rows for gray failures: an instance that serves, but slower than its peers under the same
//! load; its sequential test, the remedy it waits for before it serves again, and capacity that
//! is not bought for it.

use super::*;
use sloop::{
    history::{Remedy, ShiftState},
    snapshot::Snapshot,
};

/// A row whose snapshot needs a touch the fixture has no word for.
struct GrayCase {
    name: &'static str,
    why: &'static str,
    fixture: Fixture,
    tweak: fn(&mut Snapshot),
    history: fn(f64) -> History,
    expect: fn(&Decision) -> Result<(), String>,
}

fn untouched(_: &mut Snapshot) {}

fn has(d: &Decision, a: &Action) -> bool {
    d.actions.iter().any(|x| &x.action == a)
}
fn admit(id: &str) -> Action {
    Action::Admit { instance: id.into() }
}
fn drain(id: &str) -> Action {
    Action::Drain { instance: id.into() }
}
fn soft_reboot(id: &str) -> Action {
    Action::Reboot {
        instance: id.into(),
        hard: false,
    }
}
fn is_reboot(d: &Decision, id: &str) -> bool {
    d.actions
        .iter()
        .any(|a| matches!(&a.action, Action::Reboot { instance, .. } if instance == id))
}
fn scaled_out(d: &Decision) -> bool {
    kinds(d).contains(&ActionKind::ScaleOut)
}

/// `vm-1` sits at ladder rung `rung` (0 drain, 1 soft reboot) decided `ago` seconds before,
/// drained, and its sequential test alarmed before the drain.
fn on_ladder(now: f64, rung: usize, ago: f64, drained: bool) -> History {
    let mut h = fresh(now);
    h.ladders.insert(
        "vm-1".into(),
        LadderState {
            rung,
            since: now - ago,
            drained,
        },
    );
    h.shifts.insert(
        "vm-1".into(),
        ShiftState {
            s: 20.0,
            alarmed_at: Some(now - ago - 10.0),
            ..ShiftState::default()
        },
    );
    h
}

/// `id` became ACTIVE again `secs_ago` (after a reboot).
fn restarted(snap: &mut Snapshot, id: &str, secs_ago: f64) {
    let now = snap.observed_at;
    if let Some(i) = snap.inventory.iter_mut().find(|i| i.id == id) {
        i.active_since = Some(now - secs_ago);
    }
}

fn cases() -> Vec<GrayCase> {
    vec![
        GrayCase {
            name: "a_gray_slowdown_under_the_objective_is_found_by_its_sequential_test",
            why: "an instance 1.8× slower than its peers under the same load keeps the objective and passes every probe, \
                  so neither the failure rule nor the materiality screen sees it; its test against its peers must",
            fixture: Fixture::healthy(6).instance_slow("vm-1", 1.8),
            tweak: untouched,
            history: fresh,
            expect: |d| {
                check(
                    d.diagnoses.iter().any(
                        |x| matches!(x, Diagnosis::InstanceFault { instance, .. } if instance == "vm-1"),
                    ),
                    format!("diagnoses: {:?}", d.diagnoses),
                )?;
                check(has(d, &drain("vm-1")), format!("actions: {:?}", kinds(d)))?;
                check(!scaled_out(d), "capacity bought for one slow instance")
            },
        },
        GrayCase {
            name: "peers_with_a_little_spread_are_not_a_gray_failure",
            why: "servers are never identical: 10 % slower than the others is not a fault (the test's design ratio is a 4× heavier tail)",
            fixture: Fixture::healthy(6).instance_slow("vm-1", 1.1),
            tweak: untouched,
            history: fresh,
            expect: |d| {
                no_healing(d)?;
                check(
                    !d.diagnoses.iter().any(|x| x.label() == "instance-fault"),
                    format!("diagnoses: {:?}", d.diagnoses),
                )
            },
        },
        GrayCase {
            name: "a_drained_server_that_answers_is_not_readmitted_before_its_remedy",
            why: "the issue's '6 s later after a remedy that never happened': drained, it takes no load and answers fast, \
                  which proves nothing; its soft reboot comes next and it stays out",
            fixture: Fixture::healthy(6).drained("vm-1"),
            tweak: untouched,
            history: |now| on_ladder(now, 0, 6.0, true),
            expect: |d| {
                check(!has(d, &admit("vm-1")), "re-admitted before any remedy")?;
                check(has(d, &soft_reboot("vm-1")), format!("actions: {:?}", kinds(d)))
            },
        },
        GrayCase {
            name: "a_drained_server_without_a_remedy_is_refused_readmission",
            why: "whatever took it out (here a fault that no longer shows), a drain alone repaired nothing:                   the admission is refused with the reason, not silently skipped",
            fixture: Fixture::healthy(6).drained("vm-1"),
            tweak: untouched,
            history: |now| {
                let mut h = on_ladder(now, 0, 6.0, true);
                h.shifts.clear();
                h
            },
            expect: |d| {
                check(!has(d, &admit("vm-1")), "re-admitted before any remedy")?;
                check(
                    d.refusals.iter().any(|r| {
                        r.reason == RefusalReason::AwaitingRemedy
                            && r.evidence.summary.contains("no remedy has run")
                    }),
                    format!("refusals: {:?}", d.refusals),
                )
            },
        },
        GrayCase {
            name: "a_remedy_not_yet_completed_keeps_the_server_out",
            why: "a reboot Nova accepted but has not finished: the server is ACTIVE since before the decision",
            fixture: Fixture::healthy(6).drained("vm-1"),
            tweak: untouched,
            history: |now| {
                let mut h = on_ladder(now, 1, 30.0, true);
                h.shifts.clear();
                h
            },
            expect: |d| {
                check(!has(d, &admit("vm-1")), "re-admitted before its reboot completed")?;
                check(
                    refused(d, RefusalReason::AwaitingRemedy),
                    format!("refusals: {:?}", d.refusals),
                )
            },
        },
        GrayCase {
            name: "a_completed_remedy_waits_for_fresh_passing_probes",
            why: "ACTIVE again 8 s ago: one probe per location since then is not yet the verification the failure rule would ask for",
            fixture: Fixture::healthy(6).drained("vm-1"),
            tweak: |s| restarted(s, "vm-1", 8.0),
            history: |now| on_ladder(now, 1, 60.0, true),
            expect: |d| {
                check(
                    !has(d, &admit("vm-1")),
                    "re-admitted on one probe after the reboot",
                )?;
                check(
                    refused(d, RefusalReason::AwaitingRemedy),
                    format!("refusals: {:?}", d.refusals),
                )
            },
        },
        GrayCase {
            name: "a_completed_and_verified_remedy_readmits_the_server",
            why: "ACTIVE again 70 s ago after its soft reboot, and every probe since passed from both locations: it serves again",
            fixture: Fixture::healthy(6).drained("vm-1"),
            tweak: |s| restarted(s, "vm-1", 70.0),
            history: |now| on_ladder(now, 1, 100.0, true),
            expect: |d| {
                check(has(d, &admit("vm-1")), format!("actions: {:?}", kinds(d)))?;
                let why = d
                    .actions
                    .iter()
                    .find(|a| a.action == admit("vm-1"))
                    .map(|a| a.evidence.summary.clone())
                    .unwrap_or_default();
                check(why.contains("reboot-soft completed"), format!("evidence: {why}"))
            },
        },
        GrayCase {
            name: "a_restart_that_missed_the_reboot_readmits_once_the_rung_time_has_passed",
            why: "sloop was killed while the soft reboot ran and came back after it: no pass saw the server rebooting, and a \
                  quick reboot left its ACTIVE time within the stamp's slack of the decision; 200 s on (past the 3 min \
                  rungTimeout), ACTIVE, nothing in flight and every probe since passing, it serves again instead of \
                  waiting for ever",
            fixture: Fixture::healthy(6).drained("vm-1"),
            tweak: |s| restarted(s, "vm-1", 199.0),
            history: |now| {
                let mut h = on_ladder(now, 1, 200.0, true);
                h.shifts.clear();
                h
            },
            expect: |d| {
                check(
                    has(d, &admit("vm-1")),
                    format!("actions: {:?}, refusals: {:?}", kinds(d), d.refusals),
                )
            },
        },
        GrayCase {
            name: "a_relapse_in_rotation_is_drained_before_the_next_remedy",
            why: "the issue's 'soft-rebooted it while it was back in rotation': a server that is slow again after its remedy \
                  is taken out first, and the ladder keeps its place to escalate",
            fixture: Fixture::healthy(6).instance_slow("vm-1", 3.0),
            tweak: untouched,
            history: |now| {
                let mut h = on_ladder(now, 1, 600.0, false);
                h.shifts.clear();
                h
            },
            expect: |d| {
                check(has(d, &drain("vm-1")), format!("actions: {:?}", kinds(d)))?;
                check(!is_reboot(d, "vm-1"), "rebooted while it takes traffic")
            },
        },
    ]
}

#[test]
fn gray_failure_table() {
    let mut failures = Vec::new();
    for case in cases() {
        let policy = election_policy();
        let mut snap = case.fixture.build();
        (case.tweak)(&mut snap);
        let now = case.fixture.now;
        let (decision, _) = decide(&policy, &snap, &(case.history)(now), now);
        if let Err(msg) = (case.expect)(&decision) {
            failures.push(format!("{} ({}): {msg}", case.name, case.why));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_remedy_record_says_what_the_cloud_showed() {
    // Drained, soft reboot decided 100 s ago, ACTIVE again 70 s ago, probes passing since.
    let policy = election_policy();
    let fixture = Fixture::healthy(6).drained("vm-1");
    let mut snap = fixture.build();
    restarted(&mut snap, "vm-1", 70.0);
    let now = fixture.now;
    let (_, h) = decide(&policy, &snap, &on_ladder(now, 1, 100.0, true), now);
    let record = h.remedies.get("vm-1").cloned();
    let expected = Remedy {
        rung: Rung::RebootSoft,
        decided: now - 100.0,
        seen_running: false,
        completed: Some(now - 70.0),
        verified: Some(now),
    };
    assert_eq!(record, Some(expected));
    // The reboot also restarted the test: the alarm from before it no longer holds.
    assert!(
        h.shifts.get("vm-1").is_some_and(|s| !s.alarmed()),
        "{:?}",
        h.shifts.get("vm-1")
    );
}
