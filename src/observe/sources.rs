//! What the observe stage reads, one small trait per capability. A backend implements the
//! ones it has; [`super::collect::Collector`] is the only code that puts them together.
//!
//! ```text
//! Inventory ───────► servers, members, in-flight work, hosts ─┐
//! TelemetrySource ─► Ceilometer readings (Gnocchi, Prometheus) ├─► Collector::collect ─► Snapshot
//! LoadSource ──────► request rate                              │
//! ProbeSource ─────► probe series + when each location spoke ──┘ (the cloud's own, the run loop's)
//! ```
//!
//! The simulator implements all four. A real cloud implements the first three; its probes are
//! the run loop's [`super::probes::Probes`] (the local engine and the agents' ingest), which a
//! cloud never owns.

use super::ObserveError;
use crate::snapshot::{
    Hosts, InFlight, Instance, InstanceId, InstanceSeries, LoadSignal, ServiceSeries, TelemetryReadings, Time,
};
use std::{collections::BTreeMap, future::Future};

/// One listing of the group, as the inventory saw it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Listing {
    /// The instant the listing describes: `now` for a real cloud, the world's own time for a
    /// simulated one (which steps in whole increments). The snapshot is stamped with it.
    pub at: Time,
    /// The group's servers, with their pool membership.
    pub instances: Vec<Instance>,
    /// Work the cloud is still doing on them.
    pub in_flight: Vec<InFlight>,
    /// vCPUs per server where the cloud reports the flavor (telemetry divides CPU time by it).
    pub vcpus: BTreeMap<InstanceId, u32>,
    /// Pool members whose server is gone.
    pub orphan_members: Vec<crate::snapshot::OrphanMember>,
}

/// The group's servers, their members, the work in flight and the hypervisors.
pub trait Inventory {
    /// Lists the group at `now`. Without a listing nothing may be decided, so its failure
    /// fails the observation.
    fn list(&mut self, now: Time) -> impl Future<Output = Result<Listing, ObserveError>> + Send;

    /// The hypervisors, where the credentials may list them. Never fails the observation.
    fn hosts(&mut self, now: Time) -> impl Future<Output = Hosts> + Send;
}

/// Ceilometer-style readings for the listed servers and their hosts.
pub trait TelemetrySource {
    /// The readings at `now`; a source that cannot be read says so in `source_error`.
    fn readings(&mut self, listing: &Listing, now: Time) -> impl Future<Output = TelemetryReadings> + Send;
}

/// The load offered to the service.
pub trait LoadSource {
    /// Requests per second arriving at the load balancer, when a source reports it.
    fn load(&mut self, now: Time) -> impl Future<Output = Option<LoadSignal>> + Send;
}

/// Probe series and the evidence that a location is alive. Summaries and heartbeats only:
/// which locations are fresh, and which series count, is decided once, by the collector. The
/// provided methods describe a source without probes (a real cloud: its probes are the run
/// loop's).
pub trait ProbeSource {
    /// Every series this source holds, summarised over the objectives' windows at `now`.
    fn summaries(
        &self,
        _latency_windows: &[f64],
        _count_windows: &[f64],
        _now: Time,
    ) -> (Vec<ServiceSeries>, Vec<InstanceSeries>) {
        (Vec::new(), Vec::new())
    }

    /// When `location` last spoke without a sample: an agent's batch (empty ones included),
    /// or `now` for a local engine that is running. `None` when only samples tell.
    fn heartbeat(&self, _location: &str, _now: Time) -> Option<Time> {
        None
    }

    /// Whether evidence that should wake the loop early arrived after `t` (an instance
    /// reaching the policy's failure streak).
    fn evidence_since(&self, _t: Time) -> bool {
        false
    }

    /// The shortest silence after which a location is stale, when this source has its own
    /// (the agents' `stale_after`); otherwise [`super::collect::STALE_FLOOR`] applies.
    fn stale_floor(&self) -> Option<f64> {
        None
    }
}

/// A pass without probes beside the cloud's own (`sloop plan`, `sloop rehearse`, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProbes;

impl ProbeSource for NoProbes {}

/// Everything the collector reads from one backend.
pub trait Sources: Inventory + TelemetrySource + LoadSource + ProbeSource {}

impl<T: Inventory + TelemetrySource + LoadSource + ProbeSource> Sources for T {}
