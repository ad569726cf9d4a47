//! Network-path diagnosis: a violation that separates by path (location, family), not by
//! server or load. Pure.
//!
//! The service probes say which vantage points see the violation; that alone cannot tell a
//! path from a busy or broken server, since load and server faults also land unevenly on
//! locations over a short window. The per-instance probes can: a path fault makes the failing
//! location fail on every server while another location reaches the same servers at the same
//! time. A server fault fails one server from everywhere; overload fails every server from
//! everywhere.

use super::floor_of;
use crate::{
    decision::{Diagnosis, SloState, Verdict},
    judge::{health::healing_probe, stats::binomial_bounds},
    policy::{Indicator, Policy},
    snapshot::{IpFamily, Snapshot},
};

/// Confidence of the per-path contrast (it decides whether VMs are left alone).
const CONFIDENCE: f64 = 0.99;

/// What the per-instance probes say about one failing path against the paths that are fine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathEvidence {
    /// No per-instance samples on both sides: the probes cannot separate by server.
    None,
    /// The failing path is bad on every server probed from both sides, beyond doubt worse than
    /// the good paths on the same servers.
    Separates,
    /// Some server is reached as badly from the good paths (a server fault), or the failing
    /// path is not worse beyond doubt (load).
    DoesNot,
}

/// Per server: (bad, total) samples on the failing path, then on the good paths.
type PathCounts = ((u64, u64), (u64, u64));

/// Per server: (bad, total) samples on the failing path and on the good ones.
fn per_server(
    policy: &Policy,
    snap: &Snapshot,
    bad_path: (&str, IpFamily),
    good_paths: &[(&str, IpFamily)],
    is_bad: &dyn Fn(&crate::snapshot::Sample) -> bool,
) -> Vec<PathCounts> {
    let Some(probe) = healing_probe(policy) else {
        return Vec::new();
    };
    let mut by_server: std::collections::BTreeMap<&str, PathCounts> = Default::default();
    for s in snap.instances_probed.iter().filter(|s| *s.key.probe == *probe) {
        let path = (&*s.key.location, s.key.family);
        let bad = s.recent.iter().filter(|x| is_bad(x)).count() as u64;
        let total = s.recent.len() as u64;
        let e = by_server.entry(s.instance.as_str()).or_default();
        if path == bad_path {
            e.0.0 += bad;
            e.0.1 += total;
        } else if good_paths.contains(&path) {
            e.1.0 += bad;
            e.1.1 += total;
        }
    }
    by_server
        .into_values()
        .filter(|(on_bad, on_good)| on_bad.1 > 0 && on_good.1 > 0)
        .collect()
}

/// Whether the per-instance probes separate `bad_path` from `good_paths`: on no server with
/// samples on both sides are the good paths worse, and pooled over the servers its bad share
/// is above the good paths' beyond doubt.
pub fn separates(
    policy: &Policy,
    snap: &Snapshot,
    bad_path: (&str, IpFamily),
    good_paths: &[(&str, IpFamily)],
    is_bad: &dyn Fn(&crate::snapshot::Sample) -> bool,
) -> PathEvidence {
    let servers = per_server(policy, snap, bad_path, good_paths, is_bad);
    if servers.is_empty() {
        return PathEvidence::None;
    }
    let share = |(b, t): (u64, u64)| b as f64 / t as f64;
    // No server is reached worse from the good paths than from the failing one.
    let everywhere = servers
        .iter()
        .all(|(on_bad, on_good)| share(*on_bad) >= share(*on_good));
    let (bad_sum, good_sum) = servers
        .iter()
        .fold(((0, 0), (0, 0)), |(a, g), (on_bad, on_good)| {
            (
                (a.0 + on_bad.0, a.1 + on_bad.1),
                (g.0 + on_good.0, g.1 + on_good.1),
            )
        });
    let (bad_low, _) = binomial_bounds(bad_sum.0, bad_sum.1, CONFIDENCE);
    let (_, good_high) = binomial_bounds(good_sum.0, good_sum.1, CONFIDENCE);
    if everywhere && bad_low > good_high {
        PathEvidence::Separates
    } else {
        PathEvidence::DoesNot
    }
}

/// A violation seen from some locations only, or one family only, is a network-path fault,
/// when the evidence separates by path. `server_or_load` says whether the group is saturated
/// or a server fault is diagnosed: without per-instance probes to separate the paths, either
/// explains an uneven violation as well as a path does, so no path is claimed.
pub fn network_path(
    policy: &Policy,
    snap: &Snapshot,
    v: &Verdict,
    server_or_load: bool,
) -> Option<Diagnosis> {
    let objective = policy.spec.objectives.iter().find(|o| o.name == v.objective)?;
    let (quorum, threshold) = match objective.indicator()? {
        Indicator::Latency(l) => (l.quorum, Some(l.threshold.secs())),
        Indicator::Availability(a) => (a.quorum, None),
    };
    let bad: Vec<_> = v
        .per_series
        .iter()
        .filter(|s| s.state == SloState::Violated)
        .collect();
    let good: Vec<_> = v.per_series.iter().filter(|s| s.state == SloState::Met).collect();
    if bad.is_empty() || good.is_empty() {
        return None;
    }
    // For latency, a server-side slowdown adds the same queueing delay everywhere, and a
    // location with a longer round trip merely crosses the threshold first. A path fault adds
    // delay where it is: the excess over each path's own floor must differ, not just the total.
    if let Some(l) = &objective.latency {
        let excess = |loc: &str, fam: IpFamily, estimate: f64| {
            let s = snap
                .service
                .iter()
                .find(|s| *s.key.probe == *l.probe && &*s.key.location == loc && s.key.family == fam)?;
            let mut ok: Vec<f64> = s.recent.iter().filter(|x| x.ok).map(|x| x.latency).collect();
            let floor = floor_of(&mut ok)?;
            Some(if estimate.is_finite() {
                (estimate - floor).max(0.0)
            } else {
                f64::INFINITY
            })
        };
        let mut good_excess: Vec<f64> = good
            .iter()
            .filter_map(|s| excess(&s.location, s.family, s.estimate))
            .collect();
        good_excess.sort_by(f64::total_cmp);
        let typical = good_excess.get(good_excess.len() / 2).copied().unwrap_or(0.0);
        let asymmetric = bad
            .iter()
            .all(|s| excess(&s.location, s.family, s.estimate).is_none_or(|e| e > 2.0 * typical + 0.05));
        if !asymmetric {
            return None;
        }
    }
    // Per server, a sample is bad when it failed, or (latency objectives) came in over the
    // threshold.
    let is_bad = |x: &crate::snapshot::Sample| !x.ok || threshold.is_some_and(|t| x.latency > t);
    let good_paths: Vec<(&str, IpFamily)> = good.iter().map(|s| (s.location.as_str(), s.family)).collect();
    let evidence: Vec<PathEvidence> = bad
        .iter()
        .map(|s| {
            separates(
                policy,
                snap,
                (s.location.as_str(), s.family),
                &good_paths,
                &is_bad,
            )
        })
        .collect();
    let separated = if evidence.contains(&PathEvidence::DoesNot) {
        false
    } else if evidence.iter().all(|e| *e == PathEvidence::Separates) {
        true
    } else {
        // Some failing path has no per-instance evidence: only the service view is left.
        !server_or_load
    };
    if !separated {
        return None;
    }
    let mut locations: Vec<String> = bad.iter().map(|s| s.location.clone()).collect();
    locations.sort();
    locations.dedup();
    let mut families: Vec<IpFamily> = bad.iter().map(|s| s.family).collect();
    families.sort();
    families.dedup();
    let one_family_only = families.len() == 1
        && v.per_series
            .iter()
            .any(|s| s.family != families[0] && s.state == SloState::Met);
    if (locations.len() as u32) < quorum || one_family_only {
        Some(Diagnosis::NetworkPath {
            detail: format!(
                "objective `{}` fails from {} over {:?} on every server probed, while other vantage points reach the same servers",
                v.objective,
                locations.join(", "),
                families
            ),
            locations,
            families,
        })
    } else {
        None
    }
}
