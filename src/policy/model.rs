//! The policy document as admins write it: `apiVersion: sloop/v1`, `kind: ServicePolicy`.
//!
//! These types are the contract. The JSON Schema in `policies/sloop-policy.schema.json` is
//! generated from them (doc comments become descriptions), the loader checks files against that
//! schema, and `validate` adds the semantic rules a schema cannot express. Pure data.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A sloop service policy: which VMs sloop owns, how it measures them, what it promises, and
/// how it may act.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "sloop ServicePolicy")]
pub struct Policy {
    /// Always `sloop/v1`.
    pub api_version: ApiVersion,
    /// Always `ServicePolicy`.
    pub kind: Kind,
    /// Name and labels of this policy.
    pub metadata: Metadata,
    /// What sloop manages and how.
    pub spec: Spec,
}

/// The only supported API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ApiVersion {
    /// Version 1 of the policy language.
    #[serde(rename = "sloop/v1")]
    V1,
}

/// The only supported document kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Kind {
    /// A policy for one service (one group of VMs behind one load-balancer pool).
    ServicePolicy,
}

/// Identity of a policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// Unique name of the policy: lowercase letters, digits and `-`, at most 63 characters.
    pub name: String,
    /// Free-form labels, copied to metrics and events.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// A sentence for humans: what this service is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The body of a policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// `enforce` acts on the cloud; `dry-run` does everything else and records what it would do.
    #[serde(default)]
    pub mode: Mode,
    /// The group of VMs this policy owns.
    pub group: Group,
    /// The Octavia pool that fronts the group. Without it, sloop cannot drain or reroute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic>,
    /// Active probes that measure the service the way users reach it.
    pub probes: Vec<Probe>,
    /// Ceilometer metrics read from Gnocchi or Prometheus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<Telemetry>,
    /// The service-level objectives this policy keeps.
    pub objectives: Vec<Objective>,
    /// How the group grows and shrinks.
    #[serde(default)]
    pub scaling: Scaling,
    /// How unhealthy instances are repaired.
    #[serde(default)]
    pub healing: Healing,
    /// Guard rails no decision may cross.
    #[serde(default)]
    pub limits: Limits,
}

/// Whether sloop acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Act on the cloud.
    #[default]
    Enforce,
    /// Observe, judge and plan, but only record what would be done.
    DryRun,
}

mod forecast;
mod group;
mod healing;
mod measure;
mod objective;
mod scaling;

pub use forecast::*;
pub use group::*;
pub use healing::*;
pub use measure::*;
pub use objective::*;
pub use scaling::*;
