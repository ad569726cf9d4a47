//! `sloop-bench engine`: the engine figures of issue 8, printed, never asserted by timed tests.
//!
//! - decision pass for 10,000 VMs across 500 policies on one core (ms per pass, RSS);
//! - the SLO evaluator: ns per probe sample ingested, µs per evaluation, memory per series;
//! - burn-rate alerts against the analytic time `t = burn × (1 − SLO) / e × window` (the
//!   timing there is simulated time, so `tests/baseline_burn_rate.rs` asserts it);
//! - rehearsal speed (24 h, 1 s, 50 VMs, 4 locations), via the default `sloop-bench`;
//! - detection delay against its statistical lower bound, and false alarms per hour on a clean
//!   24 h run.

use crate::{
    stats::{Spread, machine, peak_rss_mib, rss_mib},
    testkit::burn::{burn_alert_timing, election_policy, series_keys, snapshot_from},
};
use sloop::{
    clock::Stopwatch,
    decide::decide,
    history::History,
    observe::store::{ProbeStore, SeriesId},
    policy::Policy,
    sim::{self, SimCloud, rehearse::rehearse},
    snapshot::{Sample, Snapshot},
};
use std::process::ExitCode;

/// Arguments of `sloop-bench engine`.
#[derive(Debug, Clone, clap::Args)]
pub struct EngineArgs {
    /// Repetitions of each timed measurement (min/median/max are printed).
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Seeds for the detection-delay runs.
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
}

/// A world of `n` serving instances a few minutes in, for snapshots with real probe data.
fn snapshot_of(policy: &Policy, n: u32) -> Result<Snapshot, String> {
    let yaml = [
        format!("name: bench-{n}"),
        "start: 2026-09-21T10:00:00+02:00".into(),
        "duration: 1h".into(),
        "seed: 3".into(),
        format!("world: {{initialInstances: {n}, throughput: 100}}"),
        "locations:".into(),
        "  - {name: local, v6: {rtt: 1ms}, v4: {rtt: 1ms}}".into(),
        "  - {name: fra, v6: {rtt: 9ms}, v4: {rtt: 10ms}}".into(),
        "  - {name: ams, v6: {rtt: 15ms}, v4: {rtt: 16ms}}".into(),
        "  - {name: nyc, v6: {rtt: 88ms}, v4: {rtt: 92ms}}".into(),
        format!("load: {{base: {{constant: {}}}}}", n * 50),
    ]
    .join("\n");
    let scenario = sim::parse_scenario("bench", yaml.as_bytes()).map_err(|e| format!("{e:?}"))?;
    let mut cloud = SimCloud::new(&scenario, policy, 3);
    let t = scenario.start_unix() + 600.0;
    Ok(cloud.snapshot(t))
}

/// Decision pass over `policies` policies of `per` instances each, one core.
fn decision_pass(rounds: usize, policies: usize, per: u32) -> Result<(), String> {
    let base = election_policy()?;
    let rss0 = rss_mib();
    let snap = snapshot_of(&base, per)?;
    let mut fleet: Vec<(Policy, Snapshot, History)> = (0..policies)
        .map(|k| {
            let mut p = base.clone();
            p.metadata.name = format!("svc-{k:03}");
            (p, snap.clone(), History::default())
        })
        .collect();
    let t0 = snap.observed_at;
    // Warm the histories (the first passes fill them).
    for step in 0..3 {
        for (p, s, h) in &mut fleet {
            let (_, next) = decide(p, s, h, t0 + step as f64 * 10.0);
            *h = next;
        }
    }
    let rss1 = rss_mib();
    let mut ms = Vec::new();
    for r in 0..rounds.max(1) {
        let now = t0 + 30.0 + r as f64 * 10.0;
        let watch = Stopwatch::start();
        for (p, s, h) in &mut fleet {
            let (_, next) = decide(p, s, h, now);
            *h = next;
        }
        ms.push(watch.elapsed().as_secs_f64() * 1e3);
    }
    let s = Spread::of(&ms);
    outln!(
        "decision pass, {} VMs across {policies} policies ({per} each), one core: {} ms per pass over {} rounds; \
         RSS {:.0} MiB with the fleet's snapshots and histories loaded ({:+.0} MiB for them), peak {:.0} MiB",
        policies as u32 * per,
        s.show(1),
        ms.len(),
        rss1.unwrap_or(f64::NAN),
        rss1.zip(rss0).map_or(f64::NAN, |(a, b)| a - b),
        peak_rss_mib().unwrap_or(f64::NAN),
    );
    Ok(())
}

/// SLO evaluator: ingest cost per sample, evaluation cost, memory per series at a 30-day horizon.
fn slo_evaluator(rounds: usize) -> Result<(), String> {
    let policy = election_policy()?;
    let keys = series_keys(&policy);
    let interval = 10.0;
    let days = 30.0;
    let n = (days * 86_400.0 / interval) as usize;
    let mut ns = Vec::new();
    let mut eval_us = Vec::new();
    let mut mem = Vec::new();
    for _ in 0..rounds.max(1) {
        let rss0 = rss_mib();
        let mut store = ProbeStore::for_policy(&policy);
        let t0 = 1_800_000_000.0;
        let ids: Vec<SeriesId> = keys.iter().cloned().map(SeriesId::Service).collect();
        let watch = Stopwatch::start();
        for i in 0..n {
            let at = t0 + i as f64 * interval;
            for id in &ids {
                let sample = Sample {
                    at,
                    latency: 0.05 + (i % 7) as f64 * 0.01,
                    ok: i % 997 != 0,
                    phases: None,
                };
                store.record(id, sample);
            }
        }
        ns.push(watch.elapsed().as_secs_f64() * 1e9 / (n * ids.len()) as f64);
        let rss1 = rss_mib();
        mem.push(
            rss1.zip(rss0)
                .map_or(f64::NAN, |(a, b)| (a - b) / ids.len() as f64),
        );
        let now = t0 + n as f64 * interval;
        let watch = Stopwatch::start();
        let evals = 200;
        let mut history = History::default();
        for k in 0..evals {
            let snap = snapshot_from(&store, &policy, now + k as f64);
            let (_, h) = decide(&policy, &snap, &history, now + k as f64);
            history = h;
        }
        eval_us.push(watch.elapsed().as_secs_f64() * 1e6 / evals as f64);
    }
    outln!(
        "SLO evaluator, {} series × {days:.0} days at {interval:.0} s ({} samples each): ingest {} ns per sample; \
         one evaluation (window counts for every burn-rate window + judge + plan) {} µs; {} MiB per series (RSS delta)",
        keys.len(),
        n,
        Spread::of(&ns).show(1),
        Spread::of(&eval_us).show(0),
        Spread::of(&mem).show(2),
    );
    Ok(())
}

fn burn_rates() -> Result<(), String> {
    outln!(
        "burn-rate alert time after an error-ratio step, against t = burn × (1 − SLO) / e × long window (tick 10 s):"
    );
    outln!("| row (long/short, burn) | e | analytic s | fired s | ticks late |");
    outln!("|---|---|---|---|---|");
    let policy = election_policy()?;
    let rows = policy
        .spec
        .objectives
        .iter()
        .find_map(|o| o.availability.as_ref())
        .map(|a| a.burn_rate_alerts.clone())
        .unwrap_or_default();
    for (i, r) in rows.iter().enumerate() {
        for e in [1.0, 0.5, 0.1] {
            let b = burn_alert_timing(i, e, 10.0)?;
            outln!(
                "| {:.0}h/{:.0}m ×{} | {e} | {:.1} | {} | {} |",
                r.long.secs() / 3600.0,
                r.short.secs() / 60.0,
                r.burn_rate,
                b.analytic_s,
                b.fired_s.map_or("never".into(), |f| format!("{f:.0}")),
                b.fired_s
                    .map_or("–".into(), |f| format!("{:.2}", (f - b.analytic_s) / b.tick_s)),
            );
        }
    }
    Ok(())
}

/// Detection delay against its lower bounds, and false alarms on a clean day.
fn detection(seeds: u64) -> Result<(), String> {
    let policy = election_policy()?;
    let load = |p: &str| sim::load_scenario(std::path::Path::new(p)).map_err(|e| format!("{p}: {e:?}"));
    let crash = load("policies/scenarios/instance-crash.yaml")?;
    let clean = load("policies/scenarios/steady-day.yaml")?;
    let mut delays = Vec::new();
    for k in 0..seeds.max(1) {
        let r = rehearse(&policy, &crash, crash.seed + k, None, &mut |_| {}).report;
        delays.extend(r.faults.iter().filter_map(|f| f.detected_after_s));
    }
    let probe = policy.spec.probes.iter().find(|p| p.per_instance);
    let dt = probe.map_or(5.0, |p| p.interval.secs());
    let n = probe.map_or(1, |p| p.locations.len()) as f64;
    let k = policy.spec.healing.unhealthy_after.failures as f64;
    let need = policy.spec.healing.unhealthy_after.locations.max(1) as f64;
    outln!(
        "crash detection over {} seeds: {} s; lower bound (k−1)·Δ/N = {:.1} s (k {k}, Δ {dt} s, N {n}); \
         with the policy's k failures from {need} of {n} locations: ≥ (k−1)·Δ = {:.1} s, mean {:.1} s with random phases",
        delays.len(),
        Spread::of(&delays).show(0),
        (k - 1.0) * dt / n,
        (k - 1.0) * dt,
        (k - 1.0) * dt + dt * need / (n + 1.0),
    );
    let (mut false_diag, mut healing, mut alerts, mut hours) = (0u32, 0u32, 0usize, 0.0);
    for s in 0..seeds.max(1) {
        let r = rehearse(&policy, &clean, clean.seed + s, None, &mut |_| {}).report;
        hours += r.duration_s / 3600.0;
        for d in ["instance-fault", "host-fault", "network-path"] {
            false_diag += r.diagnoses.get(d).copied().unwrap_or(0);
        }
        healing += r.healing_actions;
        alerts += r.alerts.len();
    }
    outln!(
        "clean day (steady-day, {hours:.0} simulated hours): {:.3} fault-diagnosis ticks/h, {:.3} healing actions/h, {:.3} alerts/h",
        false_diag as f64 / hours,
        healing as f64 / hours,
        alerts as f64 / hours,
    );
    // Latency shift: the ARL₀ of the clean run bounds how fast any detector with that false
    // alarm rate can see a shift of KL divergence `kl` per sample: ≈ ln(ARL₀)/KL samples.
    let per_hour = 3600.0 / dt * n * clean.world.initial_instances as f64;
    let arl0 = per_hour * hours / (false_diag.max(1) as f64);
    let crash_text = std::fs::read_to_string("policies/scenarios/instance-crash.yaml")
        .map_err(|e| format!("policies/scenarios/instance-crash.yaml: {e}"))?;
    let body = crash_text.split("\nexpect:").next().unwrap_or(&crash_text);
    for (factor, r1) in [(0.7, 20.0), (0.55, 5.0)] {
        // Six instances at λ 50 each (300 rps), μ 100: healthy Exp(50) above the floor.
        let r0: f64 = 50.0;
        let kl = (r1 / r0).ln() + r0 / r1 - 1.0;
        let samples = arl0.ln() / kl;
        let yaml = body.replace(
            "{kind: instance-crash, instance: 2, mode: process}",
            &format!("{{kind: instance-slow, instance: 2, factor: {factor}}}"),
        );
        let scenario = sim::parse_scenario("instance-slow", yaml.as_bytes()).map_err(|e| format!("{e:?}"))?;
        let mut seen = Vec::new();
        let mut never = 0;
        for k in 0..seeds.max(1) {
            let r = rehearse(&policy, &scenario, scenario.seed + k, None, &mut |_| {}).report;
            for f in &r.faults {
                match f.detected_after_s {
                    Some(d) => seen.push(d),
                    None => never += 1,
                }
            }
        }
        outln!(
            "latency shift, one instance slowed ×{factor} (Exp({r0}) → Exp({r1}) above the floor): KL {kl:.3} nats/sample, \
             ARL₀ ≥ {arl0:.0} samples → bound ≥ {samples:.1} samples ≈ {:.0} s at {n} probes per {dt} s; \
             sloop detected in {} s{}",
            samples * dt / n,
            if seen.is_empty() {
                "–".to_string()
            } else {
                Spread::of(&seen).show(0)
            },
            if never > 0 {
                format!(", not at all in {never} run(s)")
            } else {
                String::new()
            },
        );
    }
    Ok(())
}

type Step<'a> = Box<dyn Fn() -> Result<(), String> + 'a>;

/// Runs the engine benchmarks.
pub fn run(args: &EngineArgs) -> ExitCode {
    outln!("machine: {}", machine());
    let steps: [(&str, Step<'_>); 4] = [
        // First, so its RSS delta is not hidden by pages an earlier step freed.
        ("SLO evaluator", Box::new(|| slo_evaluator(args.rounds.min(3)))),
        ("decision pass", Box::new(|| decision_pass(args.rounds, 500, 20))),
        ("burn-rate timing", Box::new(burn_rates)),
        ("detection", Box::new(|| detection(args.seeds))),
    ];
    for (name, step) in steps {
        if let Err(e) = step() {
            eprintln!("error: {name}: {e}");
            return ExitCode::from(1);
        }
    }
    // Rehearsal speed and the single-policy decision pass: the default `sloop-bench`.
    crate::rehearsal::run(args.rounds)
}
