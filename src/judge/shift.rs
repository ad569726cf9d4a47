//! The sequential test for gray failures: one CUSUM per instance of the log-likelihood ratio of
//! each new per-instance probe sample against the instance's peer pool. Pure.
//!
//! # Score
//! A sample `x` of one instance (probe, location, family) is compared with the samples its
//! *peers* took over the same probe, location and family in the snapshot's window: the other
//! servers in rotation at the same pool weight, so under the same load, the same probe and the
//! same path. Its peer survival `Ŝ(x)` is the mid-rank share of peer samples slower than `x`,
//! `(#slower + ½·#equal + ½) / (n + 1)`; past the slowest peer sample the peers' tail is
//! extended exponentially with their mean excess over their floor (read off their median).
//! Failed probes count as infinitely slow. `E = −ln Ŝ(x)` is then about `Exp(1)` when the
//! instance is like its peers, whatever the latency distribution (the probability integral
//! transform), and `Exp(r)` when its latency tail is `1/r` times heavier: for a server behind
//! a balancer whose service rate drops from μ to μ′ at arrival rate λ, `r = (μ′ − λ)/(μ − λ)`.
//!
//! # Test
//! A CUSUM of the log-likelihood ratio of "r = [`DESIGN_RATIO`]" against "r = 1",
//! `ℓ = ln R + (1 − R)·min(E, c)`, `S ← max(0, S + ℓ)`, alarm at `S ≥ h`.
//! - **ARL₀ and threshold.** Under H₀, `E[e^ℓ] = 1 − (1 − R)e^{−Rc} ≤ 1`, so `e^S` is a
//!   supermartingale and the average run length to a false alarm is at least `e^h` samples
//!   (Lorden). The design ARL₀ is [`DESIGN_ARL0`] = 10⁹ samples per instance: at two probe
//!   locations every 5 s that is about 80 years per instance, so a clean 3 × 24 h run of five
//!   instances expects at most 0.0005 false alarms from exchangeable peers. Hence
//!   `h = ln 10⁹ = 20.7`. 10⁷ (h = 16.1) was not enough on `steady-day`: a server slower for
//!   good sits near zero drift, where run lengths are far shorter than ARL₀.
//! - **Cap.** `c` is set so that one sample adds at most `h/3`: three samples far beyond the
//!   peers' tail are needed, so a lost packet's 1 s retransmission (or any single outlier) cannot
//!   alarm, and a heavier-than-exponential real tail is bounded in what it can add.
//! - **Delay.** For a true shift `r`, the drift per sample is `ln R + (1 − R)(1 − e^{−rc})/r`,
//!   and the delay about `h` over it: ×0.7 service rate at half load (`r = 0.4`) 0.46 nats per
//!   sample, 45 samples; ×0.55 (`r = 0.1`) 3.6 nats, about 6 samples. A server whose excess latency
//!   is less than 1.85× its peers' (`r > 0.54`) drifts back to 0: the ±5 % spread between
//!   healthy servers is not a fault.
//!
//! # Locations
//! The samples of every location are pooled into one statistic (it is the server that is
//! tested), but an alarm also needs a positive contribution since the statistic last left 0
//! from as many locations as the failure rule asks for (`unhealthyAfter.locations`): a server
//! slow or unreachable from one location only is a path, not a server.
//!
//! # State
//! The statistic, the newest sample folded in per series, and when it alarmed live in
//! [`History::shifts`](crate::history::History::shifts). Samples newer than a series' mark are
//! folded in at each decision, so a fresh history (a restart) rebuilds the statistic from the
//! samples the snapshot carries. A server out of rotation takes no load, so its samples are not
//! comparable and are not folded; its alarm holds until a remedy restarts it (its ACTIVE time
//! moves past the alarm), so a drained slow server is not taken for recovered because it is
//! fast without load.

use super::health::{Health, InstanceHealth};
use crate::{
    history::ShiftState,
    judge::diagnose::in_rotation,
    policy::Policy,
    snapshot::{Instance, InstanceId, InstanceStatus, IpFamily, Snapshot, Time},
};
use std::collections::{BTreeMap, HashMap};

/// The alternative the test is designed for: the instance's latency tail is 4× its peers'
/// (the hazard ratio `r` of the score is 0.25).
pub const DESIGN_RATIO: f64 = 0.25;

/// Samples per instance between false alarms the threshold is set for (at least; Lorden).
pub const DESIGN_ARL0: f64 = 1e9;

/// How much larger than its peers' an instance's median excess latency must be before an
/// alarm counts: 2× (an M/M/1 server at `r ≤ 0.5`).
const MATERIAL_RATIO: f64 = 2.0;

/// Peer samples needed before a sample is scored: fewer cannot place it in the peers' tail.
const MIN_PEER_SAMPLES: usize = 10;

/// The decision threshold `h = ln ARL₀`.
pub fn threshold() -> f64 {
    DESIGN_ARL0.ln()
}

/// The cap on the score `E`, so that one sample adds at most `h/3` to the statistic.
pub fn score_cap() -> f64 {
    (threshold() / 3.0 - DESIGN_RATIO.ln()) / (1.0 - DESIGN_RATIO)
}

/// The log-likelihood ratio one sample adds, from its score `E = −ln Ŝ(x)`.
pub fn increment(score: f64) -> f64 {
    let e = if score.is_nan() {
        0.0
    } else {
        score.clamp(0.0, score_cap())
    };
    DESIGN_RATIO.ln() + (1.0 - DESIGN_RATIO) * e
}

/// Location, family and pool weight: the samples that are comparable with each other.
type PoolKey<'a> = (&'a str, IpFamily, u16);

/// The peers' latencies at one series key, sorted, with what the tail extension needs.
struct Pool {
    sorted: Vec<f64>,
    /// Mean excess over the floor (the fastest sample), read off the median as for an
    /// exponential (`median − floor = m·ln 2`), which a few outliers do not move.
    excess: f64,
}

impl Pool {
    fn new(mut sorted: Vec<f64>) -> Option<Self> {
        if sorted.len() < MIN_PEER_SAMPLES {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let floor = sorted[0];
        let median = sorted[sorted.len() / 2];
        let excess = ((median - floor) / std::f64::consts::LN_2).max(1e-4);
        floor.is_finite().then_some(Self { sorted, excess })
    }

    /// Whether the instance's own window is materially slower than its peers': its median
    /// excess over the peers' floor at least [`MATERIAL_RATIO`] times theirs. A server a little
    /// slower for good (a slower host, a spread of a few percent that a busy hour amplifies)
    /// keeps a CUSUM near zero drift, where false alarms come far sooner than ARL₀; no remedy
    /// changes it, so it is not a fault.
    fn material(&self, mut own: Vec<f64>) -> bool {
        if own.len() < 3 {
            return false;
        }
        own.sort_by(f64::total_cmp);
        let floor = self.sorted[0];
        let peers = self.sorted[self.sorted.len() / 2] - floor;
        own[own.len() / 2] - floor >= MATERIAL_RATIO * peers
    }

    /// The instance's median excess latency over the peers' floor, as a multiple of theirs.
    fn excess_ratio(&self, mut own: Vec<f64>) -> Option<f64> {
        if own.len() < 3 {
            return None;
        }
        own.sort_by(f64::total_cmp);
        let floor = self.sorted[0];
        let peers = (self.sorted[self.sorted.len() / 2] - floor).max(1e-4);
        Some((own[own.len() / 2] - floor) / peers)
    }

    /// `−ln Ŝ(x)`: the sample's place in the peers' tail.
    fn score(&self, x: f64) -> f64 {
        let n = self.sorted.len() as f64;
        let below = self.sorted.partition_point(|&p| p < x);
        let not_above = self.sorted.partition_point(|&p| p <= x);
        let slower = n - not_above as f64;
        let equal = (not_above - below) as f64;
        let survival = (slower + 0.5 * equal + 0.5) / (n + 1.0);
        let mut e = -survival.ln();
        let slowest = self.sorted[self.sorted.len() - 1];
        if x > slowest && slowest.is_finite() {
            e += (x - slowest) / self.excess;
        }
        e
    }
}

/// How much throughput an instance has left relative to its peers, as its latency says at the
/// group's utilisation `rho`: the largest over the locations that probe it (a server is as
/// fast as its best path shows) of
/// `k = ρ + (1 − ρ)/L`, where `L` is its median excess latency over its peers' (an M/M/1 server
/// with service rate `k·μ` at arrival rate `ρ·μ` queues `(1 − ρ)/(k − ρ)` times longer than
/// a peer). The same `L` means little near saturation and much at rest; `k` does not depend on
/// the load. Failed probes count as infinitely slow (`k = ρ`). `None` without comparable peers.
pub fn relative_throughput(policy: &Policy, snap: &Snapshot, probe: &str, id: &str, rho: f64) -> Option<f64> {
    let inst = snap.inventory.iter().find(|i| i.id == id)?;
    let weight = inst.member.map_or(0, |m| m.weight);
    let mut best: Option<f64> = None;
    for s in snap
        .instances_probed
        .iter()
        .filter(|s| &*s.key.probe == probe && s.instance == id)
    {
        let peers: Vec<f64> = snap
            .instances_probed
            .iter()
            .filter(|p| {
                &*p.key.probe == probe
                    && p.instance != id
                    && p.key.location == s.key.location
                    && p.key.family == s.key.family
                    && snap.inventory.iter().any(|i| {
                        i.id == p.instance
                            && i.status == InstanceStatus::Active
                            && in_rotation(policy, i)
                            && i.member.map_or(0, |m| m.weight) == weight
                    })
            })
            .flat_map(|p| {
                p.recent
                    .iter()
                    .map(|x| if x.ok { x.latency } else { f64::INFINITY })
            })
            .collect();
        let Some(pool) = Pool::new(peers) else {
            continue;
        };
        let own = s
            .recent
            .iter()
            .map(|x| if x.ok { x.latency } else { f64::INFINITY });
        let Some(ratio) = pool.excess_ratio(own.collect()) else {
            continue;
        };
        let rho = rho.clamp(0.0, 0.99);
        let k = rho + (1.0 - rho) / ratio.max(1.0);
        best = Some(best.map_or(k, |b: f64| b.max(k)));
    }
    best
}

/// Folds the snapshot's new per-instance samples into each instance's test; returns the
/// updated states (instances that left the inventory are dropped).
pub fn track(
    policy: &Policy,
    snap: &Snapshot,
    probe: Option<&str>,
    states: &BTreeMap<InstanceId, ShiftState>,
) -> BTreeMap<InstanceId, ShiftState> {
    let h = threshold();
    let Some(probe) = probe else {
        return BTreeMap::new();
    };
    let grace = policy.spec.healing.grace_period.secs();
    let by_id: HashMap<&str, &Instance> = snap.inventory.iter().map(|i| (i.id.as_str(), i)).collect();
    let comparable = |id: &str| {
        by_id
            .get(id)
            // Within its grace after boot a server is not judged (it may not serve yet).
            .filter(|i| {
                i.status == InstanceStatus::Active
                    && in_rotation(policy, i)
                    && i.active_since.is_some_and(|t| snap.observed_at - t >= grace)
            })
            .map(|i| i.member.map_or(0, |m| m.weight))
    };
    let series: Vec<_> = snap
        .instances_probed
        .iter()
        .filter(|s| &*s.key.probe == probe)
        .collect();
    // Every comparable instance's latencies per (location, family, weight).
    let mut pools: HashMap<PoolKey<'_>, Vec<(&str, f64)>> = HashMap::new();
    for s in &series {
        if let Some(w) = comparable(&s.instance) {
            let pool = pools.entry((&s.key.location, s.key.family, w)).or_default();
            pool.extend(
                s.recent
                    .iter()
                    .map(|x| (s.instance.as_str(), if x.ok { x.latency } else { f64::INFINITY })),
            );
        }
    }
    let mut out = BTreeMap::new();
    for inst in &snap.inventory {
        let mut st = states.get(&inst.id).cloned().unwrap_or_default();
        // A remedy restarted the server: what was measured before says nothing about it now.
        if let (Some(alarm), Some(active)) = (st.alarmed_at, inst.active_since)
            && active > alarm
        {
            st = ShiftState::default();
        }
        let Some(weight) = comparable(&inst.id) else {
            out.insert(inst.id.clone(), st);
            continue;
        };
        // New samples of this instance, oldest first, scored against its peers.
        let mut fresh: Vec<(f64, f64, String)> = Vec::new();
        let mut probed_from = 0;
        let mut material = 0;
        for s in series.iter().filter(|s| s.instance == inst.id) {
            probed_from += 1;
            let key = format!("{}/{:?}", s.key.location, s.key.family);
            let mark = st.through.get(&key).copied().unwrap_or(f64::NEG_INFINITY);
            let new: Vec<_> = s.recent.iter().filter(|x| x.at > mark).collect();
            let Some(last) = new.last() else {
                continue;
            };
            st.through.insert(key.clone(), last.at);
            let peers: Vec<f64> = pools
                .get(&(&*s.key.location, s.key.family, weight))
                .map(|p| {
                    p.iter()
                        .filter(|(id, _)| *id != inst.id)
                        .map(|(_, l)| *l)
                        .collect()
                })
                .unwrap_or_default();
            let Some(pool) = Pool::new(peers) else {
                continue;
            };
            if pool.material(s.recent.iter().filter(|x| x.ok).map(|x| x.latency).collect()) {
                material += 1;
            }
            fresh.extend(new.iter().map(|x| {
                (
                    x.at,
                    pool.score(if x.ok { x.latency } else { f64::INFINITY }),
                    key.clone(),
                )
            }));
        }
        fresh.sort_by(|a, b| a.0.total_cmp(&b.0));
        // The evidence must come from as many locations as the failure rule asks for.
        let quorum = (policy.spec.healing.unhealthy_after.locations.max(1) as usize).min(probed_from);
        for (at, score, key) in fresh {
            let step = increment(score);
            st.s = (st.s + step).max(0.0);
            if st.s > 0.0 {
                st.run += 1;
                *st.by_series.entry(key).or_default() += step;
            } else {
                st.run = 0;
                st.by_series.clear();
            }
            let agreeing = st.by_series.values().filter(|v| **v > 0.0).count();
            if st.s >= h && agreeing >= quorum.max(1) && material >= quorum.max(1) && st.alarmed_at.is_none()
            {
                st.alarmed_at = Some(at);
            }
        }
        // In rotation and back at rest: the shift is over (or never was).
        if st.s == 0.0 {
            st.alarmed_at = None;
        }
        out.insert(inst.id.clone(), st);
    }
    out
}

/// A slow verdict reached another way (the peer rank test) on a server that takes traffic
/// holds like an alarm of the test: once drained, the server takes no load and looks fast,
/// and must still get its remedy.
pub fn latch(
    snap: &Snapshot,
    policy: &Policy,
    health: &[InstanceHealth],
    states: &mut BTreeMap<InstanceId, ShiftState>,
    now: Time,
) {
    for h in health.iter().filter(|h| h.health == Health::Slow) {
        let serving = snap
            .inventory
            .iter()
            .any(|i| i.id == h.id && in_rotation(policy, i));
        if serving {
            let st = states.entry(h.id.clone()).or_default();
            st.alarmed_at = st.alarmed_at.or(Some(now));
        }
    }
}

#[cfg(test)]
mod tests;
