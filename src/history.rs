//! What the decision core remembers between ticks: cooldowns, stabilisation windows, the
//! healing ladder per instance, sustained host conditions, the action budget and learned
//! capacity. A value passed in and returned (never a map read with a clock), so a recorded
//! decision log replays exactly. Bounded: every collection is pruned by time or by the group.

use crate::{
    decision::ActionKind,
    snapshot::{InstanceId, Time},
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Decision state carried from one tick to the next.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct History {
    /// Counter for idempotency keys of new actions.
    pub next_action: u64,
    /// When the group last scaled out.
    pub last_scale_out: Option<Time>,
    /// When the group last scaled in.
    pub last_scale_in: Option<Time>,
    /// Desired-size recommendations, newest last, kept for the longest stabilisation window.
    pub recommendations: VecDeque<(Time, u32)>,
    /// Mutating actions taken, for the hourly budget.
    pub actions: VecDeque<(Time, ActionKind)>,
    /// Healing ladder state per instance.
    pub ladders: BTreeMap<InstanceId, LadderState>,
    /// Per host: since when a migrate rule's condition has held.
    pub host_hot_since: BTreeMap<String, Time>,
    /// Learned service rate of one instance (requests/s at full utilisation), smoothed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_rate: Option<f64>,
    /// Migrations started per instance, to avoid bouncing an instance between hosts.
    pub migrated_at: BTreeMap<InstanceId, Time>,
    /// Offered load seen at each tick over the last [`LOAD_MEMORY`] seconds, to match lagging
    /// utilisation readings with the load of their own period.
    #[serde(default)]
    pub loads: VecDeque<(Time, f64)>,
}

/// How long offered-load observations are remembered.
pub const LOAD_MEMORY: f64 = 900.0;

/// Where an instance is on the escalation ladder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LadderState {
    /// Index into the policy's ladder of the last rung applied.
    pub rung: usize,
    /// When that rung was applied.
    pub since: Time,
    /// Whether the instance has been drained.
    pub drained: bool,
}

impl History {
    /// A fresh idempotency key: policy name, decision time and a sequence number, stable across
    /// a restart that replays the same decision.
    pub fn action_id(&mut self, policy: &str, now: Time) -> String {
        self.next_action += 1;
        format!("{policy}-{}-{}", now.floor() as i64, self.next_action)
    }

    /// Mutating actions counted against the hourly budget in the hour before `now`.
    pub fn actions_last_hour(&self, now: Time) -> u32 {
        self.actions
            .iter()
            .filter(|(t, k)| now - t < 3600.0 && *k != ActionKind::Admit)
            .count() as u32
    }

    /// Drops what no rule can read any more.
    pub fn prune(&mut self, now: Time, longest_stabilization: f64, live: &[InstanceId]) {
        while self.actions.front().is_some_and(|(t, _)| now - t >= 3600.0) {
            self.actions.pop_front();
        }
        while self
            .recommendations
            .front()
            .is_some_and(|(t, _)| now - t > longest_stabilization)
        {
            self.recommendations.pop_front();
        }
        self.ladders.retain(|id, _| live.contains(id));
        while self.loads.front().is_some_and(|(t, _)| now - t > LOAD_MEMORY) {
            self.loads.pop_front();
        }
        self.migrated_at
            .retain(|id, t| live.contains(id) && now - *t < 3600.0);
    }
}
