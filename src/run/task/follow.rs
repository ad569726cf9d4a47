//! What a task follows after it issued an action: actions return once the cloud accepted them
//! (nothing on the reconcile path waits for a boot, a reboot or a drain), so their end is read
//! from later observations. Here: when to look again ([`under_way`]), the servers an action
//! created until they are ACTIVE or have failed ([`Creations`]), and the deferred end of
//! drained removals (`Task::finish_drains`).

use super::Task;
use crate::{
    decision::Decision,
    policy::Policy,
    run::cloud::LiveCloud,
    snapshot::{InstanceId, InstanceStatus, Snapshot, Time},
};
use std::collections::BTreeMap;

/// Whether work is under way that the next pass should see soon ([`super::FOLLOW_UP`]): an
/// action of this pass, work the cloud is still doing, or a server of a pooled group that has
/// never had a member (a new one, waiting for its probes to pass).
pub(super) fn under_way(policy: &Policy, snap: &Snapshot, decision: &Decision) -> bool {
    let pooled = policy.spec.traffic.is_some();
    !decision.actions.is_empty()
        || !snap.in_flight.is_empty()
        || (pooled
            && snap
                .inventory
                .iter()
                .any(|i| i.member.is_none() && i.status == InstanceStatus::Active))
}

/// Servers created by this task's actions, until an observation shows how their build ended.
#[derive(Debug, Default)]
pub(super) struct Creations {
    /// Server → (action ID, when the create was issued).
    pending: BTreeMap<InstanceId, (String, Time)>,
}

/// How the build of a followed server ended.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Built {
    /// ACTIVE, this long after the create was issued.
    Active {
        server: InstanceId,
        action: String,
        after: f64,
    },
    /// ERROR: a failed create, found on this pass.
    Failed {
        server: InstanceId,
        action: String,
        after: f64,
    },
}

impl Creations {
    /// Follows `servers`, created by `action` at `now`.
    pub fn issued(&mut self, action: &str, servers: &[InstanceId], now: Time) {
        for s in servers {
            self.pending.insert(s.clone(), (action.to_owned(), now));
        }
    }

    /// The builds `snap` shows ended; a server gone from the inventory is no longer followed.
    pub fn observe(&mut self, snap: &Snapshot) -> Vec<Built> {
        let mut ended = Vec::new();
        self.pending.retain(|server, (action, at)| {
            let Some(i) = snap.inventory.iter().find(|i| &i.id == server) else {
                return false;
            };
            let (server, action, after) = (server.clone(), action.clone(), snap.observed_at - *at);
            match i.status {
                InstanceStatus::Active => ended.push(Built::Active {
                    server,
                    action,
                    after,
                }),
                InstanceStatus::Error => ended.push(Built::Failed {
                    server,
                    action,
                    after,
                }),
                _ => return true,
            }
            false
        });
        ended
    }
}

impl<C: LiveCloud> Task<C> {
    /// Logs (and counts, for a failure) the builds this observation shows ended: a create that
    /// ends in ERROR is reported on the pass that sees it, not by a call that waited for it.
    pub(super) fn follow_creations(&mut self, snap: &Snapshot) {
        let name = self.name().to_owned();
        for built in self.creations.observe(snap) {
            match built {
                Built::Active {
                    server,
                    action,
                    after,
                } => {
                    tracing::info!(policy = %name, %server, %action, after, "Server ACTIVE.");
                }
                Built::Failed {
                    server,
                    action,
                    after,
                } => {
                    self.shared.metrics.api_error(&name, "act", "build-failed");
                    tracing::warn!(policy = %name, %server, %action, after, "Server ended in ERROR after its create.");
                }
            }
        }
    }

    /// Deletes the servers whose drain grace has passed (issued by earlier scale-ins and
    /// replacements, see [`crate::act::Traffic::finish_drains`]). A failure is logged and
    /// counted; the servers stay retiring and the next pass tries again.
    pub(super) async fn finish_drains(&mut self, now: Time) {
        let name = self.name().to_owned();
        match self.rec.finish_drains(&mut self.cloud, now).await {
            Ok(done) if !done.is_empty() => {
                tracing::info!(policy = %name, servers = ?done, "Drain grace over: members removed and servers deleted.");
            }
            Ok(_) => {}
            Err(e) => {
                let msg = e.to_string();
                let class = msg.split(':').next().unwrap_or("fatal").trim().to_owned();
                self.shared.metrics.api_error(&name, "act", &class);
                tracing::warn!(policy = %name, error = %msg, "Finishing drained removals failed; retrying next pass.");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{InFlight, Instance, LbMember};

    fn instance(id: &str, status: InstanceStatus, member: Option<u16>) -> Instance {
        Instance {
            id: id.into(),
            name: "web-1".into(),
            status,
            host: None,
            addresses: Vec::new(),
            created_at: 0.0,
            active_since: None,
            member: member.map(|weight| LbMember {
                weight,
                admin_up: true,
                online: true,
            }),
            created_by: None,
            stamps: None,
            fault: None,
        }
    }

    fn snap(at: Time, inventory: Vec<Instance>, in_flight: Vec<InFlight>) -> Snapshot {
        Snapshot {
            observed_at: at,
            inventory,
            in_flight,
            ..Snapshot::default()
        }
    }

    #[test]
    fn work_under_way_brings_the_next_pass_forward() {
        let text = include_str!("../../../policies/election-web.yaml");
        let policy = crate::policy::parse("election-web.yaml", text.as_bytes()).expect("valid");
        let decision = Decision::default();
        let settled = snap(
            0.0,
            vec![instance("s1", InstanceStatus::Active, Some(1))],
            Vec::new(),
        );
        assert!(!under_way(&policy, &settled, &decision), "nothing to follow");
        let building = InFlight {
            id: "k/0".into(),
            kind: crate::decision::ActionKind::ScaleOut,
            instance: Some("s1".into()),
            started_at: 0.0,
        };
        assert!(under_way(
            &policy,
            &snap(0.0, Vec::new(), vec![building]),
            &decision
        ));
        let new = snap(
            0.0,
            vec![instance("s1", InstanceStatus::Active, None)],
            Vec::new(),
        );
        assert!(
            under_way(&policy, &new, &decision),
            "a new server waits for admission"
        );
        let drained = snap(
            0.0,
            vec![instance("s1", InstanceStatus::Active, Some(0))],
            Vec::new(),
        );
        assert!(
            !under_way(&policy, &drained, &decision),
            "a drained one waits for its ladder"
        );
        let mut unpooled = policy.clone();
        unpooled.spec.traffic = None;
        assert!(!under_way(&unpooled, &new, &decision), "no pool, nothing to join");
    }

    #[test]
    fn a_build_is_followed_until_it_is_active_or_failed() {
        let mut c = Creations::default();
        c.issued("web-100-1", &["a".into(), "b".into(), "c".into()], 100.0);
        let building = |id: &str| instance(id, InstanceStatus::Building, None);
        assert_eq!(
            c.observe(&snap(
                101.0,
                vec![building("a"), building("b"), building("c")],
                Vec::new()
            )),
            vec![]
        );
        let ended = c.observe(&snap(
            104.5,
            vec![
                instance("a", InstanceStatus::Active, None),
                instance("b", InstanceStatus::Error, None),
            ],
            Vec::new(),
        ));
        assert_eq!(
            ended,
            vec![
                Built::Active {
                    server: "a".into(),
                    action: "web-100-1".into(),
                    after: 4.5
                },
                Built::Failed {
                    server: "b".into(),
                    action: "web-100-1".into(),
                    after: 4.5
                },
            ]
        );
        assert!(
            c.pending.is_empty(),
            "c is gone: no longer followed; a and b ended"
        );
    }
}
