//! Each baseline's published rule, checked on hand-made inputs: HPA's tolerance band, its
//! treatment of missing and unready pods, the scale-down stabilisation maximum and the
//! scale-up rate limit; Aodh's all-N-periods hysteresis; Heat's cooldown that starts when the
//! scaling finishes; Senlin's grace period and fail-open checks; the health monitor's rise and
//! fall counts.

use sloop::{
    decision::Action,
    sim::{
        baseline::{
            HealthMonitor,
            heat_aodh::{self, AlarmState, HeatAodh, ThresholdAlarm},
            hpa::{Behavior, PodSample, desired_replicas},
            senlin::{NodeCheck, check_node},
        },
        decider::Decider,
    },
    snapshot::{Instance, InstanceStatus, LbMember, Reading, Snapshot},
};
use std::collections::BTreeMap;

fn pods(utils: &[f64]) -> Vec<PodSample> {
    utils
        .iter()
        .map(|u| PodSample {
            util: Some(*u),
            ready: true,
        })
        .collect()
}

#[test]
fn hpa_does_nothing_inside_the_tolerance_band() {
    // 4 pods at 65 % against a 60 % target: ratio 1.083, inside ±0.1.
    assert_eq!(desired_replicas(&pods(&[0.65; 4]), 0.6, 0.1, 4), 4);
    // At 70 %: ratio 1.167, outside: ceil(4 × 1.167) = 5.
    assert_eq!(desired_replicas(&pods(&[0.70; 4]), 0.6, 0.1, 4), 5);
    // At 50 %: ratio 0.833: ceil(4 × 0.833) = 4 (ceil keeps it), at 30 %: 2.
    assert_eq!(desired_replicas(&pods(&[0.50; 4]), 0.6, 0.1, 4), 4);
    assert_eq!(desired_replicas(&pods(&[0.30; 4]), 0.6, 0.1, 4), 2);
}

#[test]
fn hpa_assumes_missing_pods_at_target_on_scale_down_and_unready_at_zero_on_scale_up() {
    // Two ready pods at 30 % and two without metrics: the missing ones count as 100 % of
    // target, so the ratio is (0.3 + 0.3 + 0.6 + 0.6) / 4 / 0.6 = 0.75 → ceil(4 × 0.75) = 3.
    let mut p = pods(&[0.3, 0.3]);
    p.extend(
        [PodSample {
            util: None,
            ready: false,
        }; 2],
    );
    assert_eq!(desired_replicas(&p, 0.6, 0.1, 4), 3);
    // Two ready pods at 90 % and two unready (booting) ones: on a scale-up the unready count as
    // 0 %: (0.9 + 0.9 + 0 + 0) / 4 / 0.6 = 0.75, which flips direction: no change.
    let mut p = pods(&[0.9, 0.9]);
    p.extend(
        [PodSample {
            util: Some(0.8),
            ready: false,
        }; 2],
    );
    assert_eq!(desired_replicas(&p, 0.6, 0.1, 4), 4);
    // Without the unready pods the same two would ask for ceil(2 × 1.5) = 3.
    assert_eq!(desired_replicas(&pods(&[0.9, 0.9]), 0.6, 0.1, 2), 3);
}

#[test]
fn hpa_scale_down_takes_the_max_over_the_stabilisation_window() {
    let mut b = Behavior::default();
    assert_eq!(b.normalize(0.0, 10, 10, 1, 100), 10);
    // The metric says 4 from now on, but 10 was recommended within the last 300 s.
    for t in [15.0, 60.0, 150.0, 285.0] {
        assert_eq!(b.normalize(t, 4, 10, 1, 100), 10, "at {t}s");
    }
    // At 300 s the 10 has left the window.
    assert_eq!(b.normalize(300.0, 4, 10, 1, 100), 4);
}

#[test]
fn hpa_scale_up_is_limited_to_max_of_double_or_four_pods_per_15s() {
    let mut b = Behavior::default();
    // From 2 pods: max(2 + 4, 2 × 2) = 6.
    assert_eq!(b.normalize(0.0, 50, 2, 1, 100), 6);
    // Within the same 15 s period the period started at 2, so 6 is still the limit.
    assert_eq!(b.normalize(5.0, 50, 6, 1, 100), 6);
    // A period later it starts from 6: max(10, 12) = 12.
    assert_eq!(b.normalize(15.0, 50, 6, 1, 100), 12);
    // And never past maxReplicas.
    assert_eq!(b.normalize(30.0, 50, 12, 1, 20), 20);
}

#[test]
fn aodh_needs_all_n_periods_to_breach_and_keeps_its_state_when_mixed() {
    let mut a = ThresholdAlarm::new(true, 0.5, 2);
    assert_eq!(a.evaluate(&[0.9]), AlarmState::Unknown, "too few points");
    assert_eq!(
        a.evaluate(&[0.9, 0.4]),
        AlarmState::Ok,
        "mixed from unknown: trend of the last"
    );
    assert_eq!(a.evaluate(&[0.4, 0.9]), AlarmState::Ok, "mixed: keeps OK");
    assert_eq!(a.evaluate(&[0.9, 0.9]), AlarmState::Alarm, "all breach");
    assert_eq!(a.evaluate(&[0.9, 0.4]), AlarmState::Alarm, "mixed: keeps ALARM");
    assert_eq!(a.evaluate(&[0.4, 0.4]), AlarmState::Ok, "none breach");
    // Only the last N points count.
    assert_eq!(a.evaluate(&[0.1, 0.9, 0.9]), AlarmState::Alarm);
}

fn instance(id: &str, status: InstanceStatus, created_at: f64, online: bool) -> Instance {
    Instance {
        id: id.into(),
        name: id.into(),
        status,
        host: Some("hv-01".into()),
        addresses: Vec::new(),
        created_at,
        active_since: Some(created_at),
        member: (status == InstanceStatus::Active).then_some(LbMember {
            weight: 1,
            admin_up: true,
            online,
            error: false,
        }),
        created_by: None,
        stamps: None,
        fault: None,
        replaces: None,
    }
}

fn snapshot(now: f64, inventory: Vec<Instance>, cpu: f64, cpu_at: f64) -> Snapshot {
    let mut snap = Snapshot {
        observed_at: now,
        inventory,
        ..Snapshot::default()
    };
    for i in &snap.inventory {
        let mut m = BTreeMap::new();
        m.insert(
            "cpu".to_string(),
            Reading {
                value: Some(cpu),
                at: Some(cpu_at),
            },
        );
        snap.telemetry.instances.insert(i.id.clone(), m);
    }
    snap
}

fn scale_outs(d: &sloop::decision::Decision) -> u32 {
    d.actions
        .iter()
        .map(|a| match a.action {
            Action::ScaleOut { count } => count,
            _ => 0,
        })
        .sum()
}

#[test]
fn heat_waits_for_the_build_and_then_the_cooldown_before_the_next_step() {
    let policy = sloop::policy::load_file(std::path::Path::new("policies/election-web.yaml"))
        .unwrap()
        .policy;
    let mut heat = HeatAodh::new(&policy);
    let base = 1_800_000_000.0; // a multiple of 300 s
    let vms = || {
        (0..3)
            .map(|k| instance(&format!("sim-{k}"), InstanceStatus::Active, base - 86_400.0, true))
            .collect::<Vec<_>>()
    };
    // The poll at `base` is visible only after Gnocchi's processing delay.
    let early = heat.decide(&snapshot(base + 30.0, vms(), 0.9, base), base + 30.0);
    assert_eq!(scale_outs(&early), 0, "the measure is not processed yet");
    let mut now = base + 30.0 + heat_aodh::EVALUATION_INTERVAL;
    let first = heat.decide(&snapshot(now, vms(), 0.9, base), now);
    assert_eq!(scale_outs(&first), 1, "ALARM → ChangeInCapacity +1");
    let key = first
        .actions
        .iter()
        .find(|a| matches!(a.action, Action::ScaleOut { .. }))
        .unwrap()
        .id
        .clone();
    // While the new server builds, the repeated signals are ignored.
    let mut building = vms();
    let mut new = instance("sim-9", InstanceStatus::Building, now, false);
    new.created_by = Some(format!("{key}/0"));
    building.push(new.clone());
    now += heat_aodh::EVALUATION_INTERVAL;
    assert_eq!(
        scale_outs(&heat.decide(&snapshot(now, building.clone(), 0.9, base), now)),
        0
    );
    // It turns ACTIVE: the cooldown (60 s) starts now, so the next evaluation is still quiet …
    new.status = InstanceStatus::Active;
    let mut active = vms();
    active.push(new);
    now += 5.0;
    assert_eq!(
        scale_outs(&heat.decide(&snapshot(now, active.clone(), 0.9, base), now)),
        0
    );
    now += heat_aodh::EVALUATION_INTERVAL - 5.0;
    assert_eq!(
        scale_outs(&heat.decide(&snapshot(now, active.clone(), 0.9, base), now)),
        0
    );
    // … and the one after signals +1 again (repeat_actions while in ALARM).
    now += heat_aodh::EVALUATION_INTERVAL;
    assert_eq!(
        scale_outs(&heat.decide(&snapshot(now, active, 0.9, base), now)),
        1
    );
}

#[test]
fn senlin_grants_grace_after_updates_and_fails_open() {
    let now = 10_000.0;
    // Nova says ERROR, but the node was updated 100 s ago: inside node_update_timeout.
    assert_eq!(
        check_node(InstanceStatus::Error, &[], now - 100.0, now),
        NodeCheck::Healthy
    );
    assert_eq!(
        check_node(InstanceStatus::Error, &[], now - 400.0, now),
        NodeCheck::Unhealthy
    );
    // URL polls: three failures make it unhealthy; no data (the check errored) is healthy.
    assert_eq!(
        check_node(InstanceStatus::Active, &[false; 3], now - 400.0, now),
        NodeCheck::Unhealthy
    );
    assert_eq!(
        check_node(InstanceStatus::Active, &[], now - 400.0, now),
        NodeCheck::Healthy
    );
    assert_eq!(
        check_node(InstanceStatus::Active, &[false, false], now - 400.0, now),
        NodeCheck::Healthy,
        "fewer polls than the retry limit"
    );
    assert_eq!(
        check_node(InstanceStatus::Active, &[false, true, false], now - 400.0, now),
        NodeCheck::Healthy
    );
    // The URL poll is skipped for nodes that are not ACTIVE.
    assert_eq!(
        check_node(InstanceStatus::Rebooting, &[false; 3], now - 400.0, now),
        NodeCheck::Healthy
    );
}

#[test]
fn health_monitor_needs_fall_failures_to_drain_and_rise_passes_to_admit() {
    let mut hm = HealthMonitor::new(5.0, 2, 3);
    let mut planner = sloop::sim::baseline::Planner::new("test");
    let at = |t: f64, online: bool| {
        let snap = Snapshot {
            inventory: vec![instance("sim-1", InstanceStatus::Active, -86_400.0, online)],
            ..Snapshot::default()
        };
        (t, snap)
    };
    let mut drained_at = None;
    for k in 0..6 {
        let (t, snap) = at(k as f64 * 5.0, k == 0);
        hm.check(&snap, t);
        let acts = hm.pool_actions(&snap, &mut planner, t);
        if drained_at.is_none() && acts.iter().any(|a| matches!(a.action, Action::Drain { .. })) {
            drained_at = Some(k);
        }
    }
    // Healthy at check 0, failures at checks 1, 2, 3: the third one takes it out.
    assert_eq!(drained_at, Some(3));
    assert!(!hm.is_up("sim-1"));
}
