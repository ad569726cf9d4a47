//! Rows for repairs on Nova's real semantics: servers the cloud says cannot serve, dead
//! hypervisors, failed creates, and actions that keep failing.

use super::*;
use sloop::history::{Backoff, FailureClass};

fn reboot(id: &str, hard: bool) -> Action {
    Action::Reboot {
        instance: id.into(),
        hard,
    }
}
fn has(d: &Decision, a: &Action) -> bool {
    d.actions.iter().any(|x| &x.action == a)
}
fn drain(id: &str) -> Action {
    Action::Drain { instance: id.into() }
}
/// `vm-1` was drained by the ladder's first rung a few seconds ago.
fn drained_vm1(now: f64) -> History {
    let mut h = fresh(now);
    h.ladders.insert(
        "vm-1".into(),
        LadderState {
            rung: 0,
            since: now - 5.0,
            drained: true,
        },
    );
    h
}
/// `vm-1` (on the dead host `h1`) got its replacement 20 s ago.
fn replacing_vm1(now: f64) -> History {
    let mut h = drained_vm1(now);
    let ladder = &election_policy().spec.healing.ladder;
    let state = h.ladders.get_mut("vm-1").expect("ladder");
    state.rung = ladder
        .iter()
        .position(|r| *r == sloop::policy::Rung::Replace)
        .expect("the ladder replaces");
    state.since = now - 20.0;
    h
}
fn scale_in(id: &str) -> Action {
    Action::ScaleIn {
        instances: vec![id.into()],
    }
}
fn replace(id: &str) -> Action {
    Action::Replace {
        instance: id.into(),
        delete_old: false,
    }
}
/// `vm-1` in ERROR and drained on the dead host `h1`, with its replacement `new-1` on `host`.
fn replacing(host: &str, serving: bool) -> Fixture {
    Fixture::healthy(6)
        .host_down("h1")
        .instance_error("vm-1")
        .drained("vm-1")
        .replacement("new-1", "vm-1", host, serving)
}
fn backoff(now: f64, class: FailureClass, detail: &str, alerted: bool) -> Backoff {
    Backoff {
        failures: 1,
        last: now - 5.0,
        until: now + 60.0,
        class,
        detail: detail.into(),
        alerted,
    }
}

pub(super) fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "error_member_taking_traffic_is_drained_first",
            why: "an ERROR server whose member has weight 1 gets every request it is sent and fails it: drained first, never a soft reboot Nova refuses",
            fixture: Fixture::healthy(6).instance_error("vm-1"),
            history: fresh,
            policy: same,
            expect: |d| {
                check(has(d, &drain("vm-1")), format!("actions: {:?}", kinds(d)))?;
                check(!has(d, &reboot("vm-1", false)), "soft reboot of an ERROR server")
            },
        },
        Case {
            name: "error_server_after_its_drain_is_hard_rebooted",
            why: "the ladder starts at the first rung the state allows: Nova refuses a soft reboot in vm_state error",
            fixture: Fixture::healthy(6).instance_error("vm-1").drained("vm-1"),
            history: drained_vm1,
            policy: same,
            expect: |d| check(has(d, &reboot("vm-1", true)), format!("actions: {:?}", d.actions)),
        },
        Case {
            name: "shutoff_member_is_drained_then_hard_rebooted",
            why: "SHUTOFF serves nothing: drain at once; a hard reboot starts it (os-start's effect) where a soft one gets 409",
            fixture: Fixture::healthy(6).instance_shutoff("vm-1"),
            history: fresh,
            policy: same,
            expect: |d| {
                check(has(d, &drain("vm-1")), format!("actions: {:?}", kinds(d)))?;
                let snap = Fixture::healthy(6).instance_shutoff("vm-1").drained("vm-1");
                let now = snap.now;
                let (next, _) = decide(&election_policy(), &snap.build(), &drained_vm1(now), now);
                check(
                    has(&next, &reboot("vm-1", true)),
                    format!("next pass: {:?}", next.actions),
                )
            },
        },
        Case {
            name: "a_rung_refused_for_the_state_moves_on_at_once",
            why: "a 409 for the server's state is final: the next rung goes out on the next pass, not after the rung timeout, and the refused one never again",
            fixture: Fixture::healthy(6).instance_down("vm-1").drained("vm-1"),
            history: |now| {
                let mut h = drained_vm1(now);
                h.ladders.get_mut("vm-1").expect("ladder").rung = 1;
                h.backoff.insert(
                    "reboot-soft:vm-1".into(),
                    backoff(
                        now,
                        FailureClass::State,
                        "Cannot 'reboot' instance while it is in vm_state stopped",
                        false,
                    ),
                );
                h
            },
            policy: same,
            expect: |d| {
                check(has(d, &reboot("vm-1", true)), format!("actions: {:?}", d.actions))?;
                check(!has(d, &reboot("vm-1", false)), "the refused rung again")
            },
        },
        Case {
            name: "servers_on_a_dead_host_are_drained",
            why: "a dead hypervisor's servers are in ERROR and still get traffic: drained at once, not live-migrated (nothing can move them)",
            fixture: Fixture::healthy(6)
                .host_down("h1")
                .instance_error("vm-1")
                .instance_error("vm-4"),
            history: fresh,
            policy: same,
            expect: |d| {
                check(has_diag(d, "host-fault"), format!("diagnoses: {:?}", d.diagnoses))?;
                check(
                    has(d, &drain("vm-1")) && has(d, &drain("vm-4")),
                    format!("actions: {:?}", d.actions),
                )?;
                check(
                    !kinds(d).contains(&ActionKind::Migrate),
                    format!("migrations off a dead host: {:?}", kinds(d)),
                )?;
                check(
                    !d.alerts.iter().any(|a| a.name == "freeze"),
                    format!("a dead host is not a probe fault: {:?}", d.alerts),
                )
            },
        },
        Case {
            name: "drained_servers_on_a_dead_host_are_replaced_not_rebooted",
            why: "a server that cannot be repaired where it is skips the reboots and is replaced elsewhere",
            fixture: Fixture::healthy(6)
                .host_down("h1")
                .instance_error("vm-1")
                .drained("vm-1"),
            history: drained_vm1,
            policy: same,
            expect: |d| {
                check(
                    has(
                        d,
                        &Action::Replace {
                            instance: "vm-1".into(),
                            delete_old: false,
                        },
                    ),
                    format!("actions: {:?}", d.actions),
                )?;
                check(!has(d, &reboot("vm-1", true)), "a reboot on a dead host")
            },
        },
        Case {
            name: "a_replaced_server_stays_until_its_replacement_serves",
            why: "deleting the dead server before its replacement serves loses the only record of the repair and, on a restart, the capacity: it waits, and gets no second replacement",
            fixture: replacing("h2", false),
            history: replacing_vm1,
            policy: same,
            expect: |d| {
                check(
                    !has(d, &scale_in("vm-1")),
                    format!("deleted early: {:?}", d.actions),
                )?;
                check(
                    !has(d, &replace("vm-1")),
                    format!("a second replacement: {:?}", d.actions),
                )
            },
        },
        Case {
            name: "a_replaced_server_is_deleted_once_its_replacement_serves",
            why: "the replacement is ACTIVE and in the pool: the dead server goes, with the replacement named in the evidence",
            fixture: replacing("h2", true),
            history: replacing_vm1,
            policy: same,
            expect: |d| {
                check(
                    d.actions.iter().any(|a| {
                        a.action == scale_in("vm-1")
                            && a.evidence.summary.contains("replacement new-1 serves")
                    }),
                    format!("actions: {:?}", d.actions),
                )?;
                check(!has(d, &scale_in("new-1")), "the replacement deleted")
            },
        },
        Case {
            name: "a_replacement_on_the_dead_host_is_deleted_with_a_page",
            why: "Nova may still place on a host whose compute service just died: that replacement serves nothing, so it is deleted, paged, and the old server waits for another",
            fixture: replacing("h1", true),
            history: replacing_vm1,
            policy: same,
            expect: |d| {
                check(has(d, &scale_in("new-1")), format!("actions: {:?}", d.actions))?;
                check(
                    !has(d, &scale_in("vm-1")),
                    "the replaced server deleted for a misplaced replacement",
                )?;
                check(
                    d.alerts
                        .iter()
                        .any(|a| a.name == "replacement-on-dead-host" && a.summary.contains("h1")),
                    format!("alerts: {:?}", d.alerts),
                )
            },
        },
        Case {
            name: "a_server_whose_replacement_failed_is_replaced_again",
            why: "a replace rung has nothing after it: once its replacement is gone (ERROR, deleted), the server is replaced again instead of paging the ladder exhausted",
            fixture: Fixture::healthy(6)
                .host_down("h1")
                .instance_error("vm-1")
                .drained("vm-1"),
            history: |now| {
                let mut h = replacing_vm1(now);
                h.ladders.get_mut("vm-1").expect("ladder").since = now - 60.0;
                h
            },
            policy: same,
            expect: |d| {
                check(has(d, &replace("vm-1")), format!("actions: {:?}", d.actions))?;
                check(
                    !d.alerts.iter().any(|a| a.name == "ladder-exhausted"),
                    format!("alerts: {:?}", d.alerts),
                )
            },
        },
        Case {
            name: "a_member_whose_server_is_gone_is_removed_with_evidence",
            why: "a member left behind by a deleted server gets its share of requests and fails each: it is removed, and the decision names the member and the server",
            fixture: Fixture::healthy(6).orphan_member("gone-1", "2001:db8::99"),
            history: fresh,
            policy: same,
            expect: |d| {
                check(
                    d.actions.iter().any(|a| {
                        a.cause == Cause::OrphanMember
                            && a.action == scale_in("gone-1")
                            && a.evidence.summary.contains("2001:db8::99")
                    }),
                    format!("actions: {:?}", d.actions),
                )
            },
        },
        Case {
            name: "a_member_of_a_server_being_deleted_is_removed_never_admitted",
            why: "a server Nova is deleting still gets traffic through its member: the member goes; nothing re-admits the server",
            fixture: Fixture::healthy(6).deleting("vm-2"),
            history: fresh,
            policy: same,
            expect: |d| {
                check(
                    d.actions
                        .iter()
                        .any(|a| a.cause == Cause::OrphanMember && a.action == scale_in("vm-2")),
                    format!("actions: {:?}", d.actions),
                )?;
                check(
                    !has(
                        d,
                        &Action::Admit {
                            instance: "vm-2".into(),
                        },
                    ),
                    "a deleting server admitted",
                )
            },
        },
        Case {
            name: "a_create_that_ends_in_error_is_deleted_and_backs_off",
            why: "a server in ERROR after a create is a failed scale-out: deleted, not capacity, one page naming the cause",
            fixture: Fixture::healthy(6).failed_create(
                "new-1",
                "No valid host was found. There are not enough hosts available.",
            ),
            history: fresh,
            policy: same,
            expect: |d| {
                check(
                    d.actions.iter().any(|a| {
                        a.cause == Cause::FailedCreate
                            && a.action
                                == Action::ScaleIn {
                                    instances: vec!["new-1".into()],
                                }
                    }),
                    format!("actions: {:?}", d.actions),
                )?;
                check(
                    d.alerts
                        .iter()
                        .any(|a| a.name == "no-valid-host" && a.summary.contains("No valid host")),
                    format!("alerts: {:?}", d.alerts),
                )?;
                no_healing(d)
            },
        },
        Case {
            name: "a_scale_out_backing_off_is_refused_with_the_reason",
            why: "a failed scale-out is not re-decided on every tick: it waits out its backoff",
            fixture: Fixture::healthy(4).util(0.95).all_slow(1.5),
            history: |now| {
                let mut h = fresh(now);
                h.backoff
                    .insert("scale-out".into(), backoff(now, FailureClass::Quota, "", true));
                h
            },
            policy: same,
            expect: |d| {
                check(
                    !kinds(d).contains(&ActionKind::ScaleOut),
                    format!("actions: {:?}", kinds(d)),
                )?;
                check(
                    refused(d, RefusalReason::Backoff),
                    format!("refusals: {:?}", d.refusals),
                )
            },
        },
        Case {
            name: "quota_pages_once_with_its_numbers",
            why: "quota is a fact repeating the call does not change: one page naming the cause and the numbers",
            fixture: Fixture::healthy(6),
            history: |now| {
                let mut h = fresh(now);
                h.backoff.insert(
                    "scale-out".into(),
                    backoff(
                        now,
                        FailureClass::Quota,
                        "quota allows 8 instances, 12 needed",
                        false,
                    ),
                );
                h
            },
            policy: same,
            expect: |d| {
                check(
                    d.alerts.iter().any(|a| {
                        a.name == "quota" && a.summary.contains("quota allows 8 instances, 12 needed")
                    }),
                    format!("alerts: {:?}", d.alerts),
                )?;
                let f = Fixture::healthy(6);
                let mut h = fresh(f.now);
                h.backoff.insert(
                    "scale-out".into(),
                    backoff(
                        f.now,
                        FailureClass::Quota,
                        "quota allows 8 instances, 12 needed",
                        true,
                    ),
                );
                let (again, _) = decide(&election_policy(), &f.build(), &h, f.now);
                check(
                    again.alerts.iter().all(|a| a.name != "quota"),
                    format!("paged again: {:?}", again.alerts),
                )
            },
        },
    ]
}
