//! Rows for overload against faults (issue 17 classes 3 and 5): a busy server is not a broken
//! one, a server that has not booted is not a broken one, and a path is a path only when it
//! separates from the servers and the load.

use super::*;
use sloop::history::Boot;

fn healing_on(d: &Decision, id: &str) -> bool {
    d.actions
        .iter()
        .any(|a| a.action.kind().is_healing() && a.action.instance().is_some_and(|i| i == id))
}
fn scales_out(d: &Decision) -> bool {
    d.actions.iter().any(|a| a.action.kind() == ActionKind::ScaleOut)
}
/// One location enough to call a server unhealthy, so a server failing from one of the two
/// probing locations is judged.
fn one_location(mut p: Policy) -> Policy {
    p.spec.healing.unhealthy_after.locations = 1;
    p
}
/// `vm-5` became ACTIVE `secs` ago and was seen not answering; this group's boots took `boots`.
fn watched(now: f64, secs: f64, boots: &[f64]) -> History {
    let mut h = fresh(now);
    h.boot_to_serve.extend(boots.iter().copied());
    h.boots.insert(
        "vm-5".into(),
        Boot {
            since: now - secs,
            served: false,
            watched: true,
        },
    );
    h
}

pub(super) fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "busy_group_failing_probes_together_heals_nothing",
            why: "overload makes every server drop and time out alike; two of them happen to have their failures in a row. Healing busy servers only removes capacity (the restart storm): capacity first",
            fixture: Fixture::healthy(6)
                .util(0.95)
                .all_slow(0.9)
                .busy(0.33, &["vm-1", "vm-2"]),
            history: fresh,
            policy: same,
            expect: |d| {
                no_healing(d)?;
                check(
                    !has_diag(d, "instance-fault"),
                    format!("diagnoses: {:?}", d.diagnoses),
                )?;
                check(
                    !d.alerts.iter().any(|a| a.name == "freeze"),
                    "a freeze page for overload",
                )?;
                check(scales_out(d), format!("no scale-out: {:?}", kinds(d)))
            },
        },
        Case {
            name: "crashed_server_in_a_busy_group_is_still_healed",
            why: "a server that answers nothing and idles (CPU 0 %) while its peers under the same load answer two in three is broken whatever the load; repairing it takes no capacity away",
            fixture: Fixture::healthy(6)
                .util(0.95)
                .busy(0.33, &[])
                .instance_down("vm-3")
                .cpu_of("vm-3", 0.0),
            history: fresh,
            policy: same,
            expect: |d| {
                check(
                    has_diag(d, "instance-fault"),
                    format!("diagnoses: {:?}", d.diagnoses),
                )?;
                check(healing_on(d, "vm-3"), format!("actions: {:?}", kinds(d)))?;
                check(scales_out(d), format!("no scale-out: {:?}", kinds(d)))
            },
        },
        Case {
            name: "failing_server_that_still_answers_waits_while_the_group_is_saturated",
            why: "no healing while the group as a whole is saturated: a server failing alone that still answers half its probes (CPU 30 %, not overloaded itself) is capacity, and capacity comes first",
            fixture: Fixture::healthy(6)
                .util(0.95)
                .busy(0.08, &[])
                .instance_down_from("vm-4", &["local"])
                .cpu_of("vm-4", 0.3),
            history: fresh,
            policy: one_location,
            expect: |d| {
                check(!healing_on(d, "vm-4"), format!("actions: {:?}", kinds(d)))?;
                check(
                    refused(d, RefusalReason::Saturated),
                    format!("refusals: {:?}", d.refusals),
                )?;
                check(scales_out(d), format!("no scale-out: {:?}", kinds(d)))
            },
        },
        Case {
            name: "the_same_server_is_healed_once_the_group_has_headroom",
            why: "the saturation gate waits for capacity, it does not hide the fault: at 50 % utilisation the server failing where its peers answer is healed",
            fixture: Fixture::healthy(6)
                .busy(0.08, &[])
                .instance_down_from("vm-4", &["local"]),
            history: fresh,
            policy: one_location,
            expect: |d| check(healing_on(d, "vm-4"), format!("actions: {:?}", kinds(d))),
        },
        Case {
            name: "server_booting_within_this_groups_boot_time_is_left_alone",
            why: "a server that has not answered since it became ACTIVE 400 s ago is booting when this group's boots take up to 300 s (held for 1.5 × that), although the 5 min grace is over",
            fixture: Fixture::healthy(6).booting("vm-5", 400.0).outside_pool("vm-5"),
            history: |now| watched(now, 400.0, &[250.0, 280.0, 300.0]),
            policy: same,
            expect: |d| {
                no_healing(d)?;
                check(
                    !has_diag(d, "instance-fault"),
                    format!("diagnoses: {:?}", d.diagnoses),
                )
            },
        },
        Case {
            name: "server_not_serving_long_after_this_groups_boots_is_broken",
            why: "the learned boot time bounds the hold: when boots take 30 s, a server silent 500 s after becoming ACTIVE is broken",
            fixture: Fixture::healthy(6).booting("vm-5", 500.0).outside_pool("vm-5"),
            history: |now| watched(now, 500.0, &[20.0, 25.0, 30.0]),
            policy: same,
            expect: |d| {
                check(
                    has_diag(d, "instance-fault"),
                    format!("diagnoses: {:?}", d.diagnoses),
                )?;
                check(healing_on(d, "vm-5"), format!("actions: {:?}", kinds(d)))
            },
        },
        Case {
            name: "after_a_restart_an_unanswered_server_gets_the_first_boot_bound",
            why: "a restart loses the watched boots; the hold is then the first-boot bound (10 min), never the 5 min constant, which is shorter than a slow cloud's boot",
            fixture: Fixture::healthy(6).booting("vm-5", 400.0).outside_pool("vm-5"),
            history: fresh,
            policy: same,
            expect: |d| {
                no_healing(d)?;
                check(
                    !has_diag(d, "instance-fault"),
                    format!("diagnoses: {:?}", d.diagnoses),
                )
            },
        },
        Case {
            name: "overload_seen_from_one_location_is_not_a_path",
            why: "a saturated group fails unevenly across vantage points over a short window; with no per-instance probe from ams to separate the path from the load, no path is claimed",
            fixture: Fixture::healthy(6)
                .util(0.95)
                .busy(0.33, &[])
                .failing_from("ams", IpFamily::V6)
                .failing_from("ams", IpFamily::V4),
            history: fresh,
            policy: same,
            expect: |d| {
                check(
                    !has_diag(d, "network-path"),
                    format!("diagnoses: {:?}", d.diagnoses),
                )?;
                check(
                    !d.alerts.iter().any(|a| a.name == "network-path"),
                    "a network-path alert",
                )
            },
        },
        Case {
            name: "server_fault_seen_from_one_location_is_not_a_path",
            why: "a broken server behind the balancer fails the requests it gets from wherever they come; the per-instance probes name the server, so the uneven service view is not a path",
            fixture: Fixture::healthy(6)
                .instance_down("vm-2")
                .failing_from("nyc", IpFamily::V6)
                .failing_from("nyc", IpFamily::V4),
            history: fresh,
            policy: same,
            expect: |d| {
                check(
                    !has_diag(d, "network-path"),
                    format!("diagnoses: {:?}", d.diagnoses),
                )?;
                check(
                    has_diag(d, "instance-fault"),
                    format!("diagnoses: {:?}", d.diagnoses),
                )
            },
        },
        Case {
            name: "path_failing_on_every_server_is_a_path_even_under_load",
            why: "IPv6 from fra fails on every server while local reaches the same servers: that separates by path, whatever the load",
            fixture: Fixture::healthy(6)
                .util(0.95)
                .busy(0.25, &[])
                .failing_from("fra", IpFamily::V6),
            history: fresh,
            policy: same,
            expect: |d| {
                check(
                    has_diag(d, "network-path"),
                    format!("diagnoses: {:?}", d.diagnoses),
                )?;
                no_healing(d)
            },
        },
    ]
}
