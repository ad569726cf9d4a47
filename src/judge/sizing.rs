//! Sizing the group where no request rate exists (no load source, or no per-server rate
//! learned yet): from CPU utilisation, as Kubernetes' HPA does, and from the per-instance probes'
//! latency, which rises on every server together when the group is short of capacity (a fault
//! makes one server slow, its peers stay fast). Pure.

use super::diagnose::UTILIZATION_TOLERANCE;
use crate::{
    policy::{Indicator, Policy},
    snapshot::{Instance, Snapshot},
};

/// HPA's ratio: `ceil(serving × utilisation / target)`, the current size while utilisation is
/// within the tolerance band around the target.
pub fn by_utilization(serving: u32, utilization: f64, target: f64) -> u32 {
    let target = target.max(0.01);
    if (utilization / target - 1.0).abs() <= UTILIZATION_TOLERANCE {
        serving
    } else {
        (f64::from(serving) * utilization / target).ceil() as u32
    }
}

/// The size the latency objective asks for when the per-instance probes show every serving
/// server over the objective's threshold together: the current size times how far the least
/// slow of them is over it (at least one more, at most twice as many per decision; the next
/// pass measures again). `None` when the policy has no latency objective or per-instance probe,
/// fewer than half the servers have fresh successful samples, or any of them is fast.
pub fn by_latency(policy: &Policy, snap: &Snapshot, serving: &[&Instance]) -> Option<u32> {
    let name = policy.spec.scaling.latency_objective.as_ref()?;
    let objective = policy.spec.objectives.iter().find(|o| &o.name == name)?;
    let Some(Indicator::Latency(l)) = objective.indicator() else {
        return None;
    };
    let probe = super::health::healing_probe(policy)?;
    let threshold = l.threshold.secs();
    if serving.is_empty() || threshold <= 0.0 {
        return None;
    }
    let fresh = |loc: &str| {
        snap.locations
            .iter()
            .find(|l| l.name == loc)
            .is_none_or(|l| l.fresh)
    };
    let mut least_slow = f64::INFINITY;
    let mut seen = 0usize;
    for inst in serving {
        let mut ok: Vec<f64> = snap
            .instances_probed
            .iter()
            .filter(|s| s.instance == inst.id && &*s.key.probe == probe && fresh(&s.key.location))
            .flat_map(|s| s.recent.iter().filter(|x| x.ok).map(|x| x.latency))
            .collect();
        if ok.is_empty() {
            continue;
        }
        let mid = ok.len() / 2;
        let median = *ok.select_nth_unstable_by(mid, f64::total_cmp).1;
        if median <= threshold {
            return None;
        }
        least_slow = least_slow.min(median);
        seen += 1;
    }
    if seen * 2 < serving.len() || seen == 0 {
        return None;
    }
    let n = serving.len() as u32;
    let wanted = (f64::from(n) * least_slow / threshold).ceil() as u32;
    Some(wanted.clamp(n + 1, 2 * n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_utilization_ratio_is_hpas_with_its_tolerance_band() {
        assert_eq!(by_utilization(4, 0.9, 0.6), 6);
        assert_eq!(
            by_utilization(4, 0.63, 0.6),
            4,
            "within 10 % of the target: no change"
        );
        assert_eq!(by_utilization(10, 0.15, 0.6), 3);
    }
}
