//! What a task writes to the journal and the action metrics: each action as it ends, and each
//! refusal when it starts and when it ends (not on every pass it persists).

use super::{Task, describe};
use crate::{
    decision::{Decision, RefusalReason},
    journal::{EntryOutcome, JournalEntry},
    policy::Mode,
    run::cloud::LiveCloud,
    snapshot::Time,
};

impl<C: LiveCloud> Task<C> {
    pub(super) fn record(&self, e: JournalEntry) {
        self.shared
            .metrics
            .action(&e.policy, e.kind.label(), cause_label(&e), e.outcome.label());
        self.shared.sinks.record(&e);
    }

    /// Journals, counts and shows the interrupted actions of an earlier incarnation that the
    /// last observation resolved (`crate::resolve`).
    pub(super) fn journal_resolved(&mut self) {
        for r in self.rec.take_resolved() {
            self.shared
                .metrics
                .interrupted(&r.entry.policy, r.entry.kind.label(), r.resolution.label());
            *self.view.interrupted.entry(r.resolution.label()).or_default() += 1;
            self.record(r.entry);
        }
        match self.rec.unresolved() {
            0 => self.view.interrupted.remove("pending"),
            n => self.view.interrupted.insert("pending", n as u32),
        };
    }

    /// Journals refusals when they start and when they end (`super::refusals::RefusalBook`). A follower's
    /// dry-run refusals are what the leader does; they are not journalled here.
    pub(super) fn journal_refusals(&mut self, decision: &Decision, now: Time, may_act: bool) {
        let dry = self.policy.spec.mode == Mode::DryRun;
        let current = decision
            .refusals
            .iter()
            .filter(|r| !(r.reason == RefusalReason::DryRun && !dry && !may_act));
        let (started, ended) = self.refusals.pass(now, current);
        for r in started {
            let would = r.reason == RefusalReason::DryRun;
            if would {
                tracing::info!(policy = %self.name(), action = r.action.kind().label(), target = %describe(&r.action), why = %r.evidence.summary, "Dry run: would act.");
            } else {
                self.shared
                    .metrics
                    .refusal(self.name(), r.action.kind().label(), r.reason.label());
            }
            let e = JournalEntry {
                at: now,
                policy: self.name().to_owned(),
                id: None,
                kind: r.action.kind(),
                action: r.action.clone(),
                cause: r.cause,
                reason: (!would).then_some(r.reason),
                outcome: if would {
                    EntryOutcome::Would
                } else {
                    EntryOutcome::Refused
                },
                detail: None,
                duration_ms: None,
                evidence: r.evidence.clone(),
            };
            if would {
                self.record(e);
            } else {
                self.shared.sinks.record(&e);
            }
        }
        for o in ended {
            // A dry run's "would" is not a refusal that ends: only guard rails are lifted.
            if o.refusal.reason == RefusalReason::DryRun {
                continue;
            }
            let e = JournalEntry {
                at: now,
                policy: self.name().to_owned(),
                id: None,
                kind: o.refusal.action.kind(),
                action: o.refusal.action,
                cause: o.refusal.cause,
                reason: Some(o.refusal.reason),
                outcome: EntryOutcome::Lifted,
                detail: Some(format!(
                    "held back for {:.0} min; not refused for the last {:.0} min",
                    (o.last_seen - o.since) / 60.0,
                    (now - o.last_seen) / 60.0
                )),
                duration_ms: None,
                evidence: o.refusal.evidence,
            };
            self.shared.sinks.record(&e);
        }
    }
}

fn cause_label(e: &JournalEntry) -> &'static str {
    match serde_json::to_value(e.cause)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
    {
        Some(s) => CAUSES.iter().find(|c| **c == s).copied().unwrap_or("other"),
        None => "other",
    }
}

const CAUSES: [&str; 11] = [
    "capacity",
    "scheduled-peak",
    "forecast",
    "below-minimum",
    "over-provisioned",
    "instance-fault",
    "host-fault",
    "serving",
    "above-maximum",
    "failed-create",
    "orphan-member",
];
