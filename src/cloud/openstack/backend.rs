//! `OpenStackCloud`: one policy's view of one real cloud, behind the same [`Observe`],
//! [`Compute`] and [`Traffic`] traits as the simulator. Every action waits for the cloud to
//! finish it (with a per-action timeout) so the executor reports real outcomes.

use super::{
    config::CloudConfig,
    errors::{ApiError, ErrorClass},
    gnocchi, inventory, nova,
    octavia::{self, MemberView, PoolRef},
    prometheus,
    resolve::{self, Resolved},
    session::{Api, ApiOptions},
};
use crate::{
    act::{ActError, Compute, ServerRequest, Traffic},
    clock::Clock,
    observe::{Observe, ObserveError, store::ProbeStore},
    policy::{Policy, TelemetrySource},
    snapshot::{LocationStatus, Snapshot, TelemetryReadings, Time},
};
use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

/// The probe engine's store, shared with the backend that summarises it into snapshots.
pub type SharedProbeStore = Arc<Mutex<ProbeStore>>;

/// How long each kind of action may take before it is reported as failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActionTimeouts {
    /// Server create until ACTIVE.
    pub create: Duration,
    /// Delete until gone.
    pub delete: Duration,
    /// Reboot until ACTIVE.
    pub reboot: Duration,
    /// Rebuild until ACTIVE.
    pub rebuild: Duration,
    /// Live migration until ACTIVE on another host.
    pub migrate: Duration,
    /// Member change until ACTIVE.
    pub member: Duration,
}

impl Default for ActionTimeouts {
    fn default() -> Self {
        let s = Duration::from_secs;
        Self {
            create: s(600),
            delete: s(300),
            reboot: s(300),
            rebuild: s(600),
            migrate: s(900),
            member: s(300),
        }
    }
}

/// Backend settings.
#[derive(Debug, Clone)]
pub struct CloudOptions {
    /// API client settings.
    pub api: ApiOptions,
    /// Page size for listings.
    pub page_size: usize,
    /// Polling interval while waiting for an action.
    pub poll: Duration,
    /// Per-action timeouts.
    pub timeouts: ActionTimeouts,
    /// Time a drained member keeps weight 0 before it is removed (open connections finish).
    pub drain_grace: Duration,
    /// Directory of the policy file (user data paths are relative to it).
    pub policy_dir: PathBuf,
}

impl Default for CloudOptions {
    fn default() -> Self {
        Self {
            api: ApiOptions::default(),
            page_size: 100,
            poll: Duration::from_secs(1),
            timeouts: ActionTimeouts::default(),
            drain_grace: Duration::from_secs(10),
            policy_dir: PathBuf::from("."),
        }
    }
}

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

    async fn telemetry(&mut self, servers: &[nova::ServerView], now: Time) -> TelemetryReadings {
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

    fn probe_series(&self, now: Time) -> (Snapshot, Vec<LocationStatus>) {
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

    async fn wait_settled(
        &mut self,
        id: &str,
        what: &str,
        timeout: Duration,
    ) -> Result<nova::ServerView, ApiError> {
        let poll = self.opts.poll;
        let s = nova::wait_for(&mut self.api, id, what, timeout, poll, |s| {
            s.is_none_or(|s| s.is_idle() && s.status == "ACTIVE")
        })
        .await?;
        s.ok_or_else(|| {
            ApiError::local(
                ErrorClass::NotFound,
                "compute",
                what,
                format!("server {id} vanished"),
            )
        })
    }

    /// Live-migrates `id` to `host`, or to a host the scheduler picks when `None`, and waits;
    /// an error when the server ends up where it was.
    pub async fn live_migrate_to(&mut self, id: &str, host: Option<&str>) -> Result<(), ApiError> {
        let before = nova::get_server(&mut self.api, id).await?.ok_or_else(|| {
            ApiError::local(
                ErrorClass::NotFound,
                "compute",
                "GET servers",
                format!("server {id} is gone"),
            )
        })?;
        nova::action(&mut self.api, id, nova::live_migrate_body(host)).await?;
        let after = self
            .wait_settled(id, "os-migrateLive", self.opts.timeouts.migrate)
            .await?;
        match (&before.host, &after.host) {
            (Some(a), Some(b)) if a == b => Err(ApiError::local(
                ErrorClass::Conflict,
                "compute",
                "os-migrateLive",
                format!(
                    "server {id} is still on {a} after the migration (no other host fits, or it failed: see os-migrations)"
                ),
            )),
            _ => Ok(()),
        }
    }
}

mod traffic;

// === impl Observe, Compute, Traffic ===

impl Observe for OpenStackCloud {
    async fn observe(&mut self, now: Time) -> Result<Snapshot, ObserveError> {
        let (servers, members) = self
            .list()
            .await
            .map_err(|e| ObserveError::Inventory(format!("cloud `{}`: {e}", self.api.cloud_name())))?;
        let port = self.policy.spec.traffic.as_ref().map(|t| t.member_port);
        let inventory = servers
            .iter()
            .map(|s| inventory::instance_of(s, &members, port))
            .collect();
        let in_flight = servers.iter().filter_map(inventory::in_flight_of).collect();
        let telemetry = self.telemetry(&servers, now).await;
        let (probes, locations) = self.probe_series(now);
        Ok(Snapshot {
            observed_at: now,
            service: probes.service,
            instances_probed: probes.instances_probed,
            locations,
            telemetry,
            inventory,
            in_flight,
            offered_load: None,
        })
    }
}

impl Compute for OpenStackCloud {
    async fn create_server(&mut self, req: &ServerRequest) -> Result<String, ActError> {
        let r = self.resolved().await.map_err(act)?;
        let t = &req.template;
        let body = nova::CreateServer {
            name: &req.name,
            image: &r.image,
            flavor: &r.flavor,
            networks: &r.networks,
            availability_zone: req.availability_zone.as_deref(),
            security_groups: &t.security_groups,
            key_name: t.key_pair.as_deref(),
            user_data: r.user_data.as_deref(),
            server_group: r.server_group.as_deref(),
            metadata: &req.metadata,
        };
        let id = nova::create_server(&mut self.api, &body).await.map_err(act)?;
        tracing::info!(server = %id, name = %req.name, "Server requested; waiting for ACTIVE.");
        self.wait_settled(&id, "POST servers", self.opts.timeouts.create)
            .await
            .map_err(act)?;
        Ok(id)
    }

    async fn delete_server(&mut self, id: &str) -> Result<(), ActError> {
        nova::delete_server(&mut self.api, id).await.map_err(act)?;
        let (timeout, poll) = (self.opts.timeouts.delete, self.opts.poll);
        nova::wait_for(&mut self.api, id, "DELETE servers", timeout, poll, |s| {
            s.is_none()
        })
        .await
        .map(drop)
        .map_err(act)
    }

    async fn reboot_server(&mut self, id: &str, hard: bool) -> Result<(), ActError> {
        let kind = if hard { "HARD" } else { "SOFT" };
        let body = serde_json::json!({ "reboot": { "type": kind } });
        nova::action(&mut self.api, id, body).await.map_err(act)?;
        self.wait_settled(id, "reboot", self.opts.timeouts.reboot)
            .await
            .map(drop)
            .map_err(act)
    }

    async fn rebuild_server(&mut self, id: &str, image: &str) -> Result<(), ActError> {
        let image = resolve::image(&mut self.api, image).await.map_err(act)?;
        let body = serde_json::json!({ "rebuild": { "imageRef": image } });
        nova::action(&mut self.api, id, body).await.map_err(act)?;
        self.wait_settled(id, "rebuild", self.opts.timeouts.rebuild)
            .await
            .map(drop)
            .map_err(act)
    }

    async fn live_migrate(&mut self, id: &str) -> Result<(), ActError> {
        self.live_migrate_to(id, None).await.map_err(act)
    }
}

impl Traffic for OpenStackCloud {
    async fn set_member_weight(&mut self, id: &str, weight: u16) -> Result<(), ActError> {
        self.ensure_member(id, weight).await.map_err(act)
    }

    async fn remove_member(&mut self, id: &str) -> Result<(), ActError> {
        self.drain_and_remove(id).await.map_err(act)
    }
}
