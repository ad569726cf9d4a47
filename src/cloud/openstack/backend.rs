//! `OpenStackCloud`: one policy's view of one real cloud, behind the same [`Observe`],
//! [`Compute`] and [`Traffic`] traits as the simulator. Actions are issued, never waited for:
//! like the simulator's, their progress shows in later observations (BUILD and task states as
//! work in flight, then ACTIVE or ERROR), so a pass takes as long as its API calls.

mod compute;
mod options;
mod telemetry;
mod traffic;

pub use options::CloudOptions;

use super::{
    config::CloudConfig,
    errors::ApiError,
    hypervisors, inventory, nova,
    octavia::{self, MemberView, PoolRef},
    resolve::{self, Resolved},
    session::Api,
};
use crate::{
    act::ActError,
    clock::Clock,
    observe::{Observe, ObserveError, store::ProbeStore},
    policy::Policy,
    snapshot::{Hosts, InstanceId, Snapshot, Time},
};
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

/// How long a refused hypervisor listing is remembered before it is asked again (roles can be
/// granted later; asking every tick would only add a refused call per tick).
const HOSTS_RECHECK_AFTER: f64 = 600.0;

/// The probe engine's store, shared with the backend that summarises it into snapshots.
pub type SharedProbeStore = Arc<Mutex<ProbeStore>>;

/// One policy's real cloud.
#[derive(Debug)]
pub struct OpenStackCloud {
    api: Api,
    policy: Policy,
    opts: CloudOptions,
    resolved: Option<Resolved>,
    pool: Option<PoolRef>,
    probes: Option<SharedProbeStore>,
    windows: (Vec<f64>, Vec<f64>),
    hosts_refused_at: Option<Time>,
    /// When this process set each server's member to weight 0 (the drain grace counts from it).
    drained_at: BTreeMap<InstanceId, Time>,
    /// Servers waiting out their drain grace before the delete, with when it ends: those
    /// carrying `sloop.retire` in the last observation, plus the ones stamped since.
    retiring: BTreeMap<InstanceId, Time>,
}

fn act(e: ApiError) -> ActError {
    e.into()
}

impl OpenStackCloud {
    /// Authenticates against `config` for `policy`.
    pub async fn connect(
        config: CloudConfig,
        policy: Policy,
        opts: CloudOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ApiError> {
        let api = Api::connect(config, opts.api.clone(), clock).await?;
        Ok(Self {
            api,
            windows: crate::observe::view::windows(&policy),
            policy,
            opts,
            resolved: None,
            pool: None,
            probes: None,
            hosts_refused_at: None,
            drained_at: BTreeMap::new(),
            retiring: BTreeMap::new(),
        })
    }

    /// Reads probe series from the probe engine's store (without it, snapshots carry none).
    pub fn with_probes(mut self, store: SharedProbeStore) -> Self {
        self.probes = Some(store);
        self
    }

    /// Counts API calls, retries, re-authentications and breaker states into `metrics`.
    pub fn with_metrics(mut self, metrics: super::metrics::CloudMetrics) -> Self {
        self.api.set_metrics(metrics);
        self
    }

    /// The API client (stats, breaker states).
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// The API client, for calls outside the traits.
    pub fn api_mut(&mut self) -> &mut Api {
        &mut self.api
    }

    /// The policy this backend serves.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub(super) async fn pool_ref(&mut self) -> Result<Option<PoolRef>, ApiError> {
        let Some(t) = &self.policy.spec.traffic else {
            return Ok(None);
        };
        if self.pool.is_none() {
            let (lb, pool) = (t.load_balancer.clone(), t.pool.clone());
            self.pool = Some(octavia::resolve(&mut self.api, &lb, &pool).await?);
        }
        Ok(self.pool.clone())
    }

    async fn resolved(&mut self) -> Result<Resolved, ApiError> {
        if let Some(r) = &self.resolved {
            return Ok(r.clone());
        }
        let t = self.policy.spec.group.template.clone();
        let r = resolve::template(&mut self.api, &t, &self.opts.policy_dir).await?;
        self.resolved = Some(r.clone());
        Ok(r)
    }

    /// The group's servers and the pool's members.
    pub async fn list(&mut self) -> Result<(Vec<nova::ServerView>, Vec<MemberView>), ApiError> {
        let all = nova::list_servers(&mut self.api, self.opts.page_size).await?;
        let selector = &self.policy.spec.group.selector;
        let mine: Vec<_> = all
            .into_iter()
            .filter(|s| inventory::selects(selector, s))
            .collect();
        let members = match self.pool_ref().await? {
            Some(p) => octavia::list_members(&mut self.api, &p, self.opts.page_size).await?,
            None => Vec::new(),
        };
        Ok((mine, members))
    }

    /// The hypervisors where the credentials may list them. A refusal is remembered for
    /// [`HOSTS_RECHECK_AFTER`]; any other failure leaves the hosts unknown for this tick
    /// without failing the observation (the group's inventory does not depend on them).
    pub async fn hosts(&mut self, now: Time) -> Hosts {
        if self
            .hosts_refused_at
            .is_some_and(|at| now - at < HOSTS_RECHECK_AFTER)
        {
            return Hosts::NotPermitted;
        }
        match hypervisors::list(&mut self.api, self.opts.page_size).await {
            Ok(Hosts::NotPermitted) => {
                self.hosts_refused_at = Some(now);
                Hosts::NotPermitted
            }
            Ok(hosts) => {
                self.hosts_refused_at = None;
                hosts
            }
            Err(e) => {
                tracing::warn!(cloud = self.api.cloud_name(), error = %e, "Hypervisor listing failed.");
                Hosts::Unknown
            }
        }
    }
}

// === impl Observe ===

impl Observe for OpenStackCloud {
    async fn observe(&mut self, now: Time) -> Result<Snapshot, ObserveError> {
        let (servers, members) = self
            .list()
            .await
            .map_err(|e| ObserveError::Inventory(format!("cloud `{}`: {e}", self.api.cloud_name())))?;
        // Retiring servers as the cloud shows them (stamped), plus those Nova would not stamp.
        self.retiring.retain(|id, _| servers.iter().any(|s| &s.id == id));
        self.retiring.extend(
            servers
                .iter()
                .filter_map(|s| Some((s.id.clone(), crate::act::stamp::retire_due(&s.metadata)?))),
        );
        let port = self.policy.spec.traffic.as_ref().map(|t| t.member_port);
        let inventory = servers
            .iter()
            .map(|s| inventory::instance_of(s, &members, port))
            .collect();
        let in_flight = servers.iter().filter_map(inventory::in_flight_of).collect();
        let telemetry = self.telemetry(&servers, now).await;
        let (probes, locations) = self.probe_series(now);
        let hosts = self.hosts(now).await;
        Ok(Snapshot {
            observed_at: now,
            service: probes.service,
            instances_probed: probes.instances_probed,
            locations,
            telemetry,
            inventory,
            in_flight,
            offered_load: None,
            hosts,
        })
    }
}
