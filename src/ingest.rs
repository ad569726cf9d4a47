//! The controller side of remote probe agents: hands out assignments, accepts result batches,
//! tracks each agent's freshness and clock offset, and stores the samples in the same
//! [`ProbeStore`]s as the local probes. IO (HTTP via axum); the rules live in the submodules.
//!
//! ```text
//! daemon ── publish(policy, instances, store) ──► IngestState ◄── router(): axum endpoints
//!   agent ── GET  assignments ─► jobs_for_location(policy, instances, agent)
//!   agent ── POST results ─► auth (401) ─► rate (429) ─► size (413) ─► parse (400)
//!            ─► re-time by receipt − sent_at ─► ProbeStore + ProbeMetrics ─► freshness
//! daemon ── probe_view(policy, now) ─► snapshot parts (the collector's freshness rule)
//! ```

pub mod batch;
pub mod budget;
pub mod freshness;
pub mod refusals;
mod routes;
pub mod tokens;
pub mod wire;

pub use freshness::{AgentStatus, Freshness, RateLimit};
pub use routes::{router, status_router};
pub use tokens::{Token, TokenBook};

use crate::{
    clock::Clock,
    observe::{
        collect::Collector,
        metrics::ProbeMetrics,
        probe::{Address, schedule::jobs_for_location},
        sources::ProbeSource,
        store::{BuildFnv, ProbeStore, SeriesId},
        view::ProbeView,
    },
    policy::Policy,
    snapshot::{Instance, LocationStatus, Time},
};
use std::{
    collections::{BTreeMap, HashMap},
    hash::{BuildHasher, Hasher},
    sync::{Arc, Mutex, RwLock},
};
use wire::{AssignedJob, Assignments};

/// Limits of the ingest endpoints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IngestLimits {
    /// Largest request body accepted (413 above).
    pub max_body: usize,
    /// Most samples in one batch (413 above).
    pub max_batch_samples: usize,
    /// Per-agent request budget (429 when spent).
    pub rate: RateLimit,
    /// Per-source budget of refused requests (429 before any check when spent).
    pub source: refusals::SourceLimit,
    /// An agent silent for longer is stale (seconds).
    pub stale_after: f64,
    /// How often agents should send a batch, their heartbeat (seconds).
    pub batch_interval: f64,
    /// Most samples stored per series per probe interval: a sample closer than
    /// `interval / samples_per_interval` to the series' previous one is refused (counted as
    /// rejected). A probe yields one result per interval, so more is a flood; storing it would
    /// crowd the series' window into its last seconds and grow every snapshot. 0 turns it off.
    pub samples_per_interval: f64,
    /// Over any `budget_intervals` probe intervals a series stores at most
    /// `budget_intervals + 1` samples: one per interval, with one to spare for a probe's
    /// jitter. The density limit above still lets a flood store two samples per interval,
    /// which doubled the agent samples every reconcile pass judges; with this, a flood stores
    /// at most 1/`budget_intervals` more than a working agent (5 % at 20). 0 turns it off.
    /// Per-instance series keep their last 12 samples only, so their budget is kept apart
    /// ([`budget::SeriesBudgets`]).
    pub budget_intervals: u32,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            max_body: 2 << 20,
            max_batch_samples: 20_000,
            rate: RateLimit {
                per_second: 5.0,
                burst: 20.0,
            },
            source: refusals::SourceLimit::default(),
            stale_after: 30.0,
            batch_interval: 5.0,
            samples_per_interval: 2.0,
            budget_intervals: 20,
        }
    }
}

/// A policy the daemon published for agents to probe.
struct Published {
    policy: Arc<Policy>,
    instances: Vec<Instance>,
    store: Arc<Mutex<ProbeStore>>,
    /// The sample budgets of its per-instance series (kept across publishes for the
    /// instances still in the inventory).
    budgets: Mutex<budget::SeriesBudgets>,
}

struct Inner {
    tokens: TokenBook,
    clock: Arc<dyn Clock>,
    limits: IngestLimits,
    metrics: Option<ProbeMetrics>,
    published: RwLock<BTreeMap<String, Published>>,
    versions: Mutex<HashMap<String, String>>,
    agents: Mutex<Freshness>,
    refusals: Mutex<refusals::Refusals>,
}

/// The ingest side's shared state; cheap to clone (the axum state).
#[derive(Clone)]
pub struct IngestState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for IngestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestState")
            .field("tokens", &self.inner.tokens)
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl IngestState {
    /// State for the agents in `tokens`; `clock` stamps receipts (re-timing, freshness).
    pub fn new(tokens: TokenBook, clock: Arc<dyn Clock>, limits: IngestLimits) -> Self {
        let agents = Freshness::new(tokens.agents(), limits.stale_after);
        Self {
            inner: Arc::new(Inner {
                tokens,
                clock,
                limits,
                metrics: None,
                published: RwLock::default(),
                versions: Mutex::default(),
                agents: Mutex::new(agents),
                refusals: Mutex::new(refusals::Refusals::new(limits.source)),
            }),
        }
    }

    /// Also records every ingested sample into `metrics` (call before cloning the state).
    pub fn with_metrics(mut self, metrics: ProbeMetrics) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.metrics = Some(metrics);
        }
        self
    }

    /// Makes `policy`'s remote probes available to agents (against `instances` for
    /// per-instance probes); their samples go into `store`. Publish again when the policy or
    /// the inventory changes; agents pick the change up with their next batch.
    pub fn publish(&self, policy: &Policy, instances: &[Instance], store: Arc<Mutex<ProbeStore>>) {
        let mut published = self.inner.published.write().unwrap_or_else(|e| e.into_inner());
        let mut budgets = published
            .remove(&policy.metadata.name)
            .map(|old| old.budgets.into_inner().unwrap_or_else(|e| e.into_inner()))
            .unwrap_or_default();
        budgets.retain(instances);
        published.insert(
            policy.metadata.name.clone(),
            Published {
                policy: Arc::new(policy.clone()),
                instances: instances.to_vec(),
                store,
                budgets: Mutex::new(budgets),
            },
        );
        lock(&self.inner.versions).clear();
    }

    /// Stops assigning `policy` (samples still in flight for it are rejected).
    pub fn withdraw(&self, policy: &str) {
        let mut published = self.inner.published.write().unwrap_or_else(|e| e.into_inner());
        published.remove(policy);
        lock(&self.inner.versions).clear();
    }

    /// The limits in force.
    pub fn limits(&self) -> IngestLimits {
        self.inner.limits
    }

    /// The freshness of `location` now (`local` is always fresh).
    pub fn location(&self, location: &str) -> LocationStatus {
        let now = self.inner.clock.now();
        lock(&self.inner.agents).location(location, now)
    }

    /// Every agent's status now.
    pub fn agents(&self) -> Vec<AgentStatus> {
        let now = self.inner.clock.now();
        lock(&self.inner.agents).statuses(now)
    }

    /// When `agent`'s last batch arrived (controller clock), if it ever sent one.
    pub fn last_batch(&self, agent: &str) -> Option<Time> {
        lock(&self.inner.agents).last_batch(agent)
    }

    /// The snapshot's probe parts for a published policy at `now`, local and agent samples
    /// together under the collector's freshness rule (the controller's engine counts as
    /// running, agents speak with their batches, the floor is `stale_after`); `None` if
    /// `policy` was not published.
    pub fn probe_view(&self, policy: &str, now: Time) -> Option<ProbeView> {
        let published = self.inner.published.read().unwrap_or_else(|e| e.into_inner());
        let p = published.get(policy)?;
        let source = PublishedProbes {
            store: &lock(&p.store),
            agents: &lock(&self.inner.agents),
            stale_after: self.inner.limits.stale_after,
        };
        Some(Collector::new(&p.policy).probe_view(&[&source], now))
    }

    /// What `agent` must probe, across every published policy.
    pub fn assignments(&self, agent: &str) -> Assignments {
        let published = self.inner.published.read().unwrap_or_else(|e| e.into_inner());
        let mut jobs = Vec::new();
        for (name, p) in published.iter() {
            let Ok(built) = jobs_for_location(&p.policy, &p.instances, agent) else {
                // A probe the controller cannot compile is reported by the daemon's own jobs.
                continue;
            };
            for job in built {
                let (probe_name, instance) = match &job.series {
                    SeriesId::Service(k) => (k.probe.clone(), None),
                    SeriesId::Instance(i, k) => (k.probe.clone(), Some(i.clone())),
                };
                let Some(probe) = p.policy.spec.probes.iter().find(|x| *x.name == *probe_name) else {
                    continue;
                };
                jobs.push(AssignedJob {
                    policy: name.clone(),
                    probe: probe.clone(),
                    family: job.family,
                    instance,
                    address: match job.address {
                        Address::Fixed(ip) => Some(ip),
                        _ => None,
                    },
                });
            }
        }
        let mut h = BuildFnv.build_hasher();
        h.write(serde_json::to_string(&jobs).unwrap_or_default().as_bytes());
        Assignments {
            location: agent.to_owned(),
            version: format!("{:016x}", h.finish()),
            batch_interval_s: self.inner.limits.batch_interval,
            max_batch_samples: self.inner.limits.max_batch_samples,
            jobs,
        }
    }

    /// The current assignments version of `agent` (cached until the next publish).
    fn version(&self, agent: &str) -> String {
        if let Some(v) = lock(&self.inner.versions).get(agent) {
            return v.clone();
        }
        let v = self.assignments(agent).version;
        lock(&self.inner.versions).insert(agent.to_owned(), v.clone());
        v
    }
}

/// A published policy's store as the collector reads it, with the agents' batches as their
/// heartbeats.
struct PublishedProbes<'a> {
    store: &'a ProbeStore,
    agents: &'a Freshness,
    stale_after: f64,
}

impl ProbeSource for PublishedProbes<'_> {
    fn summaries(
        &self,
        latency_windows: &[f64],
        count_windows: &[f64],
        now: Time,
    ) -> (
        Vec<crate::snapshot::ServiceSeries>,
        Vec<crate::snapshot::InstanceSeries>,
    ) {
        self.store.summaries(now, latency_windows, count_windows)
    }

    fn heartbeat(&self, location: &str, now: Time) -> Option<Time> {
        self.agents.location(location, now).last_seen
    }

    fn evidence_since(&self, t: Time) -> bool {
        self.store.streak_reached_since(t)
    }

    fn stale_floor(&self) -> Option<f64> {
        Some(self.stale_after)
    }
}
