//! The single entry point of the decision core:
//! `decide(&Policy, &Snapshot, &History, now) -> (Decision, History)`.
//!
//! Pure: no IO, no clock reads, no randomness. The same inputs give the same decision, which is
//! what makes rehearsals deterministic and recorded decision logs replayable.

use crate::{
    decision::{Decision, RefusalReason},
    history::History,
    judge, plan,
    policy::{Mode, Policy},
    snapshot::{Snapshot, Time},
};

/// Weight of a new observation in the smoothed service-rate estimate.
const SERVICE_RATE_ALPHA: f64 = 0.2;

/// Judges the snapshot, plans actions and returns the decision with the updated history.
pub fn decide(policy: &Policy, snap: &Snapshot, history: &History, now: Time) -> (Decision, History) {
    let mut history = history.clone();
    // The previous decision's actions that were not reported failed took effect.
    history.succeeded();
    // The servers remember their repairs even when this process and its journal do not.
    history.adopt_stamps(&policy.spec.healing.ladder, &snap.inventory, now);
    let charged = (history.actions.clone(), history.failed.clone());
    track_hot_hosts(policy, snap, &mut history, now);
    if let Some(load) = snap.load {
        history.loads.push_back((now, load.requests));
    }
    history.forecast.observe(policy, snap, now);
    let judgement = judge::judge(policy, snap, &history, now);
    for d in &judgement.diagnoses {
        if let crate::decision::Diagnosis::HostFault { host, .. } = d {
            // First diagnosis only: a standing fault re-diagnosed from memory must not renew
            // itself (see `History::host_faults`).
            history.host_faults.entry(host.clone()).or_insert(now);
        }
    }
    if let Some(observed) = judgement.capacity.observed_service_rate {
        history.service_rate = Some(match history.service_rate {
            Some(old) => old + SERVICE_RATE_ALPHA * (observed - old),
            None => observed,
        });
    }
    let plan = plan::plan(policy, snap, &judgement, &mut history, now);
    let mut decision = Decision {
        now,
        verdicts: judgement.verdicts,
        diagnoses: judgement.diagnoses,
        actions: plan.actions,
        refusals: plan.refusals,
        alerts: plan.alerts,
    };
    if policy.spec.mode == Mode::DryRun {
        // Same pipeline, one gate: everything is decided, nothing is done, and the world has
        // not changed, so the history must not believe it did.
        history = dry_run_history(history, &decision);
        (history.actions, history.failed) = charged;
        history.unsettled.clear();
        for a in std::mem::take(&mut decision.actions) {
            decision.refusals.push(crate::decision::Refusal {
                action: a.action,
                cause: a.cause,
                reason: RefusalReason::DryRun,
                evidence: a.evidence,
            });
        }
    }
    let longest = policy
        .spec
        .scaling
        .scale_in
        .stabilization
        .secs()
        .max(policy.spec.scaling.out.stabilization.secs());
    let live: Vec<String> = snap.inventory.iter().map(|i| i.id.clone()).collect();
    history.prune(now, longest, &live);
    (decision, history)
}

/// Puts back what the planner wrote for the actions dry-run does not take (the budget charges
/// are put back by the caller).
fn dry_run_history(mut h: History, d: &Decision) -> History {
    for a in &d.actions {
        if let Some(id) = a.action.instance() {
            h.ladders.remove(id);
            h.migrated_at.remove(id);
        }
        match a.action.kind() {
            crate::decision::ActionKind::ScaleOut => h.last_scale_out = None,
            crate::decision::ActionKind::ScaleIn => h.last_scale_in = None,
            _ => {}
        }
    }
    h
}

/// Updates since-when each host has met a migrate rule. Missing data resets the clock: a rule
/// never holds on data we do not have.
fn track_hot_hosts(policy: &Policy, snap: &Snapshot, history: &mut History, now: Time) {
    let rules = &policy.spec.healing.migrate_when;
    if rules.is_empty() {
        history.host_hot_since.clear();
        return;
    }
    for (host, metrics) in &snap.telemetry.hypervisors {
        let hot = rules.iter().any(|r| {
            metrics
                .get(&r.metric)
                .and_then(|m| m.value)
                .is_some_and(|v| v > r.above)
        });
        if hot {
            history.host_hot_since.entry(host.clone()).or_insert(now);
        } else {
            history.host_hot_since.remove(host);
        }
    }
    history
        .host_hot_since
        .retain(|h, _| snap.telemetry.hypervisors.contains_key(h));
}
