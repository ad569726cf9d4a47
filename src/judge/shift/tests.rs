use super::*;
use crate::snapshot::{InstanceSeries, LbMember, Sample, SeriesKey};

fn policy() -> Policy {
    crate::policy::parse(
        "policies/election-web.yaml",
        include_bytes!("../../../policies/election-web.yaml"),
    )
    .expect("shipped policy")
}

/// A small seeded generator (xorshift64*), enough for exponential draws.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn exp(&mut self, rate: f64) -> f64 {
        -self.uniform().ln() / rate
    }
}

/// Six servers behind one pool, probed from two locations every 5 s; server `vm-2` serves
/// with excess-latency rate `slow_rate` from `slow_from` on (the others at 50/s, as M/M/1 at
/// μ 100, λ 50). Runs the test tick by tick (10 s) and returns the number of `vm-2` samples
/// folded in when it alarmed, and every other server's alarms.
fn run(seed: u64, ticks: usize, slow_rate: f64, slow_from: usize) -> (Option<u32>, usize) {
    run_with(seed, ticks, slow_rate, slow_from, false)
}

/// [`run`], optionally with a fresh history at every tick (a controller that restarts each time).
fn run_with(seed: u64, ticks: usize, slow_rate: f64, slow_from: usize, forget: bool) -> (Option<u32>, usize) {
    let p = policy();
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let ids: Vec<String> = (0..6).map(|i| format!("vm-{i}")).collect();
    let locations = [("local", 0.003), ("fra", 0.027)];
    let mut windows: Vec<Vec<Sample>> = vec![Vec::new(); ids.len() * locations.len()];
    let mut states = BTreeMap::new();
    let mut others = 0;
    let mut folded = 0u32;
    for tick in 1..=ticks {
        let now = 1_000_000.0 + 10.0 * tick as f64;
        let mut snap = Snapshot {
            observed_at: now,
            ..Snapshot::default()
        };
        for (i, id) in ids.iter().enumerate() {
            snap.inventory.push(Instance {
                id: id.clone(),
                name: id.clone(),
                status: InstanceStatus::Active,
                host: Some(format!("h{}", i % 3)),
                addresses: Vec::new(),
                created_at: 0.0,
                active_since: Some(1.0),
                member: Some(LbMember {
                    weight: 1,
                    admin_up: true,
                    online: true,
                    error: false,
                }),
                created_by: None,
                stamps: None,
                fault: None,
                replaces: None,
            });
            for (l, (loc, rtt)) in locations.iter().enumerate() {
                let w = &mut windows[i * locations.len() + l];
                for k in 0..2 {
                    let rate = if i == 2 && tick >= slow_from {
                        slow_rate
                    } else {
                        50.0
                    };
                    // Three round trips with jitter, the service floor, and the queueing time.
                    let latency = 3.0 * (rtt + 0.001 * rng.uniform()) + 0.03 + rng.exp(rate);
                    w.push(Sample {
                        at: now - 10.0 + 5.0 * k as f64 + rng.uniform(),
                        latency,
                        ok: true,
                        phases: None,
                    });
                }
                if w.len() > 12 {
                    w.drain(..w.len() - 12);
                }
                snap.instances_probed.push(InstanceSeries {
                    instance: id.clone(),
                    key: SeriesKey {
                        probe: "instance".into(),
                        location: (*loc).into(),
                        family: IpFamily::V6,
                    },
                    consecutive_failures: 0,
                    recent: w.clone(),
                });
            }
        }
        if forget {
            states.clear();
        }
        states = track(&p, &snap, Some("instance"), &states);
        for (id, st) in &states {
            if id == "vm-2" {
                if tick >= slow_from {
                    folded = if tick == slow_from { 4 } else { folded + 4 };
                    if st.alarmed() {
                        return (Some(folded), others);
                    }
                }
            } else if st.alarmed() {
                others += 1;
            }
        }
    }
    (None, others)
}

#[test]
fn the_threshold_follows_from_the_design_arl0_and_one_sample_adds_at_most_a_third() {
    assert!((threshold() - DESIGN_ARL0.ln()).abs() < 1e-12);
    assert!((increment(f64::INFINITY) - threshold() / 3.0).abs() < 1e-9);
    assert!((increment(score_cap()) - threshold() / 3.0).abs() < 1e-9);
    assert!(increment(f64::NAN) < 0.0, "a junk score is no evidence");
}

#[test]
fn a_clean_sample_never_raises_the_expected_likelihood_ratio() {
    // Exchangeable with n peers, the mid-rank survival takes the values (j + ½)/(n + 1) with
    // equal chance: E[e^ℓ] ≤ 1 keeps e^S a supermartingale, hence ARL₀ ≥ e^h (Lorden).
    for n in [10usize, 23, 60, 120, 500] {
        let mean: f64 = (0..=n)
            .map(|j| increment(-((j as f64 + 0.5) / (n as f64 + 1.0)).ln()).exp())
            .sum::<f64>()
            / (n as f64 + 1.0);
        assert!(mean <= 1.0, "n = {n}: E[e^ℓ] = {mean}");
    }
    // And for an exact Exp(1) score, 1 − (1 − R)e^{−Rc}.
    let (r, c) = (DESIGN_RATIO, score_cap());
    let steps = 200_000;
    let dx = 40.0 / steps as f64;
    let integral: f64 = (0..steps)
        .map(|k| {
            let e = (k as f64 + 0.5) * dx;
            increment(e).exp() * (-e).exp() * dx
        })
        .sum();
    let exact = 1.0 - (1.0 - r) * (-r * c).exp();
    assert!((integral - exact).abs() < 1e-3, "{integral} vs {exact}");
}

#[test]
fn peers_that_are_alike_raise_no_alarm() {
    // 4,000 ticks: 96,000 samples over six servers, no alarm at a design ARL₀ of 10⁹.
    let (slow, others) = run(11, 4000, 50.0, usize::MAX);
    assert_eq!((slow, others), (None, 0));
}

#[test]
fn a_service_rate_at_0_55_is_caught_once_half_the_window_shows_it() {
    // μ 100 → 55 at λ 50: the excess latency rate drops from 50 to 5 (r = 0.1). The bound for
    // a detector with this false-alarm rate is ≈ ln(ARL₀)/KL ≈ 3.1 samples at ARL₀ 10⁹. The
    // materiality gate needs the instance's window median to move, so half of each series'
    // 12-sample window: 12 to 20 pooled samples, within one window (24), 4–7× the bound.
    for seed in 1..=5 {
        let (after, others) = run(seed, 400, 5.0, 100);
        assert_eq!(others, 0, "seed {seed}");
        let after = after.unwrap_or(u32::MAX);
        assert!(after <= 24, "seed {seed}: alarmed after {after} samples");
    }
}

#[test]
fn a_service_rate_at_0_7_is_caught_within_three_times_its_bound() {
    // μ 100 → 70 at λ 50: rate 50 → 20 (r = 0.4), KL 0.58 nats per sample, bound ≈ 35 samples
    // at ARL₀ 10⁹; 3× is 106.
    let mut delays = Vec::new();
    for seed in 1..=5 {
        let (after, others) = run(seed, 400, 20.0, 100);
        assert_eq!(others, 0, "seed {seed}");
        delays.push(after.unwrap_or(u32::MAX));
    }
    assert!(delays.iter().all(|&d| d <= 106), "{delays:?}");
}

#[test]
fn a_server_a_little_slower_than_its_peers_is_not_a_fault() {
    // The spread between healthy servers (μ ± 5 %): rate 45 against 50 stays quiet.
    let (slow, others) = run(3, 2000, 45.0, 1);
    assert_eq!((slow, others), (None, 0));
}

#[test]
fn the_state_is_rebuilt_from_the_samples_a_snapshot_carries() {
    // A fresh history folds in every sample of the window at once: a restart loses at most
    // the evidence older than the snapshot's window.
    // Every decision starts from nothing: the window of 12 samples per series alone must do.
    let (after, others) = run_with(7, 6, 5.0, 1, true);
    assert!(after.is_some(), "never alarmed from the window alone");
    assert_eq!(others, 0);
}
