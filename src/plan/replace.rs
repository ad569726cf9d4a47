//! Replacements, from the create to the delete. Pure.
//!
//! A `replace` rung only creates the new server, which names the old one in its metadata
//! (`sloop.replaces`, read into [`Instance::replaces`]). The old server stays, drained, and is
//! deleted on the first pass that finds its replacement serving: ACTIVE and in the pool (or
//! just ACTIVE without a pool). Until then it is left alone: no other rung, no second
//! replacement. The pair lives on the cloud, so a restarted controller picks up where the
//! last one stopped.
//!
//! Where Nova put the replacement is checked: one on a host whose compute service is down
//! (the host the old server died with, which the scheduler may still pick until Nova notices)
//! serves nothing. It is deleted with a page naming the host, and the old server is replaced
//! again once the replacement's backoff has passed.

use super::{Builder, Gate, broken::dead_host};
use crate::{
    decision::{Action, ActionKind, Alert, Cause, Evidence},
    history::{FailureClass, intent_of},
    judge::diagnose::in_rotation,
    policy::{Policy, Severity},
    snapshot::{Instance, InstanceStatus, Snapshot},
};

/// The replacement of server `id` that is still on its way or serving: one naming it, not
/// failed (ERROR), not being deleted, and not on a dead host.
pub(super) fn pending_replacement<'a>(snap: &'a Snapshot, id: &str) -> Option<&'a Instance> {
    snap.inventory.iter().find(|r| {
        r.replaces.as_deref() == Some(id)
            && !matches!(r.status, InstanceStatus::Error | InstanceStatus::Deleting)
            && dead_host(snap, r).is_none()
    })
}

/// Whether `inst` is the replacement of a server that is still in the inventory.
pub(super) fn replaces_live(snap: &Snapshot, inst: &Instance) -> bool {
    inst.replaces
        .as_deref()
        .is_some_and(|old| snap.inventory.iter().any(|i| i.id == old))
}

/// Deletes replaced servers whose replacement serves, and replacements that landed on a dead
/// host.
pub(super) fn finish(policy: &Policy, snap: &Snapshot, gate: &mut Gate<'_>, b: &mut Builder<'_>) {
    for new in &snap.inventory {
        let Some(old) = new
            .replaces
            .as_deref()
            .and_then(|id| snap.inventory.iter().find(|i| i.id == id))
        else {
            continue;
        };
        if old.status == InstanceStatus::Deleting || new.status == InstanceStatus::Deleting {
            continue;
        }
        if let Some(host) = dead_host(snap, new) {
            misplaced(new, old, host, gate, b);
            continue;
        }
        if !in_rotation(policy, new) || gate.busy(&old.id) {
            continue;
        }
        let place = new
            .host
            .as_deref()
            .map(|h| format!(" on {h}"))
            .unwrap_or_default();
        let pool = if policy.spec.traffic.is_some() {
            " and in the pool"
        } else {
            ""
        };
        b.propose(
            gate,
            Action::ScaleIn {
                instances: vec![old.id.clone()],
            },
            Cause::InstanceFault,
            Evidence {
                summary: format!(
                    "replacement {} serves (ACTIVE{pool}{place}): the server it replaces, {} ({:?}), is deleted",
                    new.id, old.id, old.status
                ),
                ..Evidence::default()
            },
        );
    }
}

/// A replacement Nova put on a host whose compute service is down: page, delete it, and back
/// the old server's replacement off so the next one is made after a pause, not every pass.
fn misplaced(new: &Instance, old: &Instance, host: &str, gate: &mut Gate<'_>, b: &mut Builder<'_>) {
    let summary = format!(
        "replacement {} of {} landed on {host}, whose compute service is down: deleted, replacing again elsewhere",
        new.id, old.id
    );
    b.alert(Alert {
        severity: Severity::Page,
        name: "replacement-on-dead-host".into(),
        summary: summary.clone(),
    });
    if gate.busy(&new.id) {
        return;
    }
    let proposed = b.propose(
        gate,
        Action::ScaleIn {
            instances: vec![new.id.clone()],
        },
        Cause::InstanceFault,
        Evidence {
            summary: summary.clone(),
            ..Evidence::default()
        },
    );
    if proposed {
        let intent = intent_of(ActionKind::Replace, Some(&old.id));
        b.history
            .back_off(&intent, gate.now, FailureClass::Refused, &summary);
    }
}
