//! What the decision core remembers between ticks: cooldowns, stabilisation windows, the
//! healing ladder per instance, sustained host conditions, the action budget and learned
//! capacity. A value passed in and returned (never a map read with a clock), so a recorded
//! decision log replays exactly. Bounded: every collection is pruned by time or by the group.

mod abandon;
mod adopt;
mod backoff;
mod stamped;

pub use adopt::{Charge, parse_action_key, repair_charge_id};
pub use backoff::{
    ALERT_AFTER, BACKOFF_CAP, Backoff, Failure, FailureClass, OUTAGE_CAP, delay as backoff_delay,
    quota_numbers,
};
pub use stamped::kind_of;

use crate::{
    decision::{Action, ActionKind},
    judge::forecast::ForecastState,
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
    /// Mutating actions charged to the hourly budget: every attempt, whether the cloud took it
    /// or not (see [`History::settle`] for why a failed one stays charged and how a retry of
    /// it reuses its charge).
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
    /// What the last decision's actions changed in this history, by action ID, until the
    /// executor reports which of them took no effect ([`History::settle`]). Cleared by the next
    /// decision: an action not reported failed by then is taken as done.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unsettled: BTreeMap<String, Undo>,
    /// Intents ([`intent`]) whose last attempt took no effect, with the time of the budget
    /// charge that attempt still holds in `actions`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed: BTreeMap<String, Time>,
    /// Intents whose recent attempts failed, and until when they wait ([`backoff_delay`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub backoff: BTreeMap<String, Backoff>,
    /// Servers sloop created that ended in ERROR before they ever served (failed scale-outs),
    /// with when that was first seen: each is counted as one failure of the scale-out once.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed_creates: BTreeMap<InstanceId, Time>,
    /// The load forecast's memory: the last load reports, the learned daily and weekly
    /// profile, and the group's boot times (bounded, see [`crate::judge::forecast`]).
    #[serde(default, skip_serializing_if = "ForecastState::is_empty")]
    pub forecast: ForecastState,
}

/// What one decided action changed in the history, to put back if it never happened: the
/// values of the fields it may have written, as they were right before it was decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Undo {
    /// The action's intent ([`intent`]).
    pub intent: String,
    /// Its kind: a scale-out writes only `last_scale_out`, a scale-in only `last_scale_in`.
    pub kind: ActionKind,
    /// When it was charged.
    pub at: Time,
    /// For a scale-out or scale-in: the time of the last one before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_before: Option<Time>,
    /// The instance it concerns, with its ladder state and migration time before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<(InstanceId, Option<LadderState>, Option<Time>)>,
}

/// What an action is for, independently of when it is decided: its kind and the instance it
/// concerns (a scale-out or scale-in concerns the group). Two attempts with the same intent are
/// one action tried twice, so a retry after a failure is charged to the budget once.
pub fn intent(action: &Action) -> String {
    intent_of(action.kind(), action.instance().map(String::as_str))
}

/// [`intent`] from its parts.
pub fn intent_of(kind: ActionKind, instance: Option<&str>) -> String {
    match instance {
        Some(id) => format!("{}:{id}", kind.label()),
        None => kind.label().to_owned(),
    }
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

    /// The charge a new attempt of `action` can reuse: the time of the charge its intent's last,
    /// failed attempt holds, while that charge is still inside the budget window.
    pub fn retry_charge(&self, action: &Action, now: Time) -> Option<Time> {
        let at = *self.failed.get(&intent(action))?;
        let kind = action.kind();
        (now - at < 3600.0 && self.actions.iter().any(|&(t, k)| t == at && k == kind)).then_some(at)
    }

    /// Charges a decided action to the budget and remembers what it is about to change, so
    /// [`History::settle`] can put it back. Called before the planner writes cooldowns, ladder
    /// rungs or migration times for it. A retry moves its intent's failed charge to `now`
    /// instead of adding one: the charge then ages from the attempt that may take effect.
    pub fn charge(&mut self, id: &str, action: &Action, now: Time) {
        let kind = action.kind();
        if let Some(at) = self.retry_charge(action, now)
            && let Some(pos) = self.actions.iter().position(|&(t, k)| t == at && k == kind)
        {
            self.actions.remove(pos);
        }
        self.failed.remove(&intent(action));
        self.actions.push_back((now, kind));
        let instance = action.instance().map(|i| {
            (
                i.clone(),
                self.ladders.get(i).cloned(),
                self.migrated_at.get(i).copied(),
            )
        });
        self.unsettled.insert(
            id.to_owned(),
            Undo {
                intent: intent(action),
                kind,
                at: now,
                scale_before: match kind {
                    ActionKind::ScaleOut => self.last_scale_out,
                    ActionKind::ScaleIn => self.last_scale_in,
                    _ => None,
                },
                instance,
            },
        );
    }

    /// Takes the executor's word that the actions `failed` (of the last decision) took no
    /// effect: the API refused them, failed, or they were never sent.
    ///
    /// What an SRE expects after an API outage is that the controller does at once what the
    /// service needs, as if the outage had not eaten its memory:
    /// - A failed action starts no cooldown, advances no healing-ladder rung and marks no
    ///   instance as migrated: its writes to the history are put back. Otherwise a long outage
    ///   leaves the controller waiting out cooldowns of scale-outs that never happened, or
    ///   skipping to a hard reboot or a replacement for an instance that was never rebooted.
    /// - It stays charged to the hourly budget: the budget bounds how many distinct actions
    ///   sloop attempts per hour, whatever the API answers, and a failure that may have applied
    ///   (a lost answer) is still counted.
    /// - A retry of the same intent after an outage reuses that charge (moved to the retry's
    ///   time) rather than taking a new one, so an outage of any length costs one charge per
    ///   intent instead of one per tick, and the budget is not spent when the API comes back.
    ///   The API itself is spared by the executor's breaker: after a service-wide failure, no
    ///   further call to that API in the same pass, so at most one failing call per API per tick.
    ///
    /// A refusal that repeating will not change is different (see [`FailureClass`]): each
    /// attempt takes its own charge, and a rung refused for the server's state stays taken, so
    /// the ladder moves past it at once instead of sending it again. Every failure backs its
    /// intent off ([`History::back_off`]).
    ///
    /// Pure, so a decision log that records the failures replays exactly.
    pub fn settle(&mut self, failed: &[Failure]) {
        for f in failed {
            let Some(undo) = self.unsettled.remove(&f.id) else {
                continue;
            };
            match undo.kind {
                ActionKind::ScaleOut => self.last_scale_out = undo.scale_before,
                ActionKind::ScaleIn => self.last_scale_in = undo.scale_before,
                _ => {}
            }
            let rung_refused = f.class == FailureClass::State && adopt::rung_of(undo.kind).is_some();
            if let Some((instance, ladder, migrated)) = undo.instance
                && !rung_refused
            {
                match ladder {
                    Some(state) => self.ladders.insert(instance.clone(), state),
                    None => self.ladders.remove(&instance),
                };
                match migrated {
                    Some(t) => self.migrated_at.insert(instance, t),
                    None => self.migrated_at.remove(&instance),
                };
            }
            if f.class == FailureClass::Outage {
                self.failed.insert(undo.intent.clone(), undo.at);
            }
            self.back_off(&undo.intent, undo.at, f.class, &f.detail);
        }
    }

    /// The actions of the last decision not reported failed took effect: their intents no
    /// longer back off. Called by the next decision before it forgets them. A scale-out is the
    /// exception: its servers may still end in ERROR, so its backoff ends when a new server
    /// becomes active (`plan::heal`), not when Nova accepts the create.
    pub fn succeeded(&mut self) {
        for undo in std::mem::take(&mut self.unsettled).into_values() {
            if undo.kind != ActionKind::ScaleOut {
                self.backoff.remove(&undo.intent);
            }
        }
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
        self.failed.retain(|_, t| now - *t < 3600.0);
        self.prune_backoff(now);
        self.failed_creates.retain(|id, _| live.contains(id));
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
