//! Plugs the Kubernetes parts (`crate::k8s`) into the controller's seams: the Lease elector
//! becomes a [`Leadership`] (released on graceful shutdown) and journal entries become
//! Kubernetes Events through an [`ActionSink`]. (The ConfigMap watcher sends the controller's
//! own [`super::PolicyEvent`]s into `Controller::events`.)

use super::Leadership;
use crate::{
    journal::{ActionSink, EntryOutcome, JournalEntry},
    k8s::{ActionEvent, Elector, EventSink, events::Verdict},
};

/// Leadership that follows the Lease; on graceful shutdown the Lease is released so another
/// replica takes over at once.
pub fn leadership(elector: Elector) -> Leadership {
    Leadership::new(elector.receiver()).with_release(move || async move {
        match elector.release().await {
            Ok(()) => tracing::info!("Lease released."),
            Err(e) => tracing::warn!(error = %e, "Lease release failed; it expires on its own."),
        }
    })
}

/// Journal entries as Kubernetes Events (executed, failed, would-be and refused actions, and
/// interrupted ones resolved after a restart; a skipped one is not news for the cluster).
pub struct EventsSink(pub EventSink);

impl ActionSink for EventsSink {
    fn record(&self, e: &JournalEntry) {
        let verdict = match (e.outcome, e.reason) {
            (EntryOutcome::Done, _) => Verdict::Taken,
            (EntryOutcome::Abandoned, _) => Verdict::Abandoned,
            (EntryOutcome::Failed, _) => Verdict::Failed(e.detail.clone().unwrap_or_default()),
            (EntryOutcome::Would, _) => Verdict::WouldTake,
            (EntryOutcome::Refused, Some(r)) => Verdict::Refused(r),
            (EntryOutcome::Refused, None)
            | (EntryOutcome::Skipped | EntryOutcome::Started | EntryOutcome::Lifted, _) => return,
        };
        let cause = serde_json::to_value(e.cause)
            .ok()
            .and_then(|c| c.as_str().map(str::to_owned))
            .unwrap_or_default();
        let verb = match e.outcome {
            EntryOutcome::Would => "would ",
            EntryOutcome::Refused => "refused ",
            _ => "",
        };
        // An action resolved after a restart says so (its detail names the resolution).
        let resolved = match (e.outcome, &e.detail) {
            (EntryOutcome::Done | EntryOutcome::Abandoned, Some(d)) => format!(" [{d}]"),
            _ => String::new(),
        };
        let note = format!(
            "{}: {verb}{} {} ({cause}): {}{resolved}",
            e.policy,
            e.kind.label(),
            e.target(),
            e.evidence.summary
        );
        // A full queue is counted by the sink; the journal still has the entry.
        self.0.publish(ActionEvent {
            policy: e.policy.clone(),
            kind: e.kind,
            verdict,
            note,
        });
    }
}
