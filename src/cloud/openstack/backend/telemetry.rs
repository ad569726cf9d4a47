//! What `OpenStackCloud` reads besides the inventory: Ceilometer metrics (from Gnocchi or
//! Prometheus) for the group's servers and their hosts, and the load balancer's statistics (the
//! request rate, through the same derivation as the simulator's).

use super::{
    super::{gnocchi, octavia, prometheus},
    OpenStackCloud,
};
use crate::{
    observe::{Listing, TelemetrySource, load::source_of},
    policy::TelemetrySource as Backend,
    snapshot::{LoadSignal, LoadSource, TelemetryReadings, Time},
};
use std::collections::{BTreeMap, BTreeSet};

impl TelemetrySource for OpenStackCloud {
    async fn readings(&mut self, listing: &Listing, now: Time) -> TelemetryReadings {
        let mut out = TelemetryReadings::default();
        let Some(t) = self.policy.spec.telemetry.clone() else {
            return out;
        };
        let servers = &listing.instances;
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
            .map(|s| {
                let n = listing.vcpus.get(&s.id).copied();
                (s.id.clone(), n.unwrap_or(template_vcpus))
            })
            .collect();
        let staleness = t.max_staleness.secs();
        let read = match (t.source, &t.prometheus_url) {
            (Backend::Gnocchi, _) => {
                gnocchi::read(&mut self.api, &t.metrics, &ids, &hosts, &vcpus, now, staleness)
                    .await
                    .map_err(|e| e.to_string())
            }
            (Backend::Prometheus, Some(url)) => {
                let timeout = self.opts.api.request_timeout;
                prometheus::read(url, timeout, &t.metrics, &ids, &hosts, &vcpus, now, staleness).await
            }
            (Backend::Prometheus, None) => Err("telemetry source prometheus without prometheusUrl".into()),
        };
        match read {
            Ok(readings) => out = readings,
            Err(e) => out.source_error = Some(e),
        }
        out
    }
}

impl OpenStackCloud {
    /// The request rate from the policy's load source. An unreadable source leaves the last
    /// rate in place until it is too old (the derivation's freshness rule).
    pub(super) async fn read_load(&mut self, now: Time) -> Option<LoadSignal> {
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
}
