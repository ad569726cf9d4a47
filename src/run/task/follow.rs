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

/// How long a server is still followed after it went ACTIVE without serving yet: an ERROR in
/// that time is a late failure of its create (the fake driver's and a real hypervisor's
/// failures after boot, such as a lost compute), not an instance fault of a server that served.
const LATE_FAILURE_WINDOW: f64 = 600.0;

/// Servers created by this task's actions, until an observation shows how their build ended:
/// ERROR, or serving (a member with weight), or ACTIVE for [`LATE_FAILURE_WINDOW`].
#[derive(Debug, Default)]
pub(super) struct Creations {
    /// Server → (action ID, when the create was issued, when it was first seen ACTIVE).
    pending: BTreeMap<InstanceId, (String, Time, Option<Time>)>,
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
    /// ERROR after it was seen ACTIVE, before it ever served: a late failure of the create.
    FailedLate {
        server: InstanceId,
        action: String,
        after_active: f64,
    },
}

impl Creations {
    /// Follows `servers`, created by `action` at `now`.
    pub fn issued(&mut self, action: &str, servers: &[InstanceId], now: Time) {
        for s in servers {
            self.pending.insert(s.clone(), (action.to_owned(), now, None));
        }
    }

    /// The builds `snap` shows ended, ACTIVE ones once, and late failures of ACTIVE ones that
    /// never served; a server gone from the inventory is no longer followed.
    pub fn observe(&mut self, snap: &Snapshot) -> Vec<Built> {
        let mut ended = Vec::new();
        let now = snap.observed_at;
        self.pending.retain(|server, (action, at, active)| {
            let Some(i) = snap.inventory.iter().find(|i| &i.id == server) else {
                return false;
            };
            let (server, action) = (server.clone(), action.clone());
            match (i.status, *active) {
                (InstanceStatus::Error, None) => ended.push(Built::Failed {
                    server,
                    action,
                    after: now - *at,
                }),
                (InstanceStatus::Error, Some(since)) => ended.push(Built::FailedLate {
                    server,
                    action,
                    after_active: now - since,
                }),
                (InstanceStatus::Active, None) => {
                    ended.push(Built::Active {
                        server,
                        action,
                        after: now - *at,
                    });
                    *active = Some(now);
                    return !serves(i);
                }
                (_, Some(since)) => return !serves(i) && now - since < LATE_FAILURE_WINDOW,
                (_, None) => return true,
            }
            false
        });
        ended
    }
}

/// Whether the server takes traffic: its build can no longer fail.
fn serves(i: &crate::snapshot::Instance) -> bool {
    i.member.is_some_and(|m| m.weight > 0)
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
                // The decision core counts it as a failed scale-out (`plan/broken.rs`): an ERROR
                // server sloop created that never served.
                Built::FailedLate {
                    server,
                    action,
                    after_active,
                } => {
                    self.shared.metrics.api_error(&name, "act", "build-failed");
                    tracing::warn!(policy = %name, %server, %action, after_active,
                        "Server went to ERROR after it was ACTIVE, before it served: a failed create.");
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
                error: false,
            }),
            created_by: None,
            stamps: None,
            fault: None,
            replaces: None,
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
        assert_eq!(
            c.pending.keys().collect::<Vec<_>>(),
            ["a"],
            "c is gone: no longer followed; b ended; a is ACTIVE but has not served yet"
        );
        assert_eq!(
            c.observe(&snap(
                110.0,
                vec![instance("a", InstanceStatus::Active, None)],
                Vec::new()
            )),
            vec![],
            "ACTIVE is reported once"
        );
        assert_eq!(
            c.observe(&snap(
                112.0,
                vec![instance("a", InstanceStatus::Error, None)],
                Vec::new()
            )),
            vec![Built::FailedLate {
                server: "a".into(),
                action: "web-100-1".into(),
                after_active: 7.5
            }],
            "an ERROR after ACTIVE, before serving, is a late failure of the create"
        );
        assert!(c.pending.is_empty());
        c.issued("web-200-1", &["d".into()], 200.0);
        c.observe(&snap(
            203.0,
            vec![instance("d", InstanceStatus::Active, None)],
            Vec::new(),
        ));
        c.observe(&snap(
            204.0,
            vec![instance("d", InstanceStatus::Active, Some(1))],
            Vec::new(),
        ));
        assert!(c.pending.is_empty(), "a server that serves is no longer followed");
    }
}
