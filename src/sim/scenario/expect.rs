//! Expected ranges of a rehearsal's outcome, checked by the test suite. The names match the
//! rehearsal report's JSON.

use crate::policy::units::Duration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A closed range `[min, max]`.
pub type Range = [f64; 2];

/// Ranges the rehearsal report must fall in; each is optional. Names match the report's JSON.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expect {
    /// Healing actions taken (drain, reboots, rebuild, replace, migrate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healing_actions: Option<Range>,
    /// Servers created plus servers deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_churn: Option<Range>,
    /// Scale-out actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_outs: Option<Range>,
    /// Scale-in actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_ins: Option<Range>,
    /// Drain actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drains: Option<Range>,
    /// Soft and hard reboots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reboots: Option<Range>,
    /// Rebuilds and replacements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacements: Option<Range>,
    /// Live migrations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrations: Option<Range>,
    /// Alerts raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Range>,
    /// Share of minutes in which the latency objective held (ground truth), 0..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_compliance: Option<Range>,
    /// Share of minutes in which the availability objective held (ground truth), 0..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_compliance: Option<Range>,
    /// Minutes in which any objective was violated (ground truth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_violation_minutes: Option<Range>,
    /// Most instances at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_instances: Option<Range>,
    /// VM-hours used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_hours: Option<Range>,
    /// Every injected fault is diagnosed within this time of its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_within: Option<Duration>,
    /// Every injected fault is mitigated within this time of its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigate_within: Option<Duration>,
    /// Diagnosis labels that must appear at least once (e.g. `network-path`, `flood`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnoses: Vec<String>,
    /// Diagnosis labels that must never appear.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub never_diagnoses: Vec<String>,
    /// Refusal reasons that must appear at least once (e.g. `resource-cap`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<String>,
}
