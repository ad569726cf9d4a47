//! The probe part of a snapshot: what the [`ProbeStore`] holds (local and agent samples alike)
//! summarised over the windows a policy's objectives read, with every probe location's
//! freshness. Pure: the caller passes `now` and the freshness.
//!
//! ```text
//! ProbeStore ─┐
//! freshness ──┴► probe_view(policy, store, freshness, now) ─► ProbeView ─► Snapshot
//! ```
//!
//! A stale location is listed with `fresh: false` and its series are left out, so nothing
//! downstream can mistake an agent that went silent for a service that went down.

use super::store::ProbeStore;
use crate::{
    policy::{Indicator, Policy},
    snapshot::{InstanceSeries, LocationStatus, ServiceSeries, Snapshot, Time},
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

/// The snapshot's probe series for `policy` from `store`, at `now`. `freshness` gives the
/// status of a location (`local` is always fresh; see `ingest::IngestState::location`);
/// locations it reports stale are listed but their series are left out.
pub fn probe_view(
    policy: &Policy,
    store: &ProbeStore,
    freshness: impl Fn(&str) -> LocationStatus,
    now: Time,
) -> ProbeView {
    let locations: Vec<LocationStatus> = policy_locations(policy).into_iter().map(freshness).collect();
    let fresh = |name: &str| locations.iter().any(|l| l.name == name && l.fresh);
    let (latency, counts) = windows(policy);
    let (mut service, mut instances_probed) = store.summaries(now, &latency, &counts);
    service.retain(|s| fresh(&s.key.location));
    instances_probed.retain(|s| fresh(&s.key.location));
    ProbeView {
        service,
        instances_probed,
        locations,
    }
}

/// Freshness for a controller without agents: `local` is fresh, every other location stale.
pub fn local_only(location: &str) -> LocationStatus {
    LocationStatus {
        name: location.to_owned(),
        fresh: location == super::probe::schedule::LOCAL,
        last_seen: None,
    }
}
