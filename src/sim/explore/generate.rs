//! The seeded scenario generator: every draw comes from `Rng::stream(seed, index)`, so scenario
//! `index` of a seed is the same on every machine and in every run, whatever the other indices
//! drew. It builds only what the scenario model can express (`sim::scenario`); the module doc of
//! `sim::explore` lists what the issue asks for and the model cannot say. Pure.

use crate::{
    policy::{
        Family,
        units::{ByteSize, Duration, Percent, Timestamp},
    },
    sim::{
        rng::Rng,
        scenario::{
            BaseLoad, CrashMode, Diurnal, FailureRates, Fault, FaultSpec, HostPick, HypervisorSpec,
            InstancePick, LoadPoint, LoadSpec, LocationSpec, Noise, PathSpec, PickRule, Scenario, Surge,
            Timings, WorldSpec,
        },
    },
};

/// Probe locations of every generated scenario: the ones the shipped policies probe from.
const LOCATIONS: [(&str, f64); 4] = [("local", 0.001), ("fra", 0.009), ("ams", 0.015), ("nyc", 0.088)];

/// The most instances a generated world starts with: the smallest shipped cap
/// (`minimal.yaml`, `size.max: 6`), so no policy starts above its own cap.
pub const MAX_INITIAL: u32 = 6;

fn secs(s: f64) -> Duration {
    // Whole seconds (milliseconds below 10 s) keep the printed scenario readable.
    let rounded = if s < 10.0 {
        (s * 1000.0).round() / 1000.0
    } else {
        s.round()
    };
    Duration::from_secs(rounded.max(0.001))
}

fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    items[rng.below(items.len())]
}

/// Scenario `index` of the run seeded with `seed`.
pub fn scenario(seed: u64, index: u64) -> Scenario {
    let mut rng = Rng::stream(seed, index);
    // Short runs dominate: a fault and its aftermath fit in an hour, and 2,000 scenarios × every
    // policy × (sloop + oracle) must stay affordable on two cores.
    let minutes = pick(&mut rng, &[20.0, 30.0, 45.0, 60.0, 60.0, 90.0, 120.0, 180.0]);
    let duration = minutes * 60.0;
    // A week in October 2026: no shipped policy schedules a peak there.
    let day = 5 + rng.below(7);
    let hour = rng.below(24);
    let start: Timestamp = format!("2026-10-{day:02}T{hour:02}:00:00+02:00")
        .parse()
        .unwrap_or(Timestamp::from_unix(1_791_158_400.0));
    let world = world(&mut rng);
    let capacity = f64::from(world.initial_instances) * world.throughput;
    let load = load(&mut rng, capacity, duration);
    let faults = faults(&mut rng, duration);
    Scenario {
        name: format!("explore-{seed}-{index}"),
        description: format!("sloop explore --seed {seed}: scenario {index}"),
        start,
        duration: secs(duration),
        resolution: Duration::from_secs(1.0),
        seed: rng.next_u64() % 1_000_000,
        world,
        locations: locations(&mut rng),
        load,
        faults,
        expect: Default::default(),
        trace: Vec::new(),
    }
}

fn world(rng: &mut Rng) -> WorldSpec {
    let slow_cloud = rng.bernoulli(0.25);
    let boot = if slow_cloud {
        rng.range(90.0, 300.0)
    } else {
        rng.range(10.0, 90.0)
    };
    let failing = rng.bernoulli(0.2);
    let fail = |rng: &mut Rng| if failing { rng.range(0.02, 0.3) } else { 0.0 };
    WorldSpec {
        hypervisors: HypervisorSpec {
            count: 1 + rng.below(12) as u32,
            vcpus: pick(rng, &[8, 16, 32, 64]),
            ram: ByteSize::from_bytes(pick(rng, &[32u64, 64, 128, 256]) << 30),
            base_steal: rng.range(0.0, 3.0),
        },
        initial_instances: 1 + rng.below(MAX_INITIAL as usize) as u32,
        throughput: rng.range(50.0, 200.0).round(),
        throughput_spread: rng.range(0.0, 0.3),
        timings: Timings {
            build: secs(if slow_cloud {
                rng.range(20.0, 120.0)
            } else {
                rng.range(3.0, 20.0)
            }),
            boot_to_serve: secs(boot),
            sigma: rng.range(0.1, 0.6),
            reboot_soft: secs(rng.range(10.0, 90.0)),
            reboot_hard: secs(rng.range(20.0, 150.0)),
            rebuild: secs(rng.range(30.0, 240.0)),
            ..Timings::default()
        },
        failures: FailureRates {
            create: fail(rng),
            reboot: fail(rng),
            rebuild: fail(rng),
            migrate: fail(rng),
        },
        api_latency: secs(rng.range(0.05, 2.0)),
        ..WorldSpec::default()
    }
}

fn locations(rng: &mut Rng) -> Vec<LocationSpec> {
    LOCATIONS
        .iter()
        .map(|&(name, rtt)| {
            let path = |rng: &mut Rng| PathSpec {
                rtt: secs(rtt * rng.range(0.8, 1.3)),
                jitter: secs(rtt * rng.range(0.05, 0.3)),
                loss: Percent::from_fraction(if name == "local" { 0.0 } else { 0.0002 }),
            };
            LocationSpec {
                name: name.into(),
                v6: path(rng),
                v4: Some(path(rng)),
            }
        })
        .collect()
}

/// Load relative to the starting capacity: from idle to beyond it, so some scenarios need
/// scaling and some need none.
fn load(rng: &mut Rng, capacity: f64, duration: f64) -> LoadSpec {
    let mean = (capacity * rng.range(0.1, 1.2)).round().max(1.0);
    let base = match rng.below(4) {
        0 => BaseLoad::Constant(mean),
        1 => BaseLoad::Diurnal(Diurnal {
            mean,
            amplitude: rng.range(0.0, 0.9),
            peak_hour: rng.range(0.0, 24.0).round(),
        }),
        2 => {
            // A recorded-looking trace: a random walk sampled every few minutes.
            let n = 4 + rng.below(30);
            let mut rps = mean;
            let points = (0..n)
                .map(|i| {
                    rps = (rps * rng.lognormal(1.0, 0.25)).clamp(1.0, capacity * 4.0);
                    LoadPoint {
                        at: secs(duration * i as f64 / n as f64),
                        rps: rps.round(),
                    }
                })
                .collect();
            BaseLoad::Points(points)
        }
        _ => BaseLoad::Points(vec![
            LoadPoint {
                at: secs(0.0),
                rps: mean,
            },
            LoadPoint {
                at: secs(duration * rng.range(0.2, 0.9)),
                rps: (mean * rng.range(0.2, 4.0)).round(),
            },
        ]),
    };
    let noise = rng.bernoulli(0.7).then(|| Noise {
        sigma: rng.range(0.0, 0.15),
        correlation: secs(rng.range(30.0, 600.0)),
    });
    let surges = (0..rng.below(3))
        .map(|_| Surge {
            at: secs(rng.range(0.0, duration * 0.8)),
            ramp: secs(rng.range(10.0, 1800.0)),
            // Surges of any size, and dips (a factor below 1 is a decay of the base).
            factor: if rng.bernoulli(0.2) {
                rng.range(0.1, 1.0)
            } else {
                rng.range(1.2, 12.0)
            },
            hold: secs(rng.range(60.0, duration * 0.5)),
            decay: secs(rng.range(10.0, 3600.0)),
        })
        .collect();
    LoadSpec { base, noise, surges }
}

fn faults(rng: &mut Rng, duration: f64) -> Vec<FaultSpec> {
    let count = pick(rng, &[0, 1, 1, 1, 2, 2]);
    let mut out: Vec<FaultSpec> = Vec::new();
    for k in 0..count {
        let at = if k == 1 && rng.bernoulli(0.7) {
            // Overlapping with the first one: within a few minutes of its start.
            out[0].at.secs() + rng.range(0.0, 600.0)
        } else {
            rng.range(300.0_f64.min(duration * 0.2), duration * 0.8)
        };
        let fault = fault(rng);
        let lasting = !matches!(
            fault,
            Fault::InstanceCrash { .. } | Fault::InstanceHang { .. } | Fault::InstanceSlow { .. }
        );
        let bounded = if lasting {
            rng.bernoulli(0.6)
        } else {
            rng.bernoulli(0.15)
        };
        out.push(FaultSpec {
            at: secs(at.min(duration * 0.9)),
            duration: bounded.then(|| secs(rng.range(60.0, 2400.0))),
            fault,
        });
    }
    out
}

fn instance(rng: &mut Rng) -> InstancePick {
    match rng.below(4) {
        0 => InstancePick::Rule(PickRule::Busiest),
        1 => InstancePick::Rule(PickRule::Random),
        _ => InstancePick::Index(rng.below(MAX_INITIAL as usize) as u32),
    }
}

fn host(rng: &mut Rng) -> HostPick {
    match rng.below(3) {
        0 => HostPick::Rule(PickRule::Busiest),
        1 => HostPick::Rule(PickRule::Random),
        _ => HostPick::Index(rng.below(4) as u32),
    }
}

/// One fault of any kind, at a random target.
fn fault(rng: &mut Rng) -> Fault {
    let remote = |rng: &mut Rng| LOCATIONS[1 + rng.below(LOCATIONS.len() - 1)].0.to_owned();
    match rng.below(10) {
        0 => Fault::InstanceCrash {
            instance: instance(rng),
            mode: pick(rng, &[CrashMode::Process, CrashMode::Shutoff, CrashMode::Error]),
            persistent: rng.bernoulli(0.3),
        },
        1 => Fault::InstanceHang {
            instance: instance(rng),
            persistent: rng.bernoulli(0.3),
        },
        2 => Fault::InstanceSlow {
            instance: instance(rng),
            // Up to ×0.7, the slowest shift the issue requires to be detected.
            factor: (rng.range(0.1, 0.7) * 100.0).round() / 100.0,
            persistent: rng.bernoulli(0.3),
            ramp: None,
        },
        3 => Fault::HostDegraded {
            host: host(rng),
            factor: (rng.range(0.2, 0.7) * 100.0).round() / 100.0,
            steal: rng.range(20.0, 60.0).round(),
        },
        4 => Fault::HostDown { host: host(rng) },
        5 => Fault::NetworkDegraded {
            location: LOCATIONS[rng.below(LOCATIONS.len())].0.to_owned(),
            family: pick(rng, &[Family::Both, Family::V6, Family::V4]),
            delay: secs(rng.range(0.0, 0.4)),
            loss: Percent::from_fraction(pick(rng, &[0.0, 0.01, 0.1, 0.5, 1.0])),
        },
        6 => Fault::AgentSilent {
            location: remote(rng),
        },
        7 => Fault::ApiBrownout {
            error_rate: Percent::from_fraction((rng.range(0.1, 0.9) * 100.0).round() / 100.0),
            latency: secs(rng.range(0.0, 5.0)),
        },
        8 => Fault::QuotaExhausted,
        _ => Fault::TelemetryBlackout,
    }
}
