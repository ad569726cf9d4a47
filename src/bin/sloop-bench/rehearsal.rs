//! `sloop-bench` without a subcommand: rehearsal speed (24 h at 1 s, 50 VMs) and the cost of one
//! decision pass, printed, never asserted (timed tests flake on shared machines).

use sloop::{
    clock::Stopwatch,
    decide::decide,
    history::History,
    policy::{self, Policy},
    sim::{self, SimCloud, rehearse::rehearse},
};
use std::process::ExitCode;

/// The shipped election policy, pinned at 50–60 instances so the group stays at 50 VMs.
fn fifty_vm_policy() -> Policy {
    let mut p = policy::parse(
        "policies/election-web.yaml",
        include_bytes!("../../../policies/election-web.yaml"),
    )
    .expect("the shipped policy is valid");
    p.spec.group.size.min = 50;
    p.spec.group.size.max = 60;
    p.spec.limits.min_healthy = 50;
    p.spec.scaling.schedule.clear();
    p
}

/// A 24 h day at 1 s resolution, 50 VMs, 4 locations over both families.
const DAY_50: &str = r#"
name: bench-24h-50vm
start: 2026-09-20T00:00:00+02:00
duration: 24h
resolution: 1s
seed: 9
world:
  initialInstances: 50
  throughput: 100
  hypervisors: {count: 12, vcpus: 64, ram: 256GiB}
locations:
  - {name: local, v6: {rtt: 1ms, jitter: 200us}}
  - {name: fra, v6: {rtt: 9ms, jitter: 1ms}}
  - {name: ams, v6: {rtt: 15ms, jitter: 2ms}}
  - {name: nyc, v6: {rtt: 88ms, jitter: 4ms}}
load:
  base:
    diurnal: {mean: 2700, amplitude: 0.1, peakHour: 20}
  noise: {sigma: 0.03, correlation: 10m}
"#;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs the engine benchmarks and prints their figures.
pub fn run(rounds: usize) -> ExitCode {
    let policy = fifty_vm_policy();
    let scenario = match sim::parse_scenario("bench-24h-50vm", DAY_50.as_bytes()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench scenario invalid: {e:?}");
            return ExitCode::from(1);
        }
    };
    let rounds = rounds.max(1);

    let mut walls = Vec::new();
    let mut report = None;
    for _ in 0..rounds {
        let watch = Stopwatch::start();
        let r = rehearse(&policy, &scenario, scenario.seed, None, &mut |_| {});
        walls.push(watch.elapsed().as_secs_f64());
        report = Some(r.report);
    }
    let report = report.expect("at least one round");
    outln!(
        "rehearse 24h @1s, {} VMs peak, 4 locations × 2 families, {} decisions: median {:.3}s over {rounds} run(s) (min {:.3}s, max {:.3}s)",
        report.peak_instances,
        report.ticks,
        median(walls.clone()),
        walls.iter().copied().fold(f64::INFINITY, f64::min),
        walls.iter().copied().fold(0.0, f64::max),
    );

    // The decision core alone, on a snapshot of the same world at its busiest.
    let mut cloud = SimCloud::new(&scenario, &policy, scenario.seed);
    let t = scenario.start_unix() + 20.0 * 3600.0;
    cloud.advance_to(t);
    let snapshot = cloud.snapshot(t);
    let mut history = History::default();
    let n = 2000;
    let watch = Stopwatch::start();
    for k in 0..n {
        let (_, h) = decide(&policy, &snapshot, &history, t + k as f64 * 1e-3);
        history = h;
    }
    let per = watch.elapsed().as_secs_f64() / n as f64;
    outln!(
        "decide: {:.1} µs per pass for {} instances, {} service series, {} per-instance series",
        per * 1e6,
        snapshot.inventory.len(),
        snapshot.service.len(),
        snapshot.instances_probed.len()
    );
    ExitCode::SUCCESS
}
