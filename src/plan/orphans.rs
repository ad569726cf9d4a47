//! Orphan pool members: a member whose server is gone, or whose server is being deleted while
//! the member still has weight, gets a share of the requests and fails every one. It is
//! removed (a scale-in of its server, which removes the member at once when nothing answers
//! behind it and finds the server already gone), with the member in the evidence. Members are
//! never created for a server being deleted (`Traffic::set_member_weight` refuses). Pure.

use super::{Builder, Gate};
use crate::{
    decision::{Action, Cause, Evidence},
    policy::Policy,
    snapshot::{InstanceStatus, Snapshot},
};

/// Removes the members of gone servers and of servers being deleted.
pub(super) fn remove(policy: &Policy, snap: &Snapshot, gate: &mut Gate<'_>, b: &mut Builder<'_>) {
    if policy.spec.traffic.is_none() {
        return;
    }
    for o in &snap.orphan_members {
        let evidence = Evidence {
            summary: format!(
                "pool member {} (weight {}) is named after server {}, which Nova no longer lists: removed",
                o.address, o.weight, o.server
            ),
            metrics: vec![("member_weight".into(), f64::from(o.weight))],
            ..Evidence::default()
        };
        b.propose(
            gate,
            Action::ScaleIn {
                instances: vec![o.server.clone()],
            },
            Cause::OrphanMember,
            evidence,
        );
    }
    // A server being deleted is work in flight (the gate calls it busy); its member is removed
    // all the same, which is what finishing that work needs.
    for inst in &snap.inventory {
        let Some(m) = inst.member.filter(|m| m.weight > 0) else {
            continue;
        };
        if inst.status != InstanceStatus::Deleting {
            continue;
        }
        b.propose(
            gate,
            Action::ScaleIn {
                instances: vec![inst.id.clone()],
            },
            Cause::OrphanMember,
            Evidence {
                summary: format!(
                    "server {} is being deleted and its pool member still has weight {}: removed",
                    inst.id, m.weight
                ),
                metrics: vec![("member_weight".into(), f64::from(m.weight))],
                ..Evidence::default()
            },
        );
    }
}
