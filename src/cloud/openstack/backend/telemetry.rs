//! What `OpenStackCloud` reads besides the inventory: Ceilometer metrics (from Gnocchi or
//! Prometheus) for the group's servers and their hosts, and the load balancer's statistics (the
//! request rate, through the same derivation as the simulator's).

use super::{
    super::{gnocchi, octavia, prometheus, readings},
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
        let mut out = self.ceilometer_readings(listing, now).await;
        self.prometheus_utilization(listing, now, &mut out).await;
        out
    }
}

impl OpenStackCloud {
    /// The policy's Ceilometer metrics, from Gnocchi or Prometheus.
    async fn ceilometer_readings(&mut self, listing: &Listing, now: Time) -> TelemetryReadings {
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

    /// The Prometheus URL of the policy's load expressions: their own, else the telemetry's.
    fn load_prometheus_url(&self) -> Option<String> {
        let spec = self.policy.spec.scaling.load.prometheus.as_ref()?;
        spec.url
            .clone()
            .or_else(|| self.policy.spec.telemetry.as_ref()?.prometheus_url.clone())
    }

    /// Fills the `cpu` utilisation of servers the Ceilometer metrics left without one from the
    /// policy's `scaling.load.prometheus.utilization` expression, when it has one. A failed
    /// query leaves them missing (logged), never zero.
    async fn prometheus_utilization(&mut self, listing: &Listing, now: Time, out: &mut TelemetryReadings) {
        let Some(spec) = self.policy.spec.scaling.load.prometheus.clone() else {
            return;
        };
        let (Some(expr), Some(url)) = (spec.utilization.as_deref(), self.load_prometheus_url()) else {
            return;
        };
        let timeout = self.opts.api.request_timeout;
        let got = match prometheus::instant(&url, timeout, expr, now).await {
            Ok(body) => prometheus::parse_by(&body, &spec.instance_label),
            Err(e) => Err(e),
        };
        let got = match got {
            Ok(got) => got,
            Err(e) => {
                tracing::warn!(error = %e, "Prometheus utilisation expression unreadable.");
                return;
            }
        };
        let ids: Vec<String> = listing
            .instances
            .iter()
            .filter(|i| {
                out.instances
                    .get(&i.id)
                    .and_then(|m| m.get("cpu"))
                    .is_none_or(|r| r.value.is_none())
            })
            .map(|i| i.id.clone())
            .collect();
        let max_age = self.policy.spec.scaling.load.max_age.secs();
        readings::fill(&mut out.instances, "cpu", &ids, &got, now, max_age, |_, v| v);
    }
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
            LoadSource::Prometheus => {
                let spec = self.policy.spec.scaling.load.prometheus.clone()?;
                let Some(url) = self.load_prometheus_url() else {
                    tracing::warn!(
                        "Load source prometheus without a URL (scaling.load.prometheus.url or telemetry.prometheusUrl)."
                    );
                    return self.load.prometheus(None, None, now);
                };
                let timeout = self.opts.api.request_timeout;
                let requests = prometheus::instant_sum(&url, timeout, &spec.requests, now)
                    .await
                    .inspect_err(|e| {
                        tracing::warn!(error = %e, "Prometheus request-rate expression unreadable.");
                    });
                let errors = match &spec.errors {
                    Some(expr) => prometheus::instant_sum(&url, timeout, expr, now)
                        .await
                        .ok()
                        .flatten(),
                    None => None,
                };
                self.load.prometheus(requests.ok().flatten(), errors, now)
            }
            LoadSource::Unrecorded => None,
        }
    }
}
