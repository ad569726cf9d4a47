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
    /// Per host: when a host fault was first diagnosed. The fault stands for
    /// [`HOST_FAULT_HOLD`] after that, and for as long as the host's migrate rule keeps
    /// holding, so a server the cloud's scheduler places on the host while it is being
    /// evacuated (it is the emptiest host by then) is moved before it takes traffic.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub host_faults: BTreeMap<String, Time>,
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

/// How long a diagnosed host fault stands without fresh evidence: about a server's boot plus
/// a live migration, the time in which the scheduler may still place new servers there.
pub const HOST_FAULT_HOLD: f64 = 600.0;

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
        let hot = &self.host_hot_since;
        self.host_faults
            .retain(|host, since| now - *since < HOST_FAULT_HOLD || hot.contains_key(host));
    }

    /// Whether a host fault diagnosed earlier still stands at `now` (see [`Self::host_faults`]).
    pub fn host_fault_stands(&self, host: &str, now: Time) -> bool {
        self.host_faults
            .get(host)
            .is_some_and(|since| now - since < HOST_FAULT_HOLD || self.host_hot_since.contains_key(host))
    }
}
