//! `SimCloud` through the same traits the reconcile loop uses: what a snapshot holds, and what
//! the compute and traffic calls do to the world.

use sloop::{
    act::{Compute, ServerRequest, Traffic},
    decision::ActionKind,
    observe::{Collector, NoProbes},
    policy::{self, Policy},
    sim::{SimCloud, scenario::parse_scenario},
    snapshot::{InstanceStatus, IpFamily, Snapshot},
};
use std::{
    collections::BTreeMap,
    future::Future,
    path::PathBuf,
    pin::pin,
    task::{Context, Poll, Waker},
};

/// The sim's futures are ready at once; poll them once.
fn now<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the simulator never waits"),
    }
}

fn policy() -> Policy {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies/election-web.yaml");
    policy::load_file(&path).unwrap().policy
}

fn cloud(faults: &str) -> SimCloud {
    cloud_with("{initialInstances: 6, signals: {metricdDelay: 0s}}", faults)
}

fn cloud_with(world: &str, faults: &str) -> SimCloud {
    let text = format!(
        "name: t
start: 2026-09-27T12:00:00Z
duration: 2h
seed: 3
world: {world}
locations:
  - name: local
    v6: {{rtt: 1ms}}
  - name: fra
    v6: {{rtt: 9ms}}
  - name: ams
    v6: {{rtt: 15ms}}
  - name: nyc
    v6: {{rtt: 90ms}}
load:
  base: {{constant: 300}}
{faults}"
    );
    let scenario = parse_scenario("inline.yaml", text.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
    SimCloud::new(&scenario, &policy(), 3)
}

fn observe_at(c: &mut SimCloud, secs: f64) -> Snapshot {
    let t = c.world().start() + secs;
    now(Collector::new(&policy()).collect(c, &NoProbes, t)).unwrap()
}

#[test]
fn a_snapshot_holds_probes_telemetry_inventory_and_load() {
    let mut c = cloud("");
    // The load is a rate between two polls of the balancer's counters, as on a real cloud.
    assert_eq!(observe_at(&mut c, 130.0).load, None, "one poll is no rate");
    let s = observe_at(&mut c, 150.0);
    assert_eq!(s.observed_at, c.world().start() + 150.0);
    // `site`: 4 locations × 2 families, every 10 s with its own phase.
    assert_eq!(s.service.len(), 8);
    for series in &s.service {
        assert!(
            (13..=16).contains(&series.recent.len()),
            "{:?}: {}",
            series.key,
            series.recent.len()
        );
        assert!(series.recent.windows(2).all(|w| w[0].at < w[1].at));
        assert!(
            series.recent.iter().all(|x| x.ok),
            "a healthy service: {:?}",
            series.recent
        );
        assert_eq!(series.count(3600.0).unwrap().total, series.recent.len() as u64);
    }
    let starts: Vec<f64> = s.service.iter().map(|x| x.recent[0].at).collect();
    assert!(
        starts.windows(2).any(|w| w[0] != w[1]),
        "probes do not fire in lockstep"
    );
    // `instance`: 6 instances × local+fra × v6.
    assert_eq!(s.instances_probed.len(), 12);
    assert!(
        s.instances_probed
            .iter()
            .all(|x| x.consecutive_failures == 0 && x.recent.len() == 12)
    );
    assert!(s.instances_probed.iter().all(|x| x.key.family == IpFamily::V6));
    // Telemetry: cpu ≈ 300 / 6 / 100, steal near the healthy baseline, stamped at minute ends.
    for (id, metrics) in &s.telemetry.instances {
        let cpu = metrics["cpu"].value.unwrap_or_else(|| panic!("{id} has cpu"));
        assert!((0.4..0.6).contains(&cpu), "{id}: {cpu}");
        assert_eq!(metrics["cpu"].at.unwrap() % 60.0, 0.0);
    }
    let steal = &s.telemetry.hypervisors["hv-01"]["compute.node.cpu.steal.percent"];
    assert!(steal.value.unwrap() < 3.0);
    assert_eq!(s.inventory.len(), 6);
    assert!(
        s.inventory
            .iter()
            .all(|i| i.member.is_some_and(|m| m.weight == 1 && m.online))
    );
    assert!(
        s.inventory
            .iter()
            .all(|i| i.addresses == vec![(IpFamily::V6, i.addresses[0].1.clone())])
    );
    assert!(s.locations.iter().all(|l| l.fresh));
    let load = s.load.expect("Octavia's counters have moved twice by now");
    assert!((250.0..350.0).contains(&load.requests), "{load:?}");
    assert_eq!(load.source, sloop::snapshot::LoadSource::Octavia);
    assert!(load.age(s.observed_at) <= 10.0, "{load:?}");
    assert!(s.in_flight.is_empty());
}

#[test]
fn gnocchi_readings_become_visible_only_after_the_metricd_delay() {
    let mut c = cloud_with("{initialInstances: 6, signals: {metricdDelay: 45s}}", "");
    let id = c.world().vms()[0].id.clone();
    let cpu = |s: &Snapshot| s.telemetry.instances.get(&id).and_then(|m| m.get("cpu")).copied();
    // Periods end at 60 s and 120 s; the first rate needs both, and metricd takes 45 s more.
    assert!(cpu(&observe_at(&mut c, 160.0)).is_none_or(|r| r.value.is_none()));
    let seen = cpu(&observe_at(&mut c, 170.0)).expect("processed by now");
    assert_eq!(
        seen.at,
        Some(c.world().start() + 120.0),
        "stamped at its period's end"
    );
    assert!((0.4..0.6).contains(&seen.value.unwrap()), "{seen:?}");
}

#[test]
fn compute_and_traffic_calls_change_the_world_and_show_up_in_the_next_snapshot() {
    let mut c = cloud("");
    observe_at(&mut c, 10.0);
    let template = policy().spec.group.template;
    let metadata = BTreeMap::from([("sloop.action".to_string(), "scale-out-1".to_string())]);
    let req = ServerRequest {
        name: "election-web-new".into(),
        template,
        availability_zone: None,
        metadata,
    };
    let id = now(c.create_server(&req)).unwrap();
    let s = observe_at(&mut c, 11.0);
    let new = s.inventory.iter().find(|i| i.id == id).unwrap();
    assert_eq!(
        (new.status, new.created_by.as_deref()),
        (InstanceStatus::Building, Some("scale-out-1"))
    );
    assert!(new.member.is_none(), "not in the pool until admitted");
    assert_eq!(s.in_flight[0].kind, ActionKind::ScaleOut);
    assert_eq!(s.in_flight[0].id, "scale-out-1");

    let s = observe_at(&mut c, 120.0);
    assert_eq!(
        s.inventory.iter().find(|i| i.id == id).unwrap().status,
        InstanceStatus::Active
    );
    assert_eq!(
        s.instances_probed.iter().filter(|x| x.instance == id).count(),
        2,
        "probed once it exists"
    );
    now(c.set_member_weight(&id, 1)).unwrap();
    let victim = s.inventory[0].id.clone();
    now(c.set_member_weight(&victim, 0)).unwrap();
    now(c.reboot_server(&victim, true)).unwrap();
    let s = observe_at(&mut c, 125.0);
    let v = s.inventory.iter().find(|i| i.id == victim).unwrap();
    assert_eq!(
        (v.status, v.member.unwrap().weight),
        (InstanceStatus::Rebooting, 0)
    );
    assert_eq!(
        s.in_flight
            .iter()
            .find(|f| f.instance.as_ref() == Some(&victim))
            .unwrap()
            .kind,
        ActionKind::RebootHard
    );
    assert!(now(c.reboot_server("nope", true)).is_err_and(|e| e.label() == "not-found"));
    now(c.remove_member(&victim)).unwrap();
    now(c.delete_server(&victim)).unwrap();
    let s = observe_at(&mut c, 140.0);
    assert!(s.inventory.iter().all(|i| i.id != victim));
    assert!(
        s.instances_probed.iter().all(|x| x.instance != victim),
        "deleted servers are forgotten"
    );
}

#[test]
fn blackouts_and_silent_agents_show_as_missing_not_as_zero() {
    let mut c = cloud(
        "faults:
  - {at: 3m, duration: 5m, fault: {kind: telemetry-blackout}}
  - {at: 3m, duration: 5m, fault: {kind: agent-silent, location: nyc}}
",
    );
    let s = observe_at(&mut c, 300.0);
    assert!(s.telemetry.instances.values().all(|m| m["cpu"].value.is_none()));
    assert!(
        s.telemetry
            .hypervisors
            .values()
            .all(|m| m["compute.node.cpu.steal.percent"].value.is_none())
    );
    assert!(s.telemetry.source_error.is_some());
    let nyc = s.locations.iter().find(|l| l.name == "nyc").unwrap();
    assert!(!nyc.fresh && nyc.last_seen.is_some());
    assert!(s.locations.iter().filter(|l| l.fresh).count() == 3);
    let s = observe_at(&mut c, 600.0);
    assert!(s.telemetry.instances.values().all(|m| m["cpu"].value.is_some()));
    assert!(s.locations.iter().all(|l| l.fresh));
}
