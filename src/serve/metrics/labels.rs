//! The label sets of the controller's metrics: bounded by construction (names from the
//! policies, enums for the rest, never an instance ID).

use prometheus_client::encoding::EncodeLabelSet;

/// `{policy}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabel {
    /// Policy name.
    pub policy: String,
}

/// `{policy, result}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PassLabels {
    /// Policy name.
    pub policy: String,
    /// `ok` or `error`.
    pub result: String,
}

/// `{policy, kind, cause, outcome}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    /// Policy name.
    pub policy: String,
    /// Action kind.
    pub kind: String,
    /// Why it was taken.
    pub cause: String,
    /// done, failed, would, skipped.
    pub outcome: String,
}

/// `{policy, kind, resolution}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InterruptedLabels {
    /// Policy name.
    pub policy: String,
    /// Action kind.
    pub kind: String,
    /// done, abandoned or unknown (`crate::resolve::Resolution`).
    pub resolution: String,
}

/// `{policy, kind, reason}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    /// Policy name.
    pub policy: String,
    /// Action kind.
    pub kind: String,
    /// Refusal reason.
    pub reason: String,
}

/// `{policy, objective, …}` with an optional extra pair.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ObjectiveLabels {
    /// Policy name.
    pub policy: String,
    /// Objective name.
    pub objective: String,
}

/// `{policy, objective, state}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// Policy name.
    pub policy: String,
    /// Objective name.
    pub objective: String,
    /// met, at-risk, violated, no-data.
    pub state: String,
}

/// `{policy, objective, location, family}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SeriesLabels {
    /// Policy name.
    pub policy: String,
    /// Objective name.
    pub objective: String,
    /// Probe location.
    pub location: String,
    /// v6 or v4.
    pub family: String,
}

/// `{policy, objective, window}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BurnLabels {
    /// Policy name.
    pub policy: String,
    /// Objective name.
    pub objective: String,
    /// The window, in seconds (`3600s`).
    pub window: String,
}

/// `{policy, location}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LocationLabels {
    /// Policy name.
    pub policy: String,
    /// Probe location.
    pub location: String,
}

/// `{policy, kind}` (diagnoses).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PairLabels {
    /// Policy name.
    pub policy: String,
    /// The enum value.
    pub kind: String,
}

/// `{policy, op, class}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// Policy name.
    pub policy: String,
    /// observe or act.
    pub op: String,
    /// Error class (transient, conflict, quota, not-found, fatal, inventory).
    pub class: String,
}

/// `{state}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyStateLabel {
    /// managed, rejected, unmanaged.
    pub state: String,
}

/// `{policy, status}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    /// Policy name.
    pub policy: String,
    /// The server status (building, active, …, deleting).
    pub status: String,
}

/// `{version, log_format}` of `sloop_build_info`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    /// sloop's version.
    pub version: String,
    /// The decision-log format this build writes.
    pub log_format: String,
}
