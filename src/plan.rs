//! From a judgement to the smallest safe set of actions (pure). Every action passes the same
//! gates — freezes, the hourly budget, concurrency, never-below-N-healthy — and every refusal
//! says which gate stopped it.
//!
//! Order matters when the budget is tight: admitting serving instances first (it only restores
//! capacity), then healing, then scaling out, then scaling in.

mod broken;
pub mod flood;
mod heal;
pub mod margin;
mod orphans;
pub mod peaks;
mod remedy;
mod replace;
mod scale;

use crate::{
    decision::{Action, Alert, Cause, Evidence, PlannedAction, Refusal, RefusalReason},
    history::History,
    judge::Judgement,
    policy::Policy,
    snapshot::{InstanceId, Snapshot, Time},
};

/// Actions, refusals and alerts of one pass.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// To execute.
    pub actions: Vec<PlannedAction>,
    /// Considered and refused.
    pub refusals: Vec<Refusal>,
    /// For humans.
    pub alerts: Vec<Alert>,
}

/// The gates every action passes, with what is left of the budget this tick.
pub(crate) struct Gate<'a> {
    pub policy: &'a Policy,
    pub now: Time,
    budget_left: u32,
    concurrent_left: u32,
    busy: Vec<InstanceId>,
}

impl<'a> Gate<'a> {
    fn new(policy: &'a Policy, snap: &Snapshot, history: &History, now: Time) -> Self {
        let limits = &policy.spec.limits;
        Self {
            policy,
            now,
            budget_left: limits
                .max_actions_per_hour
                .saturating_sub(history.actions_last_hour(now)),
            concurrent_left: limits
                .max_concurrent_actions
                .saturating_sub(snap.in_flight.len() as u32),
            busy: snap.in_flight.iter().filter_map(|f| f.instance.clone()).collect(),
        }
    }

    /// Whether an action is already running on this instance.
    pub fn busy(&self, id: &str) -> bool {
        self.busy.iter().any(|b| b == id)
    }

    /// Takes one unit of budget and concurrency for `action`, or says why not. Admitting a
    /// serving instance is not budgeted: it only completes earlier work. Nor is a retry of an
    /// action whose failed attempt still holds its charge (`retry`): it reuses that charge
    /// ([`History::settle`] says why).
    pub fn admit(&mut self, action: &Action, retry: bool) -> Result<(), RefusalReason> {
        let budgeted = !matches!(action, Action::Admit { .. }) && !retry;
        if budgeted && self.budget_left == 0 {
            return Err(RefusalReason::Budget);
        }
        if self.concurrent_left == 0 {
            return Err(RefusalReason::MaxConcurrent);
        }
        if budgeted {
            self.budget_left -= 1;
        }
        self.concurrent_left -= 1;
        if let Some(id) = action.instance() {
            self.busy.push(id.clone());
        }
        Ok(())
    }
}

/// Collects decisions as they are made.
pub(crate) struct Builder<'h> {
    pub history: &'h mut History,
    pub plan: Plan,
}

impl Builder<'_> {
    /// Passes `action` through the gate; records it as planned or refused.
    pub fn propose(&mut self, gate: &mut Gate<'_>, action: Action, cause: Cause, evidence: Evidence) -> bool {
        if self.history.backing_off(&action, gate.now).is_some() {
            self.refuse(action, cause, RefusalReason::Backoff, evidence);
            return false;
        }
        let retry = self.history.retry_charge(&action, gate.now).is_some();
        match gate.admit(&action, retry) {
            Ok(()) => {
                let id = self.history.action_id(&gate.policy.metadata.name, gate.now);
                self.history.charge(&id, &action, gate.now);
                self.plan.actions.push(PlannedAction {
                    id,
                    action,
                    cause,
                    evidence,
                });
                true
            }
            Err(reason) => {
                self.refuse(action, cause, reason, evidence);
                false
            }
        }
    }

    /// Records a refusal.
    pub fn refuse(&mut self, action: Action, cause: Cause, reason: RefusalReason, evidence: Evidence) {
        self.plan.refusals.push(Refusal {
            action,
            cause,
            reason,
            evidence,
        });
    }

    /// Raises an alert once per pass.
    pub fn alert(&mut self, alert: Alert) {
        if !self
            .plan
            .alerts
            .iter()
            .any(|a| a.name == alert.name && a.summary == alert.summary)
        {
            self.plan.alerts.push(alert);
        }
    }
}

/// Plans actions for one pass. `history` is updated with what was decided.
pub fn plan(
    policy: &Policy,
    snap: &Snapshot,
    judgement: &Judgement,
    history: &mut History,
    now: Time,
) -> Plan {
    let mut gate = Gate::new(policy, snap, history, now);
    let mut b = Builder {
        history,
        plan: Plan::default(),
    };
    heal::alerts(policy, judgement, &mut b);
    broken::failed_creates(policy, snap, &mut gate, &mut b);
    heal::admit(policy, snap, judgement, &mut gate, &mut b);
    replace::finish(policy, snap, &mut gate, &mut b);
    orphans::remove(policy, snap, &mut gate, &mut b);
    heal::heal(policy, snap, judgement, &mut gate, &mut b);
    peaks::track(policy, judgement, b.history, now);
    flood::remember(judgement, b.history, now);
    scale::scale(policy, snap, judgement, &mut gate, &mut b);
    broken::backoff_alerts(&mut b, now);
    b.plan
}
