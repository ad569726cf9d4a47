//! Fail-safe freezes, as properties of `decide` over random snapshots and histories (proptest)
//! and as table rows: no healing and no scale-in on missing data, a healing freeze with an
//! alert when too much of the group looks unhealthy at once, never fewer than `minHealthy`
//! healthy serving instances through any combination of actions, the hourly budget and the
//! concurrency cap on every pass, and scale-out capped by the resource guard under flood.

use crate::support::{Fixture, MU, election_policy};
use proptest::prelude::*;
use sloop::{
    decide::decide,
    decision::{Action, ActionKind, Decision, RefusalReason},
    history::{History, LadderState},
    policy::Policy,
    snapshot::Snapshot,
};

/// One random situation.
#[derive(Debug, Clone)]
struct Situation {
    n: usize,
    down: Vec<usize>,
    slow: Vec<usize>,
    util: f64,
    cpu_missing: bool,
    telemetry_error: bool,
    probe_blackout: bool,
    stale: Vec<usize>,
    actions_last_hour: u32,
    ladders: Vec<(usize, usize, f64, bool)>,
    min_healthy: u32,
}

fn situation() -> impl Strategy<Value = Situation> {
    (3usize..14).prop_flat_map(|n| {
        (
            (
                Just(n),
                proptest::collection::vec(0..n, 0..n),
                proptest::collection::vec(0..n, 0..3),
                0.02f64..1.4,
                any::<bool>(),
                proptest::bool::weighted(0.15),
                proptest::bool::weighted(0.2),
            ),
            (
                proptest::collection::vec(0usize..4, 0..4),
                0u32..70,
                proptest::collection::vec((0..n, 0usize..4, 0.0f64..900.0, any::<bool>()), 0..4),
                1u32..6,
            ),
        )
            .prop_map(
                |(
                    (n, down, slow, util, cpu_missing, telemetry_error, probe_blackout),
                    (stale, actions_last_hour, ladders, min_healthy),
                )| Situation {
                    n,
                    down: dedup(down),
                    slow: dedup(slow),
                    util,
                    cpu_missing,
                    telemetry_error,
                    probe_blackout,
                    stale: dedup(stale),
                    actions_last_hour,
                    ladders,
                    min_healthy,
                },
            )
    })
}

fn dedup(mut v: Vec<usize>) -> Vec<usize> {
    v.sort_unstable();
    v.dedup();
    v
}

fn build(s: &Situation) -> (Policy, Snapshot, History) {
    let mut policy = election_policy();
    policy.spec.limits.min_healthy = s.min_healthy;
    let mut f = Fixture::healthy(s.n).util(s.util);
    for &i in &s.down {
        f = f.instance_down(&Fixture::id(i));
    }
    for &i in &s.slow {
        f = f.instance_slow(&Fixture::id(i), 8.0);
    }
    if s.cpu_missing {
        f = f.without_cpu();
    }
    for &l in &s.stale {
        f = f.stale(crate::support::LOCATIONS[l]);
    }
    let mut snap = f.build();
    if s.probe_blackout {
        snap.instances_probed.clear();
    }
    if s.telemetry_error {
        snap.telemetry.source_error = Some("gnocchi: 503".into());
        snap.telemetry.instances.clear();
        snap.telemetry.hypervisors.clear();
    }
    let now = snap.observed_at;
    let mut h = History {
        service_rate: Some(MU),
        ..History::default()
    };
    for k in 0..s.actions_last_hour {
        h.actions
            .push_back((now - 3500.0 + k as f64 * 10.0, ActionKind::RebootSoft));
    }
    for &(i, rung, ago, drained) in &s.ladders {
        h.ladders.insert(
            Fixture::id(i),
            LadderState {
                rung,
                since: now - ago,
                drained,
            },
        );
    }
    (policy, snap, h)
}

/// Instances removed from service by an action (a live migration keeps serving).
fn taken_out(d: &Decision) -> Vec<String> {
    let mut out = Vec::new();
    for a in &d.actions {
        match &a.action {
            Action::ScaleIn { instances } => out.extend(instances.iter().cloned()),
            Action::Drain { instance }
            | Action::Reboot { instance, .. }
            | Action::Rebuild { instance }
            | Action::Replace { instance, .. } => out.push(instance.clone()),
            Action::ScaleOut { .. } | Action::Admit { .. } | Action::Migrate { .. } => {}
        }
    }
    out
}

fn check(s: &Situation) -> Result<(), TestCaseError> {
    let (policy, snap, history) = build(s);
    let now = snap.observed_at;
    let (d, _) = decide(&policy, &snap, &history, now);
    let kinds: Vec<ActionKind> = d.actions.iter().map(|a| a.action.kind()).collect();
    let healing = kinds.iter().any(|k| k.is_healing());
    let scale_in = kinds.contains(&ActionKind::ScaleIn);

    // Missing data: no healing without per-instance probe data, no scale-in without telemetry.
    if s.probe_blackout {
        prop_assert!(!healing, "healing without probe data: {kinds:?}");
    }
    if s.cpu_missing || s.telemetry_error {
        prop_assert!(!scale_in, "scale-in without telemetry: {kinds:?}");
    }
    // Too much of the group unhealthy at once: healing frozen, with an alert.
    // (Slowness is judged against the peers, so only instances down count as surely bad.)
    let bad = s.down.len();
    let share = policy.spec.limits.freeze_when_unhealthy_above.fraction();
    if !s.probe_blackout && bad as f64 > share * s.n as f64 {
        prop_assert!(!healing, "healing while {bad}/{} look unhealthy: {kinds:?}", s.n);
        // The alert needs the failures judged: both instance-probe locations fresh (with one
        // stale, a single location's failures are not enough to call an instance down).
        let instance_locations_fresh = !s.stale.iter().any(|&l| l < 2);
        // A group short of capacity is saturated: its failures are the overload's symptom,
        // not a probe fault, and capacity comes first (docs/overload.md); no freeze is paged.
        let short_of_capacity = d
            .diagnoses
            .iter()
            .any(|x| matches!(x.label(), "capacity" | "flood"));
        if instance_locations_fresh && !short_of_capacity {
            prop_assert!(
                d.alerts.iter().any(|a| a.name == "freeze"),
                "no freeze alert: {:?}",
                d.alerts
            );
        }
    }
    // Never below minHealthy: actions may take out of service only so many of the healthy
    // instances (neither down nor slow) that at least minHealthy of them stay (or all of them,
    // when fewer are healthy). Slow and down instances are the ones healing may drain.
    let healthy: Vec<String> = (0..s.n)
        .filter(|i| !s.down.contains(i) && !s.slow.contains(i))
        .map(Fixture::id)
        .collect();
    let removed = taken_out(&d)
        .into_iter()
        .filter(|id| healthy.contains(id))
        .count();
    let floor = (policy.spec.limits.min_healthy as usize).min(healthy.len());
    prop_assert!(
        healthy.len() - removed >= floor,
        "{} healthy, {removed} taken out, minHealthy {}: {:?}",
        healthy.len(),
        policy.spec.limits.min_healthy,
        d.actions
    );
    // Budget and concurrency on every pass.
    let budgeted = kinds.iter().filter(|k| **k != ActionKind::Admit).count() as u32;
    let left = policy
        .spec
        .limits
        .max_actions_per_hour
        .saturating_sub(s.actions_last_hour);
    prop_assert!(budgeted <= left, "{budgeted} budgeted actions with {left} left");
    prop_assert!(kinds.len() as u32 <= policy.spec.limits.max_concurrent_actions);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn decisions_never_act_on_missing_data_nor_below_min_healthy(s in situation()) {
        check(&s)?;
    }
}

#[test]
fn freeze_table() {
    struct Row {
        name: &'static str,
        why: &'static str,
        snap: fn() -> Snapshot,
        expect: fn(&Decision) -> bool,
    }
    let rows = [
        Row {
            name: "probe_blackout_freezes_healing_and_alerts",
            why: "no per-instance probe data is not evidence of a fault",
            snap: || {
                let mut s = Fixture::healthy(6).instance_down("vm-1").build();
                s.instances_probed.clear();
                s
            },
            expect: |d| {
                !d.actions.iter().any(|a| a.action.kind().is_healing())
                    && d.alerts.iter().any(|a| a.name == "freeze")
            },
        },
        Row {
            name: "telemetry_blackout_on_an_idle_group_refuses_scale_in",
            why: "low utilisation we cannot see is not low utilisation",
            snap: || Fixture::healthy(10).util(0.05).without_cpu().build(),
            expect: |d| {
                !d.actions.iter().any(|a| a.action.kind() == ActionKind::ScaleIn)
                    && d.refusals
                        .iter()
                        .any(|r| r.reason == RefusalReason::FreezeDataMissing)
            },
        },
        Row {
            name: "four_of_six_down_freezes_healing",
            why: "a mass failure is likelier a probe or network fault",
            snap: || {
                let mut f = Fixture::healthy(6);
                for i in 0..4 {
                    f = f.instance_down(&Fixture::id(i));
                }
                f.build()
            },
            expect: |d| {
                !d.actions.iter().any(|a| a.action.kind().is_healing())
                    && d.refusals
                        .iter()
                        .any(|r| r.reason == RefusalReason::FreezeUnhealthy)
                    && d.alerts.iter().any(|a| a.name == "freeze")
            },
        },
        Row {
            name: "flood_scale_out_stops_at_the_resource_cap",
            why: "a DoS must not turn into an unbounded bill: hold at the cap and page",
            snap: || {
                Fixture::healthy(6)
                    .all_slow(3.0)
                    .util(1.0)
                    .load(100_000.0)
                    .build()
            },
            expect: |d| {
                let out: u32 = d
                    .actions
                    .iter()
                    .map(|a| match a.action {
                        Action::ScaleOut { count } => count,
                        _ => 0,
                    })
                    .sum();
                6 + out <= 60 && d.alerts.iter().any(|a| a.name == "flood")
            },
        },
    ];
    let policy = election_policy();
    for row in rows {
        let snap = (row.snap)();
        let h = History {
            service_rate: Some(MU),
            ..History::default()
        };
        let (d, _) = decide(&policy, &snap, &h, snap.observed_at);
        assert!(
            (row.expect)(&d),
            "{} ({}): actions {:?}, refusals {:?}, alerts {:?}",
            row.name,
            row.why,
            d.actions.iter().map(|a| &a.action).collect::<Vec<_>>(),
            d.refusals.iter().map(|r| r.reason).collect::<Vec<_>>(),
            d.alerts.iter().map(|a| &a.name).collect::<Vec<_>>()
        );
    }
    crate::figure("freezes", "table: 4 rows hold");
}

#[test]
fn flood_scenario_never_exceeds_the_resource_cap() {
    let policy = crate::policy();
    let scenario = crate::scenario("flood");
    let r = sloop::sim::rehearse::rehearse(&policy, &scenario, scenario.seed, None, &mut |_| {});
    let cap = policy
        .spec
        .limits
        .max_instances
        .expect("election-web caps instances");
    crate::figure(
        "freezes",
        &format!(
            "flood: peak {} instances under a cap of {cap}",
            r.report.peak_instances
        ),
    );
    assert!(r.report.peak_instances <= cap);
    assert!(
        r.report.alerts.iter().any(|a| a.name == "flood"),
        "no flood alert: {:?}",
        r.report.alerts.iter().map(|a| &a.name).collect::<Vec<_>>()
    );
}
