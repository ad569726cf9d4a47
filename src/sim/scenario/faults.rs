//! The fault part of a scenario: what strikes, when, and which instance or host it hits.

use super::{zero_duration, zero_percent};
use crate::policy::units::{Duration, Percent};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A fault injected at `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    /// When it starts, as time since the scenario start.
    pub at: Duration,
    /// How long it lasts; until a remedy clears it (instance faults) or the end of the scenario
    /// (everything else) when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    /// What happens.
    pub fault: Fault,
}

/// The kinds of fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "kind",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Fault {
    /// The service on one instance dies.
    InstanceCrash {
        /// Which instance.
        instance: InstancePick,
        /// `process`: ACTIVE but refusing; `shutoff` or `error`: the VM goes to that state.
        #[serde(default)]
        mode: CrashMode,
        /// Survives reboots (only a rebuild or replacement clears it).
        #[serde(default)]
        persistent: bool,
    },
    /// One instance stops answering (ACTIVE, requests time out).
    InstanceHang {
        /// Which instance.
        instance: InstancePick,
        /// Survives reboots.
        #[serde(default)]
        persistent: bool,
    },
    /// One instance serves slower: μ × `factor`.
    InstanceSlow {
        /// Which instance.
        instance: InstancePick,
        /// Throughput multiplier, 0..1.
        factor: f64,
        /// Survives reboots.
        #[serde(default)]
        persistent: bool,
        /// A gradual slowdown: the multiplier falls linearly from 1 at `at` to `factor` over
        /// this long (a gray failure that gets worse step by step). Absent: at once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ramp: Option<Duration>,
    },
    /// A noisy neighbour: every VM on the host gets μ × `factor` and the host reports CPU steal.
    HostDegraded {
        /// Which hypervisor.
        host: HostPick,
        /// Throughput multiplier of its VMs, 0..1.
        factor: f64,
        /// CPU steal the host reports meanwhile, in percent.
        steal: f64,
    },
    /// A hypervisor dies: its VMs go to ERROR and nothing is placed there.
    HostDown {
        /// Which hypervisor.
        host: HostPick,
    },
    /// One location's path degrades (both families unless `family` is set).
    NetworkDegraded {
        /// The location.
        location: String,
        /// `v6` or `v4` for one family only; `both` (the default) for both.
        #[serde(default)]
        family: crate::policy::Family,
        /// Added round-trip time.
        #[serde(default = "zero_duration")]
        delay: Duration,
        /// Added loss per round trip (`100%` breaks the path).
        #[serde(default = "zero_percent")]
        loss: Percent,
    },
    /// A probe agent stops reporting.
    AgentSilent {
        /// The location.
        location: String,
    },
    /// A share of Nova API calls fail with a transient error, and every call is slower.
    ApiBrownout {
        /// Share of calls that fail.
        error_rate: Percent,
        /// Added latency per call.
        #[serde(default = "zero_duration")]
        latency: Duration,
    },
    /// Creates fail with a quota error.
    QuotaExhausted,
    /// Telemetry readings are missing.
    TelemetryBlackout,
}

impl Fault {
    /// Kebab-case kind, as in scenario files and reports.
    pub fn label(&self) -> &'static str {
        match self {
            Fault::InstanceCrash { .. } => "instance-crash",
            Fault::InstanceHang { .. } => "instance-hang",
            Fault::InstanceSlow { .. } => "instance-slow",
            Fault::HostDegraded { .. } => "host-degraded",
            Fault::HostDown { .. } => "host-down",
            Fault::NetworkDegraded { .. } => "network-degraded",
            Fault::AgentSilent { .. } => "agent-silent",
            Fault::ApiBrownout { .. } => "api-brownout",
            Fault::QuotaExhausted => "quota-exhausted",
            Fault::TelemetryBlackout => "telemetry-blackout",
        }
    }
}

/// How an instance crash shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CrashMode {
    /// The process dies: ACTIVE, connections refused.
    #[default]
    Process,
    /// The VM powers off (SHUTOFF); a soft reboot is refused, a hard one starts it.
    Shutoff,
    /// The VM goes to ERROR.
    Error,
}

/// Which instance a fault hits, resolved when the fault starts among the instances that serve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum InstancePick {
    /// The n-th serving instance in creation order, from 0 (wraps around).
    Index(u32),
    /// By rule.
    Rule(PickRule),
}

/// Which hypervisor a fault hits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum HostPick {
    /// The n-th hypervisor (`hv-01` is 0; wraps around).
    Index(u32),
    /// By rule.
    Rule(PickRule),
}

/// Rule-based picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PickRule {
    /// The one carrying the most load (hosts: the most serving instances of the group).
    Busiest,
    /// Uniformly at random, from the scenario seed.
    Random,
}
