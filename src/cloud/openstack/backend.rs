//! `OpenStackCloud`: one policy's view of one real cloud, behind the same capability traits
//! as the simulator: [`Inventory`] (Nova servers, Octavia members, hypervisors),
//! [`TelemetrySource`] (`backend/telemetry.rs`), [`LoadSource`], [`Compute`] and [`Traffic`].
//! It runs no probes: those belong to the run loop (`observe::Probes`). Actions are issued,
//! never waited for: like the simulator's, their progress shows in later observations (BUILD
//! and task states as work in flight, then ACTIVE or ERROR), so a pass takes as long as its
//! API calls.

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
    observe::{
        Collector, Inventory, Listing, LoadSource, NoProbes, ObserveError, ProbeSource, load::LoadDerivation,
    },
    policy::Policy,
    snapshot::{Hosts, InstanceId, LoadSignal, OrphanMember, Snapshot, Time},
};
use std::{collections::BTreeMap, future::Future, sync::Arc};

/// How long a refused hypervisor listing is remembered before it is asked again (roles can be
/// granted later; asking every tick would only add a refused call per tick).
const HOSTS_RECHECK_AFTER: f64 = 600.0;

/// One policy's real cloud.
#[derive(Debug)]
pub struct OpenStackCloud {
    api: Api,
    policy: Policy,
    opts: CloudOptions,
    resolved: Option<Resolved>,
    pool: Option<PoolRef>,
    hosts_refused_at: Option<Time>,
    load: LoadDerivation,
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
            load: LoadDerivation::new(&policy),
            policy,
            opts,
            resolved: None,
            pool: None,
            hosts_refused_at: None,
            drained_at: BTreeMap::new(),
            retiring: BTreeMap::new(),
        })
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
        let (mine, members, _) = self.list_with_orphans().await?;
        Ok((mine, members))
    }

    /// The group's servers, the pool's members, and the members whose server is gone (checked
    /// against every server the project has, not only the group's).
    async fn list_with_orphans(
        &mut self,
    ) -> Result<(Vec<nova::ServerView>, Vec<MemberView>, Vec<OrphanMember>), ApiError> {
        let all = nova::list_servers(&mut self.api, self.opts.page_size).await?;
        let members = match self.pool_ref().await? {
            Some(p) => octavia::list_members(&mut self.api, &p, self.opts.page_size).await?,
            None => Vec::new(),
        };
        let port = self.policy.spec.traffic.as_ref().map_or(80, |t| t.member_port);
        let orphans = inventory::orphans(&all, &members, port);
        let selector = &self.policy.spec.group.selector;
        let mine: Vec<_> = all
            .into_iter()
            .filter(|s| inventory::selects(selector, s))
            .collect();
        Ok((mine, members, orphans))
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

    /// One observation through the observe stage without any probes (a one-off pass such as
    /// `sloop plan`; the run loop adds its own probes).
    pub async fn observe(&mut self, now: Time) -> Result<Snapshot, ObserveError> {
        Collector::new(&self.policy).collect(self, &NoProbes, now).await
    }
}

// === impl Inventory, LoadSource, ProbeSource ===

impl Inventory for OpenStackCloud {
    async fn list(&mut self, now: Time) -> Result<Listing, ObserveError> {
        let (servers, members, orphan_members) = self
            .list_with_orphans()
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
        Ok(Listing {
            at: now,
            instances: servers
                .iter()
                .map(|s| inventory::instance_of(s, &members, port))
                .collect(),
            in_flight: servers.iter().filter_map(inventory::in_flight_of).collect(),
            vcpus: servers
                .iter()
                .filter_map(|s| Some((s.id.clone(), s.flavor.vcpus?)))
                .collect(),
            orphan_members,
        })
    }

    fn hosts(&mut self, now: Time) -> impl Future<Output = Hosts> + Send {
        OpenStackCloud::hosts(self, now)
    }
}

/// The request rate from the policy's load source (Octavia's statistics), as a rate with its
/// source and age.
impl LoadSource for OpenStackCloud {
    async fn load(&mut self, now: Time) -> Option<LoadSignal> {
        self.read_load(now).await
    }
}

/// A real cloud runs no probes of its own: the run loop's `observe::Probes` do.
impl ProbeSource for OpenStackCloud {}
