//! What the decision core remembers about gray failures: the sequential test's state per
//! instance (`judge::shift`), and the record of each remedy a drained server waits for before
//! it may serve again (`plan::heal::admit`). Plain data, pruned with the inventory.

use crate::{policy::Rung, snapshot::Time};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The per-instance sequential test's state (see `judge::shift` for the test).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ShiftState {
    /// The CUSUM statistic, in nats (≥ 0).
    pub s: f64,
    /// Per series (`location/family`): the start time of the newest sample folded in.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub through: BTreeMap<String, Time>,
    /// Samples folded in since the statistic last left 0.
    #[serde(default)]
    pub run: u32,
    /// Per series (`location/family`): what its samples added to the statistic since it last
    /// left 0. A shift of the server shows from every location; one location alone is a path.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_series: BTreeMap<String, f64>,
    /// When the statistic crossed its threshold, or another slow verdict held while the
    /// instance served. It holds while the instance is out of rotation (drained, it takes no
    /// load and looks fast), and is cleared once the instance, in rotation, is back at rest, or
    /// when a remedy restarted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarmed_at: Option<Time>,
}

impl ShiftState {
    /// Whether the test holds the instance slow.
    pub fn alarmed(&self) -> bool {
        self.alarmed_at.is_some()
    }
}

/// A remedy a drained server waits for, and what the snapshots showed of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remedy {
    /// The rung (reboot, rebuild) applied.
    pub rung: Rung,
    /// When it was decided.
    pub decided: Time,
    /// Whether a snapshot showed the server not ACTIVE (rebooting, rebuilding) or the action
    /// still running after the decision: the cloud took the remedy up.
    #[serde(default)]
    pub seen_running: bool,
    /// When the server became ACTIVE again after it (Nova's time), once seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<Time>,
    /// When its probes verified it: passing samples from every probing location, all taken
    /// after `completed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<Time>,
}
