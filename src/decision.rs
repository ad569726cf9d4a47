//! The output of the decision core: verdicts per objective, a diagnosis, the actions to take,
//! the actions refused (each with a reason enum) and the alerts to raise. Every action and
//! refusal carries the evidence that triggered it, so the journal says *why* in SLO terms.
//! Pure data.

pub mod float;

use crate::snapshot::{InstanceId, IpFamily, Time};
use serde::{Deserialize, Serialize};

/// What one decision pass concluded.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Decision {
    /// The instant the decision was made for.
    pub now: Time,
    /// The state of each objective.
    pub verdicts: Vec<Verdict>,
    /// What the judge thinks is going on (empty when all is well).
    pub diagnoses: Vec<Diagnosis>,
    /// Actions to execute, in order.
    pub actions: Vec<PlannedAction>,
    /// Actions that were considered and refused, with the reason.
    pub refusals: Vec<Refusal>,
    /// Alerts to raise for humans.
    pub alerts: Vec<Alert>,
}

// === Verdicts ===

/// The state of one objective at `now`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Objective name.
    pub objective: String,
    /// Whether the objective is met, at risk, or violated.
    pub state: SloState,
    /// Per (location, family) view.
    pub per_series: Vec<SeriesVerdict>,
    /// Locations (with family) that see a violation, among the fresh ones.
    pub violating_locations: u32,
    /// Fresh locations with enough data to judge.
    pub judged_locations: u32,
    /// Burn rates per alert row (availability objectives only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub burn_rates: Vec<BurnRate>,
    /// Share of the error budget left over the SLO period (availability objectives only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_remaining: Option<f64>,
}

/// Objective states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SloState {
    /// Met with confidence.
    Met,
    /// The point estimate is over the line but the evidence is not yet conclusive, or too few
    /// locations agree.
    AtRisk,
    /// Violated with statistical confidence from at least the quorum of locations.
    Violated,
    /// Not enough fresh data to judge.
    NoData,
}

/// The view of one objective from one location and family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesVerdict {
    /// Location name.
    pub location: String,
    /// Family.
    pub family: IpFamily,
    /// Samples in the window.
    pub samples: u64,
    /// Point estimate: the percentile latency (s) or the error ratio.
    #[serde(with = "float")]
    pub estimate: f64,
    /// Lower confidence bound of the estimate.
    #[serde(with = "float")]
    pub lower: f64,
    /// Upper confidence bound of the estimate.
    #[serde(with = "float")]
    pub upper: f64,
    /// Met, at risk, violated or no data, from this series alone.
    pub state: SloState,
}

/// Burn rate over one alert row's windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurnRate {
    /// Long window (s).
    pub long_window: f64,
    /// Short window (s).
    pub short_window: f64,
    /// Burn rate over the long window.
    #[serde(with = "float")]
    pub long: f64,
    /// Burn rate over the short window.
    #[serde(with = "float")]
    pub short: f64,
    /// Threshold of the row.
    pub threshold: f64,
    /// Both windows above the threshold.
    pub firing: bool,
}

// === Diagnosis ===

/// What the observations say is wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Diagnosis {
    /// One instance is bad from every location while its peers are fine.
    InstanceFault {
        /// The instance.
        instance: InstanceId,
        /// Why we think so.
        detail: String,
    },
    /// Instances on one hypervisor degrade together and its metrics agree.
    HostFault {
        /// The hypervisor.
        host: String,
        /// Its instances.
        instances: Vec<InstanceId>,
        /// Why we think so.
        detail: String,
    },
    /// Every instance is slow and busy, from everywhere.
    Capacity {
        /// Instances needed, by the queueing estimate.
        needed: u32,
        /// Serving instances now.
        serving: u32,
        /// Why we think so.
        detail: String,
    },
    /// Bad from some locations or one family only.
    NetworkPath {
        /// Locations that see the problem.
        locations: Vec<String>,
        /// Families that see the problem.
        families: Vec<IpFamily>,
        /// Why we think so.
        detail: String,
    },
    /// Load beyond any plausible envelope or the resource budget.
    Flood {
        /// Instances the load would need.
        needed: u32,
        /// Instances the guard allows.
        allowed: u32,
        /// Why we think so.
        detail: String,
    },
    /// Utilisation low for long with the SLO comfortable.
    OverProvisioned {
        /// Instances the load needs.
        needed: u32,
        /// Serving instances now.
        serving: u32,
    },
}

impl Diagnosis {
    /// A short low-cardinality label (metrics, reports).
    pub fn label(&self) -> &'static str {
        match self {
            Diagnosis::InstanceFault { .. } => "instance-fault",
            Diagnosis::HostFault { .. } => "host-fault",
            Diagnosis::Capacity { .. } => "capacity",
            Diagnosis::NetworkPath { .. } => "network-path",
            Diagnosis::Flood { .. } => "flood",
            Diagnosis::OverProvisioned { .. } => "over-provisioned",
        }
    }
}

// === Actions ===

/// The kinds of change sloop makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// Create servers.
    ScaleOut,
    /// Delete servers.
    ScaleIn,
    /// Set member weight to 0.
    Drain,
    /// Put a serving instance in (or back in) the pool at full weight.
    Admit,
    /// Soft reboot.
    RebootSoft,
    /// Hard reboot.
    RebootHard,
    /// Rebuild from the image.
    Rebuild,
    /// Create a replacement, then delete the old server.
    Replace,
    /// Live-migrate off a host.
    Migrate,
}

impl ActionKind {
    /// Kebab-case name, as in policies and metrics.
    pub fn label(self) -> &'static str {
        match self {
            ActionKind::ScaleOut => "scale-out",
            ActionKind::ScaleIn => "scale-in",
            ActionKind::Drain => "drain",
            ActionKind::Admit => "admit",
            ActionKind::RebootSoft => "reboot-soft",
            ActionKind::RebootHard => "reboot-hard",
            ActionKind::Rebuild => "rebuild",
            ActionKind::Replace => "replace",
            ActionKind::Migrate => "migrate",
        }
    }

    /// Healing actions are the ones a false diagnosis would make harmful.
    pub fn is_healing(self) -> bool {
        matches!(
            self,
            ActionKind::Drain
                | ActionKind::RebootSoft
                | ActionKind::RebootHard
                | ActionKind::Rebuild
                | ActionKind::Replace
                | ActionKind::Migrate
        )
    }
}

/// A concrete change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    /// Create `count` servers from the template.
    ScaleOut {
        /// How many.
        count: u32,
    },
    /// Delete these servers (drained first when there is a pool).
    ScaleIn {
        /// Victims.
        instances: Vec<InstanceId>,
    },
    /// Set the member weight to 0.
    Drain {
        /// The instance.
        instance: InstanceId,
    },
    /// Put a serving instance in (or back in) the pool at full weight, creating the member if
    /// it has none.
    Admit {
        /// The instance.
        instance: InstanceId,
    },
    /// Reboot.
    Reboot {
        /// The instance.
        instance: InstanceId,
        /// Hard (power cycle) or soft.
        hard: bool,
    },
    /// Rebuild from the template image.
    Rebuild {
        /// The instance.
        instance: InstanceId,
    },
    /// Create a replacement for this server.
    Replace {
        /// The instance.
        instance: InstanceId,
        /// Delete the old server right after the create, as Senlin's RECREATE and a Heat stack
        /// update do (the baselines). sloop leaves it to a later decision, once the new server
        /// serves (`plan/replace.rs`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        delete_old: bool,
    },
    /// Live-migrate away from a host (the scheduler picks the target).
    Migrate {
        /// The instance.
        instance: InstanceId,
        /// The host to leave.
        from_host: String,
    },
}

impl Action {
    /// The kind of this action.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::ScaleOut { .. } => ActionKind::ScaleOut,
            Action::ScaleIn { .. } => ActionKind::ScaleIn,
            Action::Drain { .. } => ActionKind::Drain,
            Action::Admit { .. } => ActionKind::Admit,
            Action::Reboot { hard: false, .. } => ActionKind::RebootSoft,
            Action::Reboot { hard: true, .. } => ActionKind::RebootHard,
            Action::Rebuild { .. } => ActionKind::Rebuild,
            Action::Replace { .. } => ActionKind::Replace,
            Action::Migrate { .. } => ActionKind::Migrate,
        }
    }

    /// The single instance this action concerns, if it concerns exactly one.
    pub fn instance(&self) -> Option<&InstanceId> {
        match self {
            Action::Drain { instance }
            | Action::Admit { instance }
            | Action::Reboot { instance, .. }
            | Action::Rebuild { instance }
            | Action::Replace { instance, .. }
            | Action::Migrate { instance, .. } => Some(instance),
            Action::ScaleOut { .. } | Action::ScaleIn { .. } => None,
        }
    }
}

/// Why an action is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// Not enough capacity for the load (latency or utilisation objective at risk).
    Capacity,
    /// A scheduled peak's floor (pre-warm).
    ScheduledPeak,
    /// The load forecast one boot time ahead needs more than the servers serving and booting
    /// (the present load does not, yet).
    Forecast,
    /// Below the group's minimum size.
    BelowMinimum,
    /// More capacity than the load needs.
    OverProvisioned,
    /// An instance is unhealthy.
    InstanceFault,
    /// A hypervisor is degraded.
    HostFault,
    /// An instance serves (new, or healthy again after a remedy) and should take traffic.
    Serving,
    /// Above the group's maximum size.
    AboveMaximum,
    /// A server sloop created ended in ERROR before it served: a failed scale-out.
    FailedCreate,
    /// A pool member whose server is gone or being deleted: nothing answers behind it.
    OrphanMember,
}

/// Why an action was refused or reduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalReason {
    /// A previous step in this direction is too recent.
    Cooldown,
    /// The recommendation has not held for the stabilisation window.
    Stabilization,
    /// Reduced to the maximum step.
    MaxStep,
    /// The hourly action budget is spent.
    Budget,
    /// Too many actions already in flight.
    MaxConcurrent,
    /// It could leave fewer than `minHealthy` serving instances.
    MinHealthy,
    /// Too much of the group looks unhealthy at once; a probe or network fault is likelier.
    FreezeUnhealthy,
    /// Required telemetry or probe data is missing.
    FreezeDataMissing,
    /// The resource-exhaustion guard (instances, vCPUs, RAM) is reached.
    ResourceCap,
    /// The group's maximum size is reached.
    MaxSize,
    /// The group's minimum size forbids it.
    MinSize,
    /// A scheduled peak forbids scale-in.
    ScheduledPeak,
    /// The policy is in dry-run mode.
    DryRun,
    /// The diagnosis is a network-path fault: changing VMs would not help.
    NetworkPath,
    /// Within the grace period after boot or after the previous rung.
    Grace,
    /// The same action on the same target failed recently and waits out its backoff.
    Backoff,
}

impl RefusalReason {
    /// Kebab-case name for reports and metric labels.
    pub fn label(self) -> &'static str {
        match self {
            RefusalReason::Cooldown => "cooldown",
            RefusalReason::Stabilization => "stabilization",
            RefusalReason::MaxStep => "max-step",
            RefusalReason::Budget => "budget",
            RefusalReason::MaxConcurrent => "max-concurrent",
            RefusalReason::MinHealthy => "min-healthy",
            RefusalReason::FreezeUnhealthy => "freeze-unhealthy",
            RefusalReason::FreezeDataMissing => "freeze-data-missing",
            RefusalReason::ResourceCap => "resource-cap",
            RefusalReason::MaxSize => "max-size",
            RefusalReason::MinSize => "min-size",
            RefusalReason::ScheduledPeak => "scheduled-peak",
            RefusalReason::DryRun => "dry-run",
            RefusalReason::NetworkPath => "network-path",
            RefusalReason::Grace => "grace",
            RefusalReason::Backoff => "backoff",
        }
    }
}

/// The observations that triggered an action or refusal.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Evidence {
    /// The objective involved, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<String>,
    /// Burn rates per window, for availability objectives.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub burn_rates: Vec<BurnRate>,
    /// Locations that agreed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<String>,
    /// Families that agreed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<IpFamily>,
    /// Metric values by name (utilisation, latency estimate, offered load, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "float::pairs")]
    pub metrics: Vec<(String, f64)>,
    /// The signal the group's size was computed from (scaling actions and refusals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sized_by: Option<SizingSignal>,
    /// The load forecast that asked for more than the present load, when it shaped the size:
    /// what was forecast, from what, and how sure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast: Option<Box<crate::judge::forecast::Forecast>>,
    /// One sentence for humans.
    pub summary: String,
}

/// The signal a capacity figure came from, so every scale-out says what it trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SizingSignal {
    /// The request rate of the policy's load source over the learned per-server rate.
    RequestRate(crate::snapshot::LoadSource),
    /// A request rate estimated from CPU utilisation and the learned per-server rate (the load
    /// source had no figure).
    EstimatedLoad,
    /// CPU utilisation against `targetUtilization`: HPA's ratio, `ceil(serving × util / target)`.
    Utilization,
    /// Per-instance probe latency over the latency objective's threshold on every serving
    /// server together: capacity, not a fault.
    Latency,
}

impl SizingSignal {
    /// Short label for summaries and metrics.
    pub fn label(self) -> &'static str {
        match self {
            SizingSignal::RequestRate(_) => "request-rate",
            SizingSignal::EstimatedLoad => "estimated-load",
            SizingSignal::Utilization => "utilization",
            SizingSignal::Latency => "latency",
        }
    }
}

/// An action the executor should carry out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedAction {
    /// Idempotency key: the same action is never executed twice.
    pub id: String,
    /// The change.
    pub action: Action,
    /// Why.
    pub cause: Cause,
    /// The evidence.
    pub evidence: Evidence,
}

/// An action considered and not (fully) taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    /// What would have been done.
    pub action: Action,
    /// Why it was considered.
    pub cause: Cause,
    /// Why it was refused.
    pub reason: RefusalReason,
    /// The evidence.
    pub evidence: Evidence,
}

/// A notice for humans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Page or ticket.
    pub severity: crate::policy::Severity,
    /// Stable short name (e.g. `burn-rate`, `network-path`, `flood`, `freeze`).
    pub name: String,
    /// What is going on.
    pub summary: String,
}
