//! The simulated world on its own: scenario files, determinism, queueing, lifecycle timings and
//! faults. The controller is not involved here (the rehearsal tests cover that).

use sloop::{
    policy::{self, Policy},
    sim::{
        Scenario, World,
        probe::Target,
        rng::Rng,
        scenario::{self, load_scenario, parse_scenario},
    },
    snapshot::{InstanceStatus, IpFamily},
};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn election_policy() -> Policy {
    policy::load_file(&repo().join("policies/election-web.yaml"))
        .expect("the example policy loads")
        .policy
}

fn scenario_path(name: &str) -> PathBuf {
    repo().join("policies/scenarios").join(format!("{name}.yaml"))
}

/// A small scenario written inline: constant load, no noise, `instances` serving.
fn constant(rps: f64, instances: u32, extra: &str) -> Scenario {
    let text = format!(
        "name: t\nstart: 2026-09-27T12:00:00Z\nduration: 2h\nseed: 9\n\
         world: {{initialInstances: {instances}, throughput: 100, throughputSpread: 0}}\n\
         locations:\n  - name: local\n    v6: {{rtt: 1ms}}\n  - name: nyc\n    v6: {{rtt: 90ms, jitter: 3ms}}\n\
         load:\n  base: {{constant: {rps}}}\n{extra}"
    );
    parse_scenario("inline.yaml", text.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"))
}

fn run(world: &mut World, secs: f64) {
    let end = world.now() + secs;
    while world.now() < end - 1e-9 {
        world.step(1.0);
    }
}

// === Scenario files ===

#[test]
fn every_shipped_scenario_loads_without_errors() {
    let dir = repo().join("policies/scenarios");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    names.sort();
    for required in [
        "steady-day",
        "election-night",
        "instance-crash",
        "noisy-neighbour",
        "regional-network-fault",
        "ipv6-path-fault",
        "flood",
        "api-brownout",
    ] {
        assert!(
            names.contains(&scenario_path(required)),
            "{required}.yaml is missing"
        );
    }
    for path in &names {
        let s = load_scenario(path).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        assert!(s.duration.secs() > 0.0);
        let text = std::fs::read_to_string(path).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=./sloop-scenario.schema.json\n"),
            "{} should point editors at the schema",
            path.display()
        );
    }
    let csv = load_scenario(&scenario_path("csv-trace")).unwrap();
    assert!(csv.trace.len() > 30, "the CSV trace is read next to the scenario");
}

#[test]
fn the_checked_in_scenario_schema_is_current() {
    let path = repo().join("policies/scenarios/sloop-scenario.schema.json");
    let fresh = serde_json::to_string_pretty(&scenario::json_schema()).unwrap() + "\n";
    if std::env::var_os("SLOOP_UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == fresh,
        "{} is stale; regenerate with SLOOP_UPDATE_SCHEMAS=1 cargo test --test decisions sim_world::",
        path.display()
    );
}

#[test]
fn a_malformed_scenario_gets_located_errors_with_hints() {
    let text = b"name: bad\nstart: 2026-09-27T12:00:00Z\nduraton: 2h\nlocations:\n  - name: local\n    v6: {rtt: 1ms}\n\
load:\n  base: {constant: 100}\nfaults:\n  - at: 10m\n    fault: {kind: instance-krash, instance: 0}\n";
    let errors = parse_scenario("bad.yaml", text).unwrap_err();
    let typo = errors
        .iter()
        .find(|e| e.message.contains("duraton"))
        .expect("the typo is reported");
    assert_eq!(
        (typo.file.as_str(), typo.pos.line, typo.pos.col),
        ("bad.yaml", 3, 1)
    );
    assert!(typo.hint.contains("duration"), "{}", typo.hint);
    assert!(
        errors.iter().any(|e| e.pos.line == 11),
        "the unknown fault kind is located too: {errors:?}"
    );

    let semantic = b"name: bad\nstart: 2026-09-27T12:00:00Z\nduration: 2h\nlocations:\n  - name: local\n    v6: {rtt: 1ms}\n\
load:\n  base: {constant: 100}\nfaults:\n  - at: 10m\n    fault: {kind: network-degraded, location: mars, delay: 1s}\n";
    let errors = parse_scenario("bad.yaml", semantic).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].message.contains("mars") && errors[0].pos.line == 11,
        "{}",
        errors[0]
    );

    let csv = scenario::parse_trace("t.csv", "time,rps\n0,100\n60,abc\n", 0.0).unwrap_err();
    assert_eq!(csv[0].pos.line, 3);
}

// === Determinism ===

#[test]
fn the_same_seed_gives_the_same_truth_and_another_seed_does_not() {
    let policy = election_policy();
    let s = load_scenario(&scenario_path("instance-crash")).unwrap();
    let truth = |seed| {
        let mut w = World::new(&s, &policy, seed);
        run(&mut w, 40.0 * 60.0);
        (
            serde_json::to_string(w.truth()).unwrap(),
            serde_json::to_string(w.faults()).unwrap(),
        )
    };
    let a = truth(7);
    assert_eq!(a, truth(7));
    assert_ne!(a.0, truth(8).0);
    assert!(a.1.contains("instance-crash"));
}

// === Queueing ===

#[test]
fn latency_rises_with_load_and_overload_turns_into_errors() {
    let policy = election_policy();
    let minute = |rps: f64| {
        let mut w = World::new(&constant(rps, 4, ""), &policy, 1);
        run(&mut w, 300.0);
        w.truth().minutes.last().unwrap().clone()
    };
    let (light, busy, saturated, over) = (minute(100.0), minute(340.0), minute(390.0), minute(600.0));
    let p95 = |m: &sloop::sim::MinuteTruth| m.p95.unwrap();
    assert!(p95(&light) < 0.08, "25 % utilisation is fast: {}", p95(&light));
    assert!(
        p95(&light) < p95(&busy) && p95(&busy) < p95(&saturated),
        "{light:?} {busy:?} {saturated:?}"
    );
    assert!(
        p95(&saturated) > 0.3,
        "97.5 % utilisation queues: {}",
        p95(&saturated)
    );
    assert!(light.error_ratio < 1e-6 && busy.error_ratio < 1e-3);
    assert!(
        (0.25..0.45).contains(&over.error_ratio),
        "150 % load drops about a third: {}",
        over.error_ratio
    );
    assert!(
        p95(&over) > 1.5,
        "a full queue takes its limit to drain: {}",
        p95(&over)
    );
    let nyc = over
        .paths
        .iter()
        .find(|p| p.location == "nyc" && p.family == IpFamily::V6)
        .unwrap();
    assert!(
        (nyc.network - 0.27).abs() < 0.01,
        "three round trips of 90 ms: {}",
        nyc.network
    );
    assert!((light.utilization - 0.25).abs() < 0.02 && light.serving == 4.0);
}

// === Lifecycle ===

#[test]
fn boot_and_reboot_times_follow_their_distributions() {
    let policy = election_policy();
    let s = constant(100.0, 0, "");
    let mut w = World::new(&s, &policy, 3);
    let t0 = w.now();
    let ids: Vec<String> = (0..40)
        .map(|i| w.create_server(format!("vm-{i}"), Default::default()).unwrap())
        .collect();
    let (mut active, mut serving) = (vec![None; ids.len()], vec![None; ids.len()]);
    while serving.iter().any(Option::is_none) && w.now() - t0 < 600.0 {
        w.step(0.1);
        for (i, id) in ids.iter().enumerate() {
            let vm = w.vm(id).unwrap();
            if active[i].is_none() && vm.status == InstanceStatus::Active {
                active[i] = Some(w.now() - t0);
            }
            if serving[i].is_none() && vm.is_up(w.now()) {
                serving[i] = Some(w.now() - t0);
            }
        }
    }
    let median = |v: &[Option<f64>]| {
        let mut x: Vec<f64> = v.iter().map(|x| x.unwrap()).collect();
        x.sort_by(f64::total_cmp);
        x[x.len() / 2]
    };
    let (a, s) = (median(&active), median(&serving));
    assert!(
        (5.0..8.5).contains(&a),
        "API → ACTIVE median ~6 s (+API latency): {a}"
    );
    assert!((38.0..58.0).contains(&s), "→ serving median ~46 s: {s}");
    // 40 servers of 2 vCPU over 8 × 32 vCPU hosts: soft anti-affinity spreads them evenly.
    let per_host: Vec<usize> = (0..8)
        .map(|h| w.vms().iter().filter(|v| v.host == h).count())
        .collect();
    assert!(per_host.iter().all(|&n| n == 5), "{per_host:?}");

    let id = ids[0].clone();
    w.reboot_server(&id, false).unwrap();
    assert_eq!(w.vm(&id).unwrap().status, InstanceStatus::Rebooting);
    assert!(
        w.reboot_server(&id, false).is_err(),
        "a second soft reboot conflicts"
    );
    let t1 = w.now();
    while !w.vm(&id).unwrap().is_up(w.now()) {
        w.step(0.5);
    }
    let took = w.now() - t1;
    assert!(
        (25.0..150.0).contains(&took),
        "soft reboot + boot-to-serve: {took}"
    );

    w.live_migrate(&id).unwrap();
    let from = w.vm(&id).unwrap().host;
    run(&mut w, 10.0);
    let vm = w.vm(&id).unwrap();
    assert!(
        vm.host != from && vm.status == InstanceStatus::Active && vm.is_up(w.now()),
        "5 s + 0.6 s/GiB × 4"
    );

    w.delete_server(&id).unwrap();
    run(&mut w, 5.0);
    assert!(w.vm(&id).is_none());
}

// === Faults ===

#[test]
fn a_crashed_process_refuses_until_a_reboot_clears_it() {
    let policy = election_policy();
    let s = constant(
        300.0,
        6,
        "faults:\n  - at: 5m\n    fault: {kind: instance-crash, instance: 2}\n",
    );
    let mut w = World::new(&s, &policy, 5);
    run(&mut w, 301.0);
    let fault = w.faults()[0].clone();
    let id = fault.instance.clone().expect("a serving instance was hit");
    let mut rng = Rng::new(1);
    let sample = w
        .probe(Target::Instance(&id), 0, IpFamily::V6, 1.0, &mut rng)
        .unwrap();
    assert!(!sample.ok && sample.latency < 0.05, "refused fast: {sample:?}");
    run(&mut w, 120.0);
    let m = w.truth().minutes.last().unwrap();
    assert!(
        (0.12..0.22).contains(&m.error_ratio),
        "one in six requests fails: {}",
        m.error_ratio
    );

    w.set_member_weight(&id, 0).unwrap();
    run(&mut w, 120.0);
    assert!(
        w.truth().minutes.last().unwrap().error_ratio < 1e-3,
        "draining stops the errors"
    );
    w.reboot_server(&id, false).unwrap();
    assert_eq!(w.faults()[0].resolved_by.as_deref(), Some("reboot-soft"));
    run(&mut w, 180.0);
    let ok = w
        .probe(Target::Instance(&id), 0, IpFamily::V6, 1.0, &mut rng)
        .unwrap();
    assert!(ok.ok, "serving again after the reboot: {ok:?}");
}

#[test]
fn a_degraded_host_slows_its_instances_until_they_migrate_away() {
    let policy = election_policy();
    let extra =
        "faults:\n  - at: 1m\n    fault: {kind: host-degraded, host: busiest, factor: 0.3, steal: 40}\n";
    let mut w = World::new(&constant(300.0, 6, extra), &policy, 2);
    run(&mut w, 61.0);
    let host = w.faults()[0].host.clone().unwrap();
    let h = w.hosts().iter().position(|x| x.name == host).unwrap();
    assert_eq!(w.hosts()[h].steal, 40.0);
    let victims: Vec<String> = w
        .vms()
        .iter()
        .filter(|v| v.host == h)
        .map(|v| v.id.clone())
        .collect();
    assert!(!victims.is_empty());
    assert!(w.vm(&victims[0]).unwrap().mu < 40.0);
    for id in &victims {
        w.live_migrate(id).unwrap();
    }
    run(&mut w, 15.0);
    assert!(w.vm(&victims[0]).unwrap().mu > 90.0, "moved to a healthy host");
    assert_eq!(w.faults()[0].resolved_by.as_deref(), Some("moved"));
}

#[test]
fn network_api_quota_and_telemetry_faults_take_effect_and_clear() {
    let policy = election_policy();
    let extra = "faults:\n\
  - {at: 1m, duration: 5m, fault: {kind: network-degraded, location: nyc, family: v6, delay: 400ms, loss: 20%}}\n\
  - {at: 1m, duration: 5m, fault: {kind: api-brownout, errorRate: 50%}}\n\
  - {at: 10m, duration: 5m, fault: {kind: quota-exhausted}}\n\
  - {at: 10m, duration: 5m, fault: {kind: telemetry-blackout}}\n";
    let mut w = World::new(&constant(200.0, 4, extra), &policy, 4);
    run(&mut w, 120.0);
    let mut rng = Rng::new(2);
    let nyc = (0..200)
        .filter_map(|_| w.probe(Target::Service, 1, IpFamily::V6, 2.0, &mut rng))
        .collect::<Vec<_>>();
    let nyc4 = (0..200)
        .filter_map(|_| w.probe(Target::Service, 1, IpFamily::V4, 2.0, &mut rng))
        .collect::<Vec<_>>();
    assert!(
        nyc.iter().filter(|s| s.ok && s.latency < 0.8).count() < 100,
        "most nyc-v6 probes are slow or fail"
    );
    assert!(
        nyc4.iter().all(|s| s.ok && s.latency < 0.8),
        "IPv4 from nyc is untouched"
    );
    let fails = (0..200)
        .filter(|i| w.create_server(format!("b{i}"), Default::default()).is_err())
        .count();
    assert!(
        (70..130).contains(&fails),
        "about half the Nova calls fail: {fails}"
    );
    assert!(
        w.set_member_weight(&w.vms()[0].id.clone(), 1).is_ok(),
        "Octavia is not in the brownout"
    );

    run(&mut w, 9.0 * 60.0);
    assert!(
        w.create_server("q".into(), Default::default())
            .is_err_and(|e| e.label() == "quota")
    );
    assert!(w.telemetry_blackout());
    run(&mut w, 6.0 * 60.0);
    assert!(w.create_server("q".into(), Default::default()).is_ok() && !w.telemetry_blackout());
    let after = (0..50)
        .filter_map(|_| w.probe(Target::Service, 1, IpFamily::V6, 2.0, &mut rng))
        .collect::<Vec<_>>();
    assert!(
        after.iter().all(|s| s.ok && s.latency < 0.8),
        "the path recovered"
    );
    assert!(
        w.faults()
            .iter()
            .all(|f| f.resolved_by.as_deref() == Some("duration")),
        "{:?}",
        w.faults()
    );
}

#[test]
fn scenario_offsets_and_local_time_drive_the_load_curve() {
    let s = load_scenario(&scenario_path("election-night")).unwrap();
    assert_eq!(s.utc_offset_secs(), 7200.0);
    let load = sloop::sim::load::LoadModel::new(&s);
    let at = |h: f64| load.expected(s.start_unix() + h * 3600.0);
    assert!(
        at(17.9) < 300.0 && at(18.0 + 1.0 / 3.0) > 2500.0,
        "×15 within 20 minutes of 18:00 local"
    );
    assert!(at(4.0) < at(20.0 - 3.0), "quiet at night");
    assert!(Path::new(&scenario_path("steady-day")).exists());
}
