//! What `OpenStackCloud` reads besides the inventory: Ceilometer metrics (from Gnocchi or
//! Prometheus) for the group's servers and their hosts, the load balancer's statistics (the
//! request rate, through the same derivation as the simulator's), and the probe engine's series.

use super::{
    super::{gnocchi, nova, octavia, prometheus},
    OpenStackCloud,
};
use crate::{
    observe::load::source_of,
    policy::TelemetrySource,
    snapshot::{LoadSignal, LoadSource, LocationStatus, Snapshot, TelemetryReadings, Time},
};
use std::collections::{BTreeMap, BTreeSet};

impl OpenStackCloud {
    pub(super) async fn telemetry(&mut self, servers: &[nova::ServerView], now: Time) -> TelemetryReadings {
        let mut out = TelemetryReadings::default();
        let Some(t) = self.policy.spec.telemetry.clone() else {
            return out;
        };
        let ids: Vec<String> = servers.iter().map(|s| s.id.clone()).collect();
        let hosts: Vec<String> = servers
            .iter()
            .filter_map(|s| s.host.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let template_vcpus = self.policy.spec.group.template.vcpus.unwrap_or(1);
        let vcpus: BTreeMap<String, u32> = servers
            .iter()
            .map(|s| (s.id.clone(), s.flavor.vcpus.unwrap_or(template_vcpus)))
            .collect();
        let staleness = t.max_staleness.secs();
        let read = match (t.source, &t.prometheus_url) {
            (TelemetrySource::Gnocchi, _) => {
                gnocchi::read(&mut self.api, &t.metrics, &ids, &hosts, &vcpus, now, staleness)
                    .await
                    .map_err(|e| e.to_string())
            }
            (TelemetrySource::Prometheus, Some(url)) => {
                let timeout = self.opts.api.request_timeout;
                prometheus::read(url, timeout, &t.metrics, &ids, &hosts, &vcpus, now, staleness).await
            }
            (TelemetrySource::Prometheus, None) => {
                Err("telemetry source prometheus without prometheusUrl".into())
            }
        };
        match read {
            Ok(readings) => out = readings,
            Err(e) => out.source_error = Some(e),
        }
        out
    }

    /// The request rate from the policy's load source. An unreadable source leaves the last
    /// rate in place until it is too old (the derivation's freshness rule).
    pub(super) async fn load(&mut self, now: Time) -> Option<LoadSignal> {
        match source_of(&self.policy)? {
            LoadSource::Octavia => {
                let stats = match self.pool_ref().await {
                    Ok(Some(pool)) => octavia::load_balancer_stats(&mut self.api, &pool).await,
                    Ok(None) => return None,
                    Err(e) => Err(e),
                };
                let stats = stats
                    .inspect_err(|e| {
                        tracing::warn!(cloud = self.api.cloud_name(), error = %e, "Load-balancer statistics unreadable.");
                    })
                    .ok();
                self.load.octavia(stats, now)
            }
            LoadSource::Unrecorded => None,
        }
    }

    pub(super) fn probe_series(&self, now: Time) -> (Snapshot, Vec<LocationStatus>) {
        let mut snap = Snapshot::default();
        let Some(store) = &self.probes else {
            return (snap, Vec::new());
        };
        let Ok(store) = store.lock() else {
            return (snap, Vec::new());
        };
        let (service, instances) = store.summaries(now, &self.windows.0, &self.windows.1);
        snap.service = service;
        snap.instances_probed = instances;
        let mut last: BTreeMap<String, Option<Time>> = BTreeMap::new();
        for p in &self.policy.spec.probes {
            for l in &p.locations {
                last.entry(l.clone()).or_default();
            }
        }
        let min_interval = self
            .policy
            .spec
            .probes
            .iter()
            .map(|p| p.interval.secs())
            .fold(f64::INFINITY, f64::min);
        for s in &snap.service {
            let seen = s.recent.last().map(|x| x.at);
            let e = last.entry(s.key.location.to_string()).or_default();
            *e = match (*e, seen) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        let fresh_after = (3.0 * min_interval).max(30.0);
        let locations = last
            .into_iter()
            .map(|(name, seen)| LocationStatus {
                fresh: seen.is_some_and(|t| now - t <= fresh_after),
                name,
                last_seen: seen,
            })
            .collect();
        (snap, locations)
    }
}
