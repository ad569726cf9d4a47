//! Repair of unhealthy instances, and the guard rails no decision may cross.

use super::*;
use crate::policy::units::{ByteSize, Duration, Percent};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Repair of unhealthy instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Healing {
    /// Turn healing off (scaling still works).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The per-instance probe that decides health (must have `perInstance: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    /// When an instance counts as unhealthy.
    #[serde(default)]
    pub unhealthy_after: UnhealthyAfter,
    /// No healing until an instance has been serving this long. A server that has not
    /// answered since it became ACTIVE is held longer: for this group's boot-to-serve time,
    /// learned from the boots sloop watched (95th percentile × 1.5; 10 minutes until three
    /// boots were seen), never for less than this.
    #[serde(default = "default_grace")]
    pub grace_period: Duration,
    /// Remedies in order; each rung is verified by probes before the next.
    #[serde(default = "default_ladder")]
    pub ladder: Vec<Rung>,
    /// How long a rung gets to make the instance healthy before the next one is tried.
    #[serde(default = "default_rung_timeout")]
    pub rung_timeout: Duration,
    /// Live-migrate instances off a hypervisor when its metrics say so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub migrate_when: Vec<MigrateRule>,
}

impl Default for Healing {
    fn default() -> Self {
        Self {
            enabled: true,
            probe: None,
            unhealthy_after: UnhealthyAfter::default(),
            grace_period: default_grace(),
            ladder: default_ladder(),
            rung_timeout: default_rung_timeout(),
            migrate_when: Vec::new(),
        }
    }
}

fn default_grace() -> Duration {
    Duration::from_secs(120.0)
}
fn default_rung_timeout() -> Duration {
    Duration::from_secs(180.0)
}
fn default_ladder() -> Vec<Rung> {
    vec![
        Rung::Drain,
        Rung::RebootSoft,
        Rung::RebootHard,
        Rung::Rebuild,
        Rung::Replace,
    ]
}

/// k consecutive failures seen from at least q locations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnhealthyAfter {
    /// Consecutive failed probes per location.
    pub failures: u32,
    /// Locations that must agree.
    pub locations: u32,
}

impl Default for UnhealthyAfter {
    fn default() -> Self {
        Self {
            failures: 3,
            locations: 1,
        }
    }
}

/// One remedy on the escalation ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Rung {
    /// Set the LB member weight to 0 so no new traffic reaches it.
    Drain,
    /// Soft reboot (ACPI).
    RebootSoft,
    /// Hard reboot (power cycle).
    RebootHard,
    /// Rebuild from the template image.
    Rebuild,
    /// Create a new VM, then delete the old one.
    Replace,
}

/// Migrate off a hypervisor when a host metric crosses a threshold for a while.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MigrateRule {
    /// A hypervisor-scope metric from `telemetry.metrics` (or `cpu.steal` in the simulator).
    pub metric: String,
    /// Threshold (in the metric's unit; utilisations as fractions 0..1).
    pub above: f64,
    /// How long the metric must stay above the threshold.
    #[serde(rename = "for")]
    pub sustained: Duration,
}

// === Limits ===

/// Guard rails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Budget of mutating actions per rolling hour.
    #[serde(default = "default_actions_per_hour")]
    pub max_actions_per_hour: u32,
    /// Mutating actions in flight at once.
    #[serde(default = "default_concurrent")]
    pub max_concurrent_actions: u32,
    /// Never take an action that could leave fewer serving, healthy instances.
    #[serde(default = "one")]
    pub min_healthy: u32,
    /// Resource-exhaustion guard: hard cap on instances (also bounded by `group.size.max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_instances: Option<u32>,
    /// Resource-exhaustion guard: total vCPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_vcpus: Option<u32>,
    /// Resource-exhaustion guard: total RAM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ram: Option<ByteSize>,
    /// Freeze healing when more than this share of the group looks unhealthy at once (a probe
    /// or network fault is likelier than a mass failure).
    #[serde(default = "default_freeze_share")]
    pub freeze_when_unhealthy_above: Percent,
    /// Freeze healing and scale-in while required telemetry is missing.
    #[serde(default = "yes")]
    pub freeze_when_telemetry_missing: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_actions_per_hour: default_actions_per_hour(),
            max_concurrent_actions: default_concurrent(),
            min_healthy: 1,
            max_instances: None,
            max_vcpus: None,
            max_ram: None,
            freeze_when_unhealthy_above: default_freeze_share(),
            freeze_when_telemetry_missing: true,
        }
    }
}

fn default_actions_per_hour() -> u32 {
    30
}
fn default_concurrent() -> u32 {
    5
}
fn default_freeze_share() -> Percent {
    Percent::from_fraction(0.5)
}
