//! The probe part of a snapshot and what a policy asks of it: the windows its objectives read
//! and the locations its probes name. Pure. The freshness rule that decides which series
//! count lives with the collector (`super::collect`).

use crate::{
    policy::{Indicator, Policy},
    snapshot::{InstanceSeries, LocationStatus, ServiceSeries, Snapshot},
};
/// The probe series and location freshness of one policy at one instant.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProbeView {
    /// Service series of fresh locations.
    pub service: Vec<ServiceSeries>,
    /// Per-instance series of fresh locations.
    pub instances_probed: Vec<InstanceSeries>,
    /// Every location the policy's probes name, with its freshness.
    pub locations: Vec<LocationStatus>,
}

impl ProbeView {
    /// Puts the view into `snapshot` (replacing its probe parts).
    pub fn apply(self, snapshot: &mut Snapshot) {
        snapshot.service = self.service;
        snapshot.instances_probed = self.instances_probed;
        snapshot.locations = self.locations;
    }
}

/// The latency windows and count windows `policy`'s objectives read (latency: at least one,
/// 300 s by default; counts: sorted, deduplicated).
pub fn windows(policy: &Policy) -> (Vec<f64>, Vec<f64>) {
    let (mut latency, mut counts) = (Vec::new(), Vec::new());
    for o in &policy.spec.objectives {
        match o.indicator() {
            Some(Indicator::Latency(l)) => latency.push(l.window.secs()),
            Some(Indicator::Availability(a)) => {
                counts.push(a.period.secs());
                for row in &a.burn_rate_alerts {
                    counts.extend([row.long.secs(), row.short.secs()]);
                }
            }
            None => {}
        }
    }
    counts.sort_by(f64::total_cmp);
    counts.dedup();
    if latency.is_empty() {
        latency.push(300.0);
    }
    (latency, counts)
}

/// Every location named by `policy`'s probes, in first-mention order.
pub fn policy_locations(policy: &Policy) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for l in policy.spec.probes.iter().flat_map(|p| &p.locations) {
        if !out.contains(&l.as_str()) {
            out.push(l);
        }
    }
    out
}
