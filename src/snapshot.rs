//! What was observed at one instant: the only input of the decision core besides the policy,
//! the history and `now`. Collectors (real or simulated) fill it and never decide anything.
//!
//! Probe data arrives summarised by the per-series stores: raw samples for the latency windows,
//! good/total counts for the burn-rate windows, and consecutive-failure counters per instance.
//! That keeps a snapshot small enough to log every tick. Pure data.

mod host_digest;
mod load;

pub use host_digest::HostDigest;
pub use load::{LoadSignal, LoadSource};

use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, sync::Arc};

/// Seconds since the Unix epoch.
pub type Time = f64;

/// A Nova server ID (a UUID on a real cloud).
pub type InstanceId = String;

/// A concrete IP family of one measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    /// IPv6.
    V6,
    /// IPv4.
    V4,
}

impl IpFamily {
    /// The families a policy's `family` setting asks for, IPv6 first.
    pub fn expand(f: crate::policy::Family) -> &'static [IpFamily] {
        match f {
            crate::policy::Family::V6 => &[IpFamily::V6],
            crate::policy::Family::V4 => &[IpFamily::V4],
            crate::policy::Family::Both => &[IpFamily::V6, IpFamily::V4],
        }
    }
}

/// Everything observed at `observed_at`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// When the observation was taken.
    pub observed_at: Time,
    /// Probes through the service address (the load balancer), one series per
    /// (probe, location, family).
    pub service: Vec<ServiceSeries>,
    /// Probes sent to each instance directly, one series per (probe, instance, location, family).
    pub instances_probed: Vec<InstanceSeries>,
    /// Probe locations and whether their data is fresh (a silent agent is stale, never "down").
    pub locations: Vec<LocationStatus>,
    /// Telemetry read this tick.
    pub telemetry: TelemetryReadings,
    /// The group's servers as the cloud reports them.
    pub inventory: Vec<Instance>,
    /// Actions still running on the cloud.
    pub in_flight: Vec<InFlight>,
    /// Requests per second arriving at the service, derived from the counters of the load
    /// source the policy names, with where the figure came from and how old it is. Logs written
    /// when this was a bare `offered_load` number still read (as [`LoadSource::Unrecorded`]).
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "offered_load")]
    pub load: Option<LoadSignal>,
    /// The cloud's hypervisors, where the credentials may list them.
    #[serde(default, skip_serializing_if = "Hosts::is_unknown")]
    pub hosts: Hosts,
    /// Pool members whose server no longer exists (named after a server ID that Nova does not
    /// list and matching no server's address): nothing answers behind them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orphan_members: Vec<OrphanMember>,
}

/// A pool member left behind by a server that is gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrphanMember {
    /// The server ID it is named after (sloop names each member after its server).
    pub server: InstanceId,
    /// Its address.
    pub address: String,
    /// Its weight (more than 0: it still gets a share of the requests, all of which fail).
    pub weight: u16,
}

/// What the collector learned about the cloud's hypervisors. Listing them is an admin API on
/// most clouds: a refusal is a fact about the credentials (`NotPermitted`), not a fault.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "seen")]
pub enum Hosts {
    /// Not asked (the simulator, or a collector without the API).
    #[default]
    Unknown,
    /// The cloud refused the listing (HTTP 403): host state and load are not visible.
    NotPermitted,
    /// The hypervisors as listed.
    Listed {
        /// One per compute host.
        hosts: Vec<Host>,
    },
}

impl Hosts {
    /// Nothing known (also how an old journal without the field reads back).
    pub fn is_unknown(&self) -> bool {
        matches!(self, Hosts::Unknown)
    }

    /// The listed host called `name` (the name servers carry as their `host`).
    pub fn get(&self, name: &str) -> Option<&Host> {
        match self {
            Hosts::Listed { hosts } => hosts.iter().find(|h| h.name == name),
            _ => None,
        }
    }
}

/// One compute host as the hypervisor listing reports it. Load figures are absent on clouds
/// that no longer report them (Nova microversion 2.88 dropped them in favour of Placement).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// The compute service's host name (what a server's `host` names).
    pub name: String,
    /// The hypervisor's own node name.
    pub node: String,
    /// Whether its compute service reports in (`state: up`).
    pub up: bool,
    /// Whether the scheduler may place servers on it (`status: enabled`).
    pub enabled: bool,
    /// Servers running on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_vms: Option<u32>,
    /// vCPUs in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpus_used: Option<u32>,
    /// vCPUs it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpus: Option<u32>,
    /// Memory in use, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_used_mb: Option<u64>,
    /// Memory it has, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
}

impl Host {
    /// Share of its vCPUs allocated (0..1, above 1 when overcommitted), when reported.
    pub fn vcpu_load(&self) -> Option<f64> {
        match (self.vcpus_used, self.vcpus) {
            (Some(used), Some(all)) if all > 0 => Some(f64::from(used) / f64::from(all)),
            _ => None,
        }
    }
}

/// Identifies a probe series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesKey {
    /// Probe name from the policy (shared: a key is cloned into every snapshot).
    pub probe: Arc<str>,
    /// `local` or a remote agent's name.
    pub location: Arc<str>,
    /// Address family used.
    pub family: IpFamily,
}

/// One probe result. Latency in seconds; phases when the prober measured them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When the probe started.
    pub at: Time,
    /// Total time in seconds (the timeout for failed probes that timed out).
    pub latency: f64,
    /// Whether the probe met every expectation (status, body, deadline).
    pub ok: bool,
    /// Phase timings, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<Phases>,
}

/// Time spent in each phase of an HTTP probe, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Phases {
    /// Name resolution.
    pub dns: f64,
    /// TCP connect.
    pub connect: f64,
    /// TLS handshake.
    pub tls: f64,
    /// Request sent to first response byte.
    pub ttfb: f64,
    /// Body transfer.
    pub transfer: f64,
}

/// Good and total probe counts over a trailing window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowCount {
    /// Window length in seconds.
    pub window: f64,
    /// Successful probes in the window.
    pub good: u64,
    /// All probes in the window.
    pub total: u64,
}

/// A service-level probe series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSeries {
    /// Which probe, from where, over which family.
    pub key: SeriesKey,
    /// Raw samples within the longest latency window of the policy, oldest first.
    pub recent: Vec<Sample>,
    /// Counts over the burn-rate windows the policy uses.
    pub counts: Vec<WindowCount>,
}

impl ServiceSeries {
    /// The counts over `window` seconds, if the collector provided them.
    pub fn count(&self, window: f64) -> Option<WindowCount> {
        self.counts
            .iter()
            .copied()
            .find(|c| (c.window - window).abs() < 0.5)
    }
}

/// A per-instance probe series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceSeries {
    /// The probed instance.
    pub instance: InstanceId,
    /// Which probe, from where, over which family.
    pub key: SeriesKey,
    /// Failures in a row up to now (0 after any success).
    pub consecutive_failures: u32,
    /// The most recent samples, oldest first (a dozen or so, for the peer comparison).
    pub recent: Vec<Sample>,
}

/// Freshness of a probe location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationStatus {
    /// `local` or an agent's name.
    pub name: String,
    /// False when the agent has not reported recently; its data must not count towards quorum.
    pub fresh: bool,
    /// When its last batch arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Time>,
}

/// One metric reading; `value: None` means missing, never zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// The latest value, if any arrived within the staleness limit.
    pub value: Option<f64>,
    /// When the value was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Time>,
}

/// Telemetry per instance and per hypervisor, by metric name.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TelemetryReadings {
    /// Per instance, e.g. `cpu` as utilisation 0..1 (rate:mean of the cpu counter, normalised).
    pub instances: BTreeMap<InstanceId, BTreeMap<String, Reading>>,
    /// Per hypervisor host name.
    pub hypervisors: BTreeMap<String, BTreeMap<String, Reading>>,
    /// Set when the source could not be read at all this tick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_error: Option<String>,
}

/// Lifecycle states of a server, as far as sloop cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceStatus {
    /// Being created.
    Building,
    /// Running.
    Active,
    /// Soft or hard reboot in progress.
    Rebooting,
    /// Rebuild in progress.
    Rebuilding,
    /// Live migration in progress.
    Migrating,
    /// Powered off.
    Shutoff,
    /// Nova reports an error.
    Error,
    /// Being deleted.
    Deleting,
}

/// An Octavia pool member.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LbMember {
    /// Weight (0 = drained).
    pub weight: u16,
    /// Admin state.
    pub admin_up: bool,
    /// Octavia's health-monitor view (true = ONLINE).
    pub online: bool,
    /// Octavia could not apply the member (`provisioning_status` ERROR): the load balancer
    /// sends it nothing whatever its weight, so it does not count as serving, and admitting
    /// it again re-applies it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub error: bool,
}

/// A server of the group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// Server ID.
    pub id: InstanceId,
    /// Server name.
    pub name: String,
    /// Lifecycle state.
    pub status: InstanceStatus,
    /// Hypervisor, when the credentials may see it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Addresses by family.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<(IpFamily, String)>,
    /// Creation time.
    pub created_at: Time,
    /// When it last became ACTIVE (after boot, reboot, rebuild or migration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_since: Option<Time>,
    /// Its pool member, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<LbMember>,
    /// Idempotency key of the action that created it (from server metadata).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// The repair stamps sloop left on it (`sloop.heal`, `sloop.migrated`), when any parse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamps: Option<RepairStamps>,
    /// Why the cloud put it in ERROR (Nova's fault message, e.g. "No valid host was found"),
    /// when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// The server this one was created to replace (`sloop.replaces` in its metadata): the
    /// replaced server is deleted once this one serves, and a restarted controller finds the
    /// pair on the cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<InstanceId>,
}

/// What sloop wrote on a server before repairing or moving it (`act::stamp`): the healing
/// memory that outlives the controller and its journal, read back by every observation.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RepairStamps {
    /// The last ladder rung started on it, and the decision time (whole seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rung: Option<(crate::policy::Rung, Time)>,
    /// When its last live migration was decided (whole seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrated: Option<Time>,
    /// The host that migration moved it off, as a digest (stamps older than the digest have
    /// none): the host was found faulty, which the decision core must remember even when
    /// the journal that named it is lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrated_from: Option<HostDigest>,
}

/// An action the cloud is still carrying out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InFlight {
    /// Idempotency key of the action.
    pub id: String,
    /// What it does.
    pub kind: crate::decision::ActionKind,
    /// The instance it concerns, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceId>,
    /// When it started.
    pub started_at: Time,
}
