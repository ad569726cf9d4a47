//! The generator (determinism, validity), each invariant against a hand-built run that breaks
//! it and one that does not, and shrinking.

use super::{
    generate::scenario,
    invariants::{self, Bounds, Invariant, RunView},
    scenario_yaml,
    shrink::{candidates, shrink},
};
use crate::{
    decision::{Action, Alert, Cause, Decision, Evidence, PlannedAction},
    policy::{self, Policy, Severity},
    sim::{
        InjectedFault, Scenario, Truth, parse_scenario,
        rehearse::rehearse,
        report::{AlertReport, FaultReport, Report, TickRecord},
    },
};
use std::{path::Path, sync::OnceLock};

const START: f64 = 1_791_158_400.0;

fn reparsed(s: &Scenario) -> Scenario {
    let yaml = scenario_yaml(s, "policies/election-web.yaml").expect("serialises");
    match parse_scenario("generated.yaml", yaml.as_bytes()) {
        Ok(back) => back,
        Err(e) => panic!("{} does not load: {e:?}\n{yaml}", s.name),
    }
}

#[test]
fn the_generator_is_deterministic_per_seed_and_index() {
    assert_eq!(scenario(7, 3), scenario(7, 3));
    assert_ne!(scenario(7, 3), scenario(7, 4));
    assert_ne!(scenario(7, 3), scenario(8, 3));
}

#[test]
fn every_generated_scenario_and_every_shrink_step_loads_back_unchanged() {
    let bounds = Bounds::default();
    let mut kinds = std::collections::BTreeSet::new();
    for i in 0..300 {
        let s = scenario(42, i);
        let back = reparsed(&s);
        // Printing the loaded scenario gives the same file: nothing is lost on the way.
        assert_eq!(
            scenario_yaml(&back, "p").unwrap(),
            scenario_yaml(&s, "p").unwrap(),
            "{}",
            s.name
        );
        kinds.extend(s.faults.iter().map(|f| f.fault.label()));
        if i < 20 {
            for c in candidates(&s, &bounds) {
                reparsed(&c);
            }
        }
    }
    // Every fault kind of the model appears within 300 scenarios.
    assert_eq!(kinds.len(), 10, "{kinds:?}");
}

fn policy() -> Policy {
    policy::load_file(Path::new("policies/election-web.yaml"))
        .expect("shipped policy loads")
        .policy
}

/// A real 10-minute rehearsal: its report and truth are the base the hand-built runs change.
fn base() -> &'static (Report, Truth) {
    static BASE: OnceLock<(Report, Truth)> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut s = scenario(1, 0);
        s.duration = crate::policy::units::Duration::from_secs(600.0);
        s.faults.clear();
        let r = rehearse(&policy(), &s, 1, None, &mut |_| {});
        (r.report, r.truth)
    })
}

fn tick(at: f64, actions: Vec<Action>, failed: &[usize], in_rotation: &[&str]) -> TickRecord {
    let actions: Vec<PlannedAction> = actions
        .into_iter()
        .enumerate()
        .map(|(i, action)| PlannedAction {
            id: format!("a-{at}-{i}"),
            action,
            cause: Cause::Capacity,
            evidence: Evidence::default(),
        })
        .collect();
    TickRecord {
        failed_ids: failed.iter().map(|i| actions[*i].id.clone()).collect(),
        decision: Decision {
            now: START + at,
            actions,
            ..Decision::default()
        },
        in_rotation: in_rotation.iter().map(|s| (*s).to_owned()).collect(),
        stale_locations: Vec::new(),
        failed: Vec::new(),
        created: 0,
    }
}

fn crash_on(instance: &str, at: f64) -> InjectedFault {
    InjectedFault {
        index: 0,
        kind: "instance-crash",
        start: START + at,
        scheduled_end: None,
        resolved_at: None,
        resolved_by: None,
        instance: Some(instance.into()),
        host: None,
        location: None,
        family: None,
        instances: vec![instance.into()],
    }
}

struct Run {
    ticks: Vec<TickRecord>,
    faults: Vec<InjectedFault>,
    truth: Truth,
    report: Report,
    cap: u32,
    min_healthy: u32,
    budget: u32,
}

impl Run {
    fn new(ticks: Vec<TickRecord>, faults: Vec<InjectedFault>) -> Self {
        let (report, truth) = base().clone();
        Self {
            ticks,
            faults,
            truth,
            report,
            cap: 6,
            min_healthy: 2,
            budget: 30,
        }
    }

    fn view(&self) -> RunView<'_> {
        RunView {
            ticks: &self.ticks,
            faults: &self.faults,
            truth: &self.truth,
            report: &self.report,
            oracle: None,
            start: START,
            initial_instances: 2,
            cap: self.cap,
            min_healthy: self.min_healthy,
            max_actions_per_hour: self.budget,
        }
    }
}

fn reboot(id: &str) -> Action {
    Action::Reboot {
        instance: id.into(),
        hard: false,
    }
}

#[test]
fn false_healing_is_a_healing_action_on_an_instance_no_fault_touched() {
    let ticks = vec![tick(100.0, vec![reboot("vm-a")], &[], &[])];
    let bad = Run::new(ticks.clone(), vec![crash_on("vm-b", 50.0)]);
    let v = invariants::false_healing(&bad.view()).expect("vm-a was never faulty");
    assert_eq!(v.invariant, Invariant::FalseHealing);
    assert!(v.detail.contains("reboot-soft of vm-a at 100 s"), "{}", v.detail);
    let good = Run::new(ticks, vec![crash_on("vm-a", 50.0)]);
    assert_eq!(invariants::false_healing(&good.view()), None);
    // A fault that starts after the action does not justify it.
    let late = Run::new(bad.ticks.clone(), vec![crash_on("vm-a", 200.0)]);
    assert!(invariants::false_healing(&late.view()).is_some());
}

#[test]
fn a_retry_before_the_backoff_after_a_failure_breaks_retry_backoff() {
    let out = |at| tick(at, vec![Action::ScaleOut { count: 2 }], &[0], &[]);
    let early = Run::new(vec![out(0.0), out(10.0)], Vec::new());
    let v = invariants::retry_backoff(&early.view(), 30.0).expect("retried after 10 s");
    assert!(
        v.detail.contains("scale-out of the group retried 10 s"),
        "{}",
        v.detail
    );
    let patient = Run::new(vec![out(0.0), out(40.0)], Vec::new());
    assert_eq!(invariants::retry_backoff(&patient.view(), 30.0), None);
    // After a success the next attempt may come at once.
    let ok = tick(0.0, vec![Action::ScaleOut { count: 2 }], &[], &[]);
    let after_success = Run::new(vec![ok, out(10.0)], Vec::new());
    assert_eq!(invariants::retry_backoff(&after_success.view(), 30.0), None);
}

#[test]
fn attempts_beyond_the_hourly_budget_break_attempt_budget_and_admits_do_not_count() {
    let ticks: Vec<TickRecord> = (0..5)
        .map(|i| {
            let admit = Action::Admit {
                instance: format!("vm-{i}"),
            };
            tick(
                f64::from(i) * 600.0,
                vec![Action::ScaleOut { count: 1 }, admit],
                &[0],
                &[],
            )
        })
        .collect();
    let mut run = Run::new(ticks, Vec::new());
    run.budget = 4;
    let v = invariants::attempt_budget(&run.view()).expect("5 attempts, budget 4");
    assert!(
        v.detail.starts_with("5 attempts within one hour, budget 4"),
        "{}",
        v.detail
    );
    run.budget = 5;
    assert_eq!(invariants::attempt_budget(&run.view()), None);
    // Spread over more than an hour, 5 attempts fit a budget of 4 per rolling hour.
    run.budget = 4;
    run.ticks[4].decision.now += 1200.0;
    assert_eq!(invariants::attempt_budget(&run.view()), None);
}

fn fault_report(mitigated: Option<f64>) -> FaultReport {
    FaultReport {
        kind: "host-down".into(),
        at_s: 100.0,
        target: "hv-01".into(),
        detected_after_s: Some(10.0),
        mitigated_after_s: mitigated,
        mitigation: None,
    }
}

#[test]
fn a_server_fault_unmitigated_within_the_bound_needs_an_alert_that_says_why() {
    let mut report = base().0.clone();
    report.duration_s = 3600.0;
    report.faults = vec![fault_report(None)];
    let v = invariants::unmitigated(&report, 600.0).expect("never mitigated, no alert");
    assert!(
        v.detail.contains("host-down on hv-01 at 100 s never mitigated"),
        "{}",
        v.detail
    );
    report.faults = vec![fault_report(Some(900.0))];
    assert!(invariants::unmitigated(&report, 600.0).is_some(), "too late");
    report.faults = vec![fault_report(Some(120.0))];
    assert_eq!(invariants::unmitigated(&report, 600.0), None);
    report.faults = vec![fault_report(None)];
    report.alerts = vec![AlertReport {
        name: "burn-rate".into(),
        severity: Severity::Page,
        at_s: 200.0,
        lasted_s: 60.0,
        summary: "`availability` burns its error budget at 14.4×".into(),
    }];
    assert!(
        invariants::unmitigated(&report, 600.0).is_some(),
        "a burn-rate alert says nothing"
    );
    report.alerts[0].name = "freeze".into();
    assert_eq!(invariants::unmitigated(&report, 600.0), None);
    // A fault too close to the end is not judged yet.
    report.alerts.clear();
    report.duration_s = 500.0;
    assert_eq!(invariants::unmitigated(&report, 600.0), None);
}

#[test]
fn more_servers_than_the_cap_break_max_instances() {
    let mut run = Run::new(Vec::new(), Vec::new());
    run.truth.minutes.truncate(3);
    for (i, m) in run.truth.minutes.iter_mut().enumerate() {
        m.start = START + 60.0 * i as f64;
        m.instances = 6;
    }
    assert_eq!(invariants::max_instances(&run.view()), None);
    run.truth.minutes[1].instances = 7;
    let v = invariants::max_instances(&run.view()).expect("7 > 6");
    assert!(
        v.detail.starts_with("7 servers at once against a cap of 6"),
        "{}",
        v.detail
    );
}

#[test]
fn serving_below_min_healthy_while_sloop_holds_a_healthy_server_out_breaks_min_healthy() {
    let drain = Action::Drain {
        instance: "vm-a".into(),
    };
    let ticks = vec![
        tick(60.0, vec![drain], &[], &["vm-b"]),
        tick(200.0, Vec::new(), &[], &["vm-a", "vm-b"]),
    ];
    let mut run = Run::new(ticks.clone(), Vec::new());
    run.truth.minutes.truncate(4);
    for (i, m) in run.truth.minutes.iter_mut().enumerate() {
        m.start = START + 60.0 * i as f64;
        m.serving = if i == 1 { 1.0 } else { 2.0 };
    }
    let v = invariants::min_healthy(&run.view()).expect("1 serving, minHealthy 2, vm-a drained");
    assert!(v.detail.contains("held vm-a out"), "{}", v.detail);
    // Draining a server a fault hit is not sloop's doing.
    let mut faulty = Run::new(ticks, vec![crash_on("vm-a", 10.0)]);
    faulty.truth = run.truth.clone();
    assert_eq!(invariants::min_healthy(&faulty.view()), None);
    // Back in rotation at 200 s: minute 3 (180–240 s) still overlaps, minute 4 would not.
    run.truth.minutes[1].serving = 2.0;
    assert_eq!(invariants::min_healthy(&run.view()), None);
}

#[test]
fn cost_invariants_compare_with_the_oracle_within_the_margins() {
    let b = Bounds::default();
    let mut sloop = base().0.clone();
    let mut oracle = sloop.clone();
    sloop.slo_violation_minutes = 8;
    oracle.slo_violation_minutes = 3;
    sloop.vm_hours = 3.0;
    oracle.vm_hours = 2.0;
    assert!(
        invariants::cost(&sloop, &oracle, &b).is_empty(),
        "8 ≤ 3 + 5 and 3.0 ≤ 1.5 × 2.0"
    );
    sloop.slo_violation_minutes = 9;
    sloop.vm_hours = 3.1;
    let v = invariants::cost(&sloop, &oracle, &b);
    let kinds: Vec<Invariant> = v.iter().map(|v| v.invariant).collect();
    assert_eq!(kinds, [Invariant::ViolationMinutes, Invariant::VmHours]);
}

#[test]
fn alerts_count_for_the_invariants_only_through_the_report() {
    // The report's alert episodes are what `unmitigated` reads: one raised by a decision shows.
    let alert = Alert {
        severity: Severity::Ticket,
        name: "freeze".into(),
        summary: "telemetry missing".into(),
    };
    let mut t = tick(0.0, Vec::new(), &[], &[]);
    t.decision.alerts.push(alert);
    let s = scenario(1, 0);
    let r = crate::sim::report::build(&policy(), &s, 1, &base().1, &[], &[t], START);
    assert_eq!(r.alerts.len(), 1);
    assert_eq!(r.alerts[0].name, "freeze");
}

#[test]
fn shrinking_keeps_the_violation_and_makes_the_scenario_smaller() {
    // VM-hours ≤ 0.1 × the oracle's cannot hold, so every variant breaks it: this tests the
    // shrinker's mechanics, not the core.
    let bounds = Bounds {
        vm_hours_factor: 0.1,
        ..Bounds::default()
    };
    let mut s = scenario(3, 5);
    s.duration = crate::policy::units::Duration::from_secs(1200.0);
    s.faults = scenario(3, 1).faults;
    s.faults.retain(|f| f.at.secs() < 1200.0);
    let found = super::breaks(&policy(), &s, &bounds, Invariant::VmHours).expect("breaks");
    let shrunk = shrink(&policy(), &s, found, &bounds, 3);
    assert_eq!(shrunk.violation.invariant, Invariant::VmHours);
    assert!(shrunk.trials <= 3);
    let size = |s: &Scenario| {
        (
            s.faults.len(),
            s.load.surges.len(),
            s.duration.secs(),
            s.load.noise.is_some(),
        )
    };
    assert_ne!(
        size(&shrunk.scenario),
        size(&s),
        "three simplifications, none kept"
    );
    assert!(shrunk.scenario.faults.len() <= s.faults.len());
    assert!(shrunk.scenario.duration.secs() <= s.duration.secs());
    reparsed(&shrunk.scenario);
}

#[test]
fn every_committed_counterexample_loads() {
    let dir = Path::new("policies/scenarios/explored");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("policies/scenarios/explored exists") {
        let path = entry.expect("readable").path();
        if path.extension().is_some_and(|x| x == "yaml") {
            if let Err(e) = crate::sim::load_scenario(&path) {
                panic!("{} does not load: {e:?}", path.display());
            }
            n += 1;
        }
    }
    assert!(n > 0, "no counterexamples in {}", dir.display());
}
