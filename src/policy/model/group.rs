//! The group of VMs a policy owns, its server template, and the pool in front of it.

use super::*;
use crate::policy::units::ByteSize;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The VMs a policy owns, and the template for new ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Group {
    /// Cloud name from clouds.yaml (or `sim` for the built-in simulator).
    pub cloud: String,
    /// Region within the cloud; the cloud's default when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Server metadata that marks a VM as a member of this group. Every VM sloop creates carries it.
    pub selector: BTreeMap<String, String>,
    /// How new VMs are built.
    pub template: ServerTemplate,
    /// Size bounds of the group.
    pub size: SizeBounds,
}

/// A Nova server template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerTemplate {
    /// Glance image name or ID.
    pub image: String,
    /// Nova flavor name or ID.
    pub flavor: String,
    /// vCPUs of the flavor, used by the resource-exhaustion guard before the cloud is asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpus: Option<u32>,
    /// RAM of the flavor, used by the resource-exhaustion guard and migration time estimates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ram: Option<ByteSize>,
    /// Networks to attach, in order. IPv6-only networks are fine.
    pub networks: Vec<NetworkAttachment>,
    /// Availability zones to spread new VMs across, round-robin. Empty means the cloud's default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub availability_zones: Vec<String>,
    /// Security group names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// Nova key pair name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_pair: Option<String>,
    /// Boot script (cloud-init user data), a file path relative to the policy file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// Server group for (anti-)affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_group: Option<ServerGroup>,
    /// Extra metadata for new servers (sloop adds its own `sloop.*` keys).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// One network attachment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkAttachment {
    /// Neutron network name or ID.
    pub network: String,
    /// Which address families this network gives the VM. `v6` marks an IPv6-only network.
    #[serde(default)]
    pub family: Family,
}

/// A Nova server group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerGroup {
    /// Name of the server group (created if missing).
    pub name: String,
    /// Placement policy.
    #[serde(default)]
    pub policy: AffinityPolicy,
}

/// Nova server-group policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AffinityPolicy {
    /// Never two members on one hypervisor (scheduling fails when impossible).
    AntiAffinity,
    /// Prefer different hypervisors.
    #[default]
    SoftAntiAffinity,
    /// All members on one hypervisor.
    Affinity,
    /// Prefer one hypervisor.
    SoftAffinity,
}

/// Bounds on the number of instances.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SizeBounds {
    /// Never fewer instances than this.
    pub min: u32,
    /// Never more instances than this.
    pub max: u32,
}

// === Traffic ===

/// The Octavia pool in front of the group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Traffic {
    /// Octavia load balancer name or ID.
    pub load_balancer: String,
    /// Pool name or ID whose members are this group's VMs.
    pub pool: String,
    /// Listener port clients connect to.
    pub listener_port: u16,
    /// Port the members serve on.
    pub member_port: u16,
    /// Weight of a healthy member (Octavia: 0–256).
    #[serde(default = "default_weight")]
    pub weight: u16,
    /// How long a member keeps weight 0 before it leaves the pool and its server is deleted
    /// (scale-in, replacement), so connections it still holds can finish. Never waited for:
    /// the server shows as being deleted from the drain on, and a later pass removes the
    /// member and deletes it once the grace has passed. `0s` removes at once.
    #[serde(default = "default_drain_grace")]
    pub drain_grace: crate::policy::units::Duration,
}

fn default_weight() -> u16 {
    1
}

fn default_drain_grace() -> crate::policy::units::Duration {
    crate::policy::units::Duration::from_secs(10.0)
}
