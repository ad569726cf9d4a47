//! Plugs the Kubernetes parts (`crate::k8s`) into the controller's seams: the Lease elector
//! becomes a [`Leadership`] (released on graceful shutdown), ConfigMap policy changes become
//! [`PolicyEvent`]s, and journal entries become Kubernetes Events through an [`ActionSink`].

use super::{Leadership, PolicyEvent};
use crate::{
    journal::{ActionSink, EntryOutcome, JournalEntry},
    k8s::{self, ActionEvent, Elector, EventSink, events::Verdict},
};
use std::time::Duration;
use tokio::sync::mpsc;

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

/// How long the ConfigMap source must stay quiet after start before it counts as synced (the
/// watcher lists every ConfigMap first, as one burst of upserts, and sends no end marker).
pub const CONFIGMAP_SETTLE: Duration = Duration::from_secs(2);

/// Forwards ConfigMap policy changes into the controller's channel, and announces the source
/// as synced once its initial burst has settled.
pub async fn forward_policies(
    mut from: mpsc::Receiver<k8s::PolicyEvent>,
    to: mpsc::Sender<PolicyEvent>,
    label: String,
) {
    let mut synced = false;
    loop {
        let next = if synced {
            from.recv().await
        } else {
            match tokio::time::timeout(CONFIGMAP_SETTLE, from.recv()).await {
                Ok(ev) => ev,
                Err(_) => {
                    synced = true;
                    let ev = PolicyEvent::Synced {
                        source_label: label.clone(),
                    };
                    if to.send(ev).await.is_err() {
                        return;
                    }
                    continue;
                }
            }
        };
        let Some(ev) = next else { return };
        let ev = match ev {
            k8s::PolicyEvent::Upsert {
                name,
                source_label,
                text,
            } => PolicyEvent::Upsert {
                name,
                source_label,
                text,
            },
            k8s::PolicyEvent::Remove { name } => PolicyEvent::Remove { name },
        };
        if to.send(ev).await.is_err() {
            return;
        }
    }
}

/// Journal entries as Kubernetes Events (executed, failed, would-be and refused actions; a
/// skipped one is not news for the cluster).
pub struct EventsSink(pub EventSink);

impl ActionSink for EventsSink {
    fn record(&self, e: &JournalEntry) {
        let verdict = match (e.outcome, e.reason) {
            (EntryOutcome::Done, _) => Verdict::Taken,
            (EntryOutcome::Failed, _) => Verdict::Failed(e.detail.clone().unwrap_or_default()),
            (EntryOutcome::Would, _) => Verdict::WouldTake,
            (EntryOutcome::Refused, Some(r)) => Verdict::Refused(r),
            (EntryOutcome::Refused, None) | (EntryOutcome::Skipped, _) => return,
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
        let note = format!(
            "{}: {verb}{} {} ({cause}): {}",
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
