//! One server's throughput from the load it sheds, for groups without utilisation telemetry.
//! Pure.
//!
//! Without CPU readings there is no utilisation to learn a server's service rate from, and
//! without that rate the request count cannot size the group (the README's `minimal.yaml` reads
//! no telemetry). Overload gives the rate away: when every server sheds load together (the
//! balancer counts errors, and the direct probes of most servers fail now and then, none of them
//! alone), the requests the group still serves are what its servers can serve. That rate per
//! serving server is an observation of one server's service rate, smoothed by the history like
//! the utilisation-based one.

use super::peers;
use crate::{
    judge::health::{Health, InstanceHealth, healing_probe},
    policy::Policy,
    snapshot::{Instance, Snapshot},
};

/// Share of the requests the balancer counts as errors from which the group is shedding load.
const SHEDDING: f64 = 0.02;

/// The requests/s one serving server handles while the whole group sheds load; `None` when the
/// group is not shedding, or when one server failing alone explains the errors (a broken member
/// gets its share and fails it, which says nothing of the others' rate).
pub fn rate_at_shedding(
    policy: &Policy,
    snap: &Snapshot,
    health: &[InstanceHealth],
    serving: &[&Instance],
) -> Option<f64> {
    let load = snap.load?;
    let errors = load.errors?;
    if serving.is_empty() || load.requests <= 0.0 || errors < SHEDDING * load.requests {
        return None;
    }
    let probe = healing_probe(policy)?;
    let judged = |id: &str| {
        health
            .iter()
            .any(|p| p.id == id && !matches!(p.health, Health::Starting | Health::Unknown))
    };
    let mut failing = 0usize;
    for inst in serving {
        if peers::contrast(policy, snap, &inst.id, &judged).fails_alone() == Some(true) {
            return None;
        }
        let failed_some = snap
            .instances_probed
            .iter()
            .filter(|s| s.instance == inst.id && *s.key.probe == *probe)
            .any(|s| s.recent.iter().any(|x| !x.ok));
        failing += usize::from(failed_some);
    }
    // Most servers shed, not one or two unlucky ones.
    if failing * 2 < serving.len() {
        return None;
    }
    Some((load.requests - errors).max(0.0) / serving.len() as f64).filter(|mu| *mu > 0.0)
}
