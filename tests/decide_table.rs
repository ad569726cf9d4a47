//! Table tests for the decision core: each row is a situation an operator would recognise, why
//! the row exists, and what sloop must (and must not) do.

#[path = "decide_table/forecast.rs"]
mod forecast;
#[path = "decide_table/repair.rs"]
mod repair;
mod support;

use sloop::{
    decide::decide,
    decision::{Action, ActionKind, Cause, Decision, Diagnosis, RefusalReason, SloState},
    history::{Charge, History, LadderState},
    policy::{Mode, Policy, Rung, units::Timestamp},
    snapshot::IpFamily,
};
use support::{Fixture, election_policy};

struct Case {
    name: &'static str,
    why: &'static str,
    fixture: Fixture,
    history: fn(f64) -> History,
    policy: fn(Policy) -> Policy,
    expect: fn(&Decision) -> Result<(), String>,
}

fn fresh(_: f64) -> History {
    History {
        service_rate: Some(support::MU),
        ..History::default()
    }
}
fn same(p: Policy) -> Policy {
    p
}

fn kinds(d: &Decision) -> Vec<ActionKind> {
    d.actions.iter().map(|a| a.action.kind()).collect()
}
fn has_diag(d: &Decision, label: &str) -> bool {
    d.diagnoses.iter().any(|x| x.label() == label)
}
fn refused(d: &Decision, reason: RefusalReason) -> bool {
    d.refusals.iter().any(|r| r.reason == reason)
}
fn no_healing(d: &Decision) -> Result<(), String> {
    match d.actions.iter().find(|a| a.action.kind().is_healing()) {
        Some(a) => Err(format!("unexpected healing action {:?}", a.action)),
        None => Ok(()),
    }
}
fn check(cond: bool, msg: impl Into<String>) -> Result<(), String> {
    if cond { Ok(()) } else { Err(msg.into()) }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "healthy_group_does_nothing",
            why: "the steady state must be quiet: no action, no alert",
            fixture: Fixture::healthy(6),
            history: fresh,
            policy: same,
            expect: |d| {
                check(d.actions.is_empty(), format!("actions: {:?}", kinds(d)))?;
                check(d.alerts.is_empty(), format!("alerts: {:?}", d.alerts))?;
                check(
                    d.verdicts.iter().all(|v| v.state == SloState::Met),
                    format!("{:?}", d.verdicts),
                )
            },
        },
        Case {
            name: "a_few_slow_samples_never_trigger_action",
            why: "single samples never trigger action: the percentile bound must absorb outliers",
            fixture: Fixture::healthy(6).spikes(1),
            history: fresh,
            policy: same,
            expect: |d| check(d.actions.is_empty(), format!("actions: {:?}", kinds(d))),
        },
        Case {
            name: "instance_down_from_every_location_is_drained_first",
            why: "an instance fault is remedied by the first ladder rung (drain), not by scaling",
            fixture: Fixture::healthy(6).instance_down("vm-2"),
            history: fresh,
            policy: same,
            expect: |d| {
                check(has_diag(d, "instance-fault"), "no instance-fault diagnosis")?;
                check(
                    d.actions.iter().any(|a| {
                        a.action
                            == Action::Drain {
                                instance: "vm-2".into(),
                            }
                    }),
                    format!("actions: {:?}", d.actions),
                )?;
                check(
                    !kinds(d).contains(&ActionKind::ScaleOut),
                    "scaled out for an instance fault",
                )
            },
        },
        Case {
            name: "instance_down_from_one_location_is_left_alone",
            why: "unhealthyAfter.locations is 2: one vantage point is not a quorum (restart storms start here)",
            fixture: Fixture::healthy(6).instance_down_from("vm-2", &["fra"]),
            history: fresh,
            policy: same,
            expect: no_healing,
        },
        Case {
            name: "nova_error_status_counts_as_unhealthy",
            why: "the cloud's own ERROR state is evidence enough; its member still takes traffic, so the first rung (drain) goes out",
            fixture: Fixture::healthy(6).instance_error("vm-1"),
            history: fresh,
            policy: same,
            expect: |d| {
                check(has_diag(d, "instance-fault"), "no instance-fault")?;
                check(
                    d.actions.iter().any(|a| {
                        a.action
                            == Action::Drain {
                                instance: "vm-1".into(),
                            }
                    }),
                    format!("actions: {:?}", d.actions),
                )
            },
        },
        Case {
            name: "slow_busy_group_scales_out_by_more_than_one",
            why: "capacity is sized from load and queueing, not one VM at a time",
            fixture: Fixture::healthy(4).util(0.95).all_slow(1.5),
            history: fresh,
            policy: same,
            expect: |d| {
                check(has_diag(d, "capacity"), format!("diagnoses: {:?}", d.diagnoses))?;
                let n = d.actions.iter().find_map(|a| match a.action {
                    Action::ScaleOut { count } => Some(count),
                    _ => None,
                });
                check(n.is_some_and(|n| n >= 3), format!("scale-out count {n:?}"))?;
                no_healing(d)
            },
        },
        Case {
            name: "slow_from_one_location_is_a_network_path_fault",
            why: "slow from some places means network: alert, no VM churn",
            fixture: Fixture::healthy(6).slow_from("nyc", IpFamily::V6, 1.4).slow_from(
                "nyc",
                IpFamily::V4,
                1.4,
            ),
            history: fresh,
            policy: same,
            expect: |d| {
                check(
                    has_diag(d, "network-path"),
                    format!("diagnoses: {:?}", d.diagnoses),
                )?;
                check(
                    d.alerts.iter().any(|a| a.name == "network-path"),
                    "no network-path alert",
                )?;
                check(d.actions.is_empty(), format!("actions: {:?}", kinds(d)))
            },
        },
        Case {
            name: "ipv6_broken_from_one_location_changes_no_vm",
            why: "one family from one location is a path fault, judged per family",
            fixture: Fixture::healthy(6).failing_from("fra", IpFamily::V6),
            history: fresh,
            policy: same,
            expect: |d| {
                check(
                    has_diag(d, "network-path"),
                    format!("diagnoses: {:?}", d.diagnoses),
                )?;
                check(d.actions.is_empty(), format!("actions: {:?}", kinds(d)))
            },
        },
        Case {
            name: "flood_is_held_at_the_budget_and_pages",
            why: "load far beyond the guards must not scale unbounded (resource-exhaustion guard)",
            fixture: Fixture::healthy(6).util(0.99).all_slow(2.5).load(60_000.0),
            history: fresh,
            policy: same,
            expect: |d| {
                check(has_diag(d, "flood"), format!("diagnoses: {:?}", d.diagnoses))?;
                check(d.alerts.iter().any(|a| a.name == "flood"), "no flood alert")?;
                let n = d.actions.iter().find_map(|a| match a.action {
                    Action::ScaleOut { count } => Some(count),
                    _ => None,
                });
                check(
                    n.is_some_and(|n| n + 6 <= 60),
                    format!("scale-out beyond the cap: {n:?}"),
                )?;
                check(
                    refused(d, RefusalReason::MaxStep) || refused(d, RefusalReason::ResourceCap),
                    "no cap refusal",
                )
            },
        },
        Case {
            name: "most_of_the_group_failing_freezes_healing",
            why: "when > 50 % look unhealthy a probe or network fault is likelier than a mass failure",
            fixture: Fixture::healthy(6)
                .instance_down("vm-0")
                .instance_down("vm-1")
                .instance_down("vm-2")
                .instance_down("vm-3"),
            history: fresh,
            policy: same,
            expect: |d| {
                no_healing(d)?;
                check(refused(d, RefusalReason::FreezeUnhealthy), "no freeze refusal")?;
                check(d.alerts.iter().any(|a| a.name == "freeze"), "no freeze alert")
            },
        },
        Case {
            name: "noisy_neighbour_migrates_instead_of_rebooting",
            why: "a sustained host metric means the host is at fault: live-migrate, never reboot",
            fixture: Fixture::healthy(6)
                .host_steal("h1", 40.0)
                .instance_slow("vm-1", 3.0)
                .instance_slow("vm-4", 3.0),
            history: |now| {
                let mut h = fresh(now);
                h.host_hot_since.insert("h1".into(), now - 600.0);
                h
            },
            policy: same,
            expect: |d| {
                check(has_diag(d, "host-fault"), format!("diagnoses: {:?}", d.diagnoses))?;
                check(
                    kinds(d).contains(&ActionKind::Migrate),
                    format!("actions: {:?}", kinds(d)),
                )?;
                check(
                    !kinds(d)
                        .iter()
                        .any(|k| matches!(k, ActionKind::RebootSoft | ActionKind::RebootHard)),
                    "rebooted on a host fault",
                )
            },
        },
        Case {
            name: "new_server_on_a_host_under_a_standing_fault_moves_before_it_serves",
            why: "the host evacuated a minute ago is the emptiest, so the scheduler puts the next \
                  server there; it looks healthy until it takes traffic, so it is moved first",
            fixture: Fixture::healthy(6).outside_pool("vm-4"),
            history: |now| {
                let mut h = fresh(now);
                h.host_faults.insert("h1".into(), now - 60.0);
                h.migrated_at.insert("vm-1".into(), now - 60.0);
                h
            },
            policy: same,
            expect: |d| {
                check(has_diag(d, "host-fault"), format!("diagnoses: {:?}", d.diagnoses))?;
                check(
                    d.actions.iter().any(|a| {
                        a.action
                            == Action::Migrate {
                                instance: "vm-4".into(),
                                from_host: "h1".into(),
                            }
                    }),
                    format!("actions: {:?}", d.actions),
                )?;
                check(
                    !d.actions
                        .iter()
                        .any(|a| matches!(&a.action, Action::Admit { instance } if instance == "vm-4")),
                    "admitted a server on a faulty host",
                )?;
                check(
                    !d.actions
                        .iter()
                        .any(|a| a.action.instance().is_some_and(|i| i == "vm-1")),
                    "moved an already migrated server again",
                )
            },
        },
        Case {
            name: "after_a_restart_a_server_left_on_a_host_it_was_evacuating_is_moved_not_rebooted",
            why: "the executor runs one action at a time: killed while moving vm-4 off h1, the \
                  controller never started vm-1's move; the journal's migration keeps h1 faulty \
                  after the restart, so vm-1, now failing alone there, is moved rather than \
                  drained, rebooted and replaced (seen in tests/e2e_heal_crash.rs)",
            fixture: Fixture::healthy(6).instance_down("vm-1"),
            history: |now| {
                let mut h = fresh(now);
                let moved = Charge {
                    at: now - 20.0,
                    kind: ActionKind::Migrate,
                    id: "web-1-1".into(),
                    took_effect: true,
                    instance: Some("vm-4".into()),
                    from_host: Some("h1".into()),
                };
                h.adopt_healing(&[Rung::Drain, Rung::RebootSoft], &[moved], now);
                h
            },
            policy: same,
            expect: |d| {
                check(
                    d.actions.iter().any(|a| {
                        a.action
                            == Action::Migrate {
                                instance: "vm-1".into(),
                                from_host: "h1".into(),
                            }
                    }),
                    format!("actions: {:?}", d.actions),
                )?;
                check(
                    !d.actions.iter().any(|a| {
                        a.action.instance().is_some_and(|i| i == "vm-4")
                            || matches!(a.action.kind(), ActionKind::Drain | ActionKind::RebootSoft)
                    }),
                    format!("vm-1 walked down the ladder or vm-4 moved again: {:?}", d.actions),
                )
            },
        },
        Case {
            name: "after_a_restart_with_a_lost_journal_a_server_left_on_an_evacuated_host_is_moved",
            why: "the same restart as above, but on a new node without the journal: vm-4's \
                  migration stamp names h1 (by digest), so h1 is still faulty and vm-1, failing \
                  alone there, is moved rather than drained, rebooted and replaced",
            fixture: Fixture::healthy(6)
                .instance_down("vm-1")
                .migrated_off("vm-4", "h1", "h2", 20.0),
            history: fresh,
            policy: same,
            expect: |d| {
                check(has_diag(d, "host-fault"), format!("diagnoses: {:?}", d.diagnoses))?;
                check(
                    d.actions.iter().any(|a| {
                        a.action
                            == Action::Migrate {
                                instance: "vm-1".into(),
                                from_host: "h1".into(),
                            }
                    }),
                    format!("actions: {:?}", d.actions),
                )?;
                check(
                    !d.actions.iter().any(|a| {
                        a.action.instance().is_some_and(|i| i == "vm-4")
                            || matches!(
                                a.action.kind(),
                                ActionKind::Drain | ActionKind::RebootSoft | ActionKind::RebootHard
                            )
                    }),
                    format!("vm-1 walked down the ladder or vm-4 moved again: {:?}", d.actions),
                )
            },
        },
        Case {
            name: "a_lost_journal_with_an_old_migration_stamp_keeps_no_host_fault",
            why: "the migration off h1 was 15 minutes ago: that fault is over (10 min hold), so \
                  vm-1 failing alone on h1 is an instance fault and starts the ladder",
            fixture: Fixture::healthy(6)
                .instance_down("vm-1")
                .migrated_off("vm-4", "h1", "h2", 900.0),
            history: fresh,
            policy: same,
            expect: |d| {
                check(
                    !has_diag(d, "host-fault"),
                    format!("diagnoses: {:?}", d.diagnoses),
                )?;
                check(
                    kinds(d).contains(&ActionKind::Drain) && !kinds(d).contains(&ActionKind::Migrate),
                    format!("actions: {:?}", kinds(d)),
                )
            },
        },
        Case {
            name: "a_host_fault_without_fresh_evidence_expires",
            why: "a fault found 11 minutes ago whose metric no longer holds is over: a new server \
                  there is admitted and nothing moves",
            fixture: Fixture::healthy(6).outside_pool("vm-4"),
            history: |now| {
                let mut h = fresh(now);
                h.host_faults.insert("h1".into(), now - 660.0);
                h
            },
            policy: same,
            expect: |d| {
                check(
                    !has_diag(d, "host-fault"),
                    format!("diagnoses: {:?}", d.diagnoses),
                )?;
                check(
                    !kinds(d).contains(&ActionKind::Migrate),
                    format!("actions: {:?}", kinds(d)),
                )?;
                check(
                    d.actions
                        .iter()
                        .any(|a| matches!(&a.action, Action::Admit { instance } if instance == "vm-4")),
                    format!("vm-4 not admitted: {:?}", d.actions),
                )
            },
        },
        Case {
            name: "host_metric_must_be_sustained",
            why: "migrateWhen.for is 3m: a host hot for one minute is not yet a host fault",
            fixture: Fixture::healthy(6).host_steal("h1", 40.0),
            history: |now| {
                let mut h = fresh(now);
                h.host_hot_since.insert("h1".into(), now - 60.0);
                h
            },
            policy: same,
            expect: |d| {
                check(
                    !kinds(d).contains(&ActionKind::Migrate),
                    format!("actions: {:?}", kinds(d)),
                )
            },
        },
        Case {
            name: "spent_budget_refuses_healing",
            why: "maxActionsPerHour caps churn even when every action looks justified",
            fixture: Fixture::healthy(6).instance_down("vm-2"),
            history: |now| {
                let mut h = fresh(now);
                for i in 0..60 {
                    h.actions
                        .push_back((now - 3000.0 + i as f64, ActionKind::RebootSoft));
                }
                h
            },
            policy: same,
            expect: |d| {
                no_healing(d)?;
                check(
                    refused(d, RefusalReason::Budget),
                    format!("refusals: {:?}", d.refusals),
                )
            },
        },
        Case {
            name: "ladder_escalates_after_drain",
            why: "drain repairs nothing, so the next rung follows on the next tick",
            fixture: Fixture::healthy(6).instance_down("vm-2"),
            history: |now| {
                let mut h = fresh(now);
                h.ladders.insert(
                    "vm-2".into(),
                    LadderState {
                        rung: 0,
                        since: now - 5.0,
                        drained: true,
                    },
                );
                h
            },
            policy: same,
            expect: |d| {
                check(
                    d.actions.iter().any(|a| {
                        a.action
                            == Action::Reboot {
                                instance: "vm-2".into(),
                                hard: false,
                            }
                    }),
                    format!("actions: {:?}", d.actions),
                )
            },
        },
        Case {
            name: "ladder_waits_for_the_rung_to_prove_itself",
            why: "each rung is verified by the probes for rungTimeout before escalating",
            fixture: Fixture::healthy(6).instance_down("vm-2"),
            history: |now| {
                let mut h = fresh(now);
                h.ladders.insert(
                    "vm-2".into(),
                    LadderState {
                        rung: 1,
                        since: now - 60.0,
                        drained: true,
                    },
                );
                h
            },
            policy: same,
            expect: no_healing,
        },
        Case {
            name: "ladder_escalates_to_hard_reboot_after_timeout",
            why: "a soft reboot that did not help within rungTimeout is followed by a hard one",
            fixture: Fixture::healthy(6).instance_down("vm-2"),
            history: |now| {
                let mut h = fresh(now);
                h.ladders.insert(
                    "vm-2".into(),
                    LadderState {
                        rung: 1,
                        since: now - 200.0,
                        drained: true,
                    },
                );
                h
            },
            policy: same,
            expect: |d| {
                check(
                    d.actions.iter().any(|a| {
                        a.action
                            == Action::Reboot {
                                instance: "vm-2".into(),
                                hard: true,
                            }
                    }),
                    format!("actions: {:?}", d.actions),
                )
            },
        },
        Case {
            name: "prewarm_reaches_the_scheduled_floor",
            why: "election night: boot the floor before the polls close, caused by the schedule",
            fixture: Fixture::healthy(4).at("2026-09-27T17:15:00+02:00".parse::<Timestamp>().unwrap().unix()),
            history: fresh,
            policy: same,
            expect: |d| {
                let a = d.actions.iter().find(|a| a.action.kind() == ActionKind::ScaleOut);
                check(
                    a.is_some_and(|a| {
                        a.action == Action::ScaleOut { count: 8 } && a.cause == Cause::ScheduledPeak
                    }),
                    format!("actions: {:?}", d.actions),
                )
            },
        },
        Case {
            name: "no_scale_in_during_the_scheduled_peak",
            why: "the peak window forbids scale-in even when the group looks over-provisioned",
            fixture: Fixture::healthy(20)
                .util(0.1)
                .at("2026-09-27T19:00:00+02:00".parse::<Timestamp>().unwrap().unix()),
            history: |now| {
                let mut h = fresh(now);
                for k in 0..200 {
                    h.recommendations.push_back((now - 1500.0 + k as f64 * 5.0, 12));
                }
                h
            },
            policy: same,
            expect: |d| {
                check(
                    !kinds(d).contains(&ActionKind::ScaleIn),
                    "scaled in during the peak",
                )?;
                check(
                    refused(d, RefusalReason::ScheduledPeak),
                    format!("refusals: {:?}", d.refusals),
                )
            },
        },
        Case {
            name: "scale_in_is_slow_and_stepwise",
            why: "over-provisioned for the whole stabilisation window: remove at most in.maxStep",
            fixture: Fixture::healthy(12).util(0.2),
            history: |now| {
                let mut h = fresh(now);
                for k in 0..300 {
                    h.recommendations.push_back((now - 1500.0 + k as f64 * 5.0, 5));
                }
                h
            },
            policy: same,
            expect: |d| {
                let n = d.actions.iter().find_map(|a| match &a.action {
                    Action::ScaleIn { instances } => Some(instances.len()),
                    _ => None,
                });
                check(
                    n == Some(2),
                    format!("scale-in of {n:?}, actions {:?}", d.actions),
                )
            },
        },
        Case {
            name: "scale_in_waits_for_stabilisation",
            why: "a short lull must not remove capacity (flapping, kubernetes#39090)",
            fixture: Fixture::healthy(12).util(0.2),
            history: fresh,
            policy: same,
            expect: |d| {
                check(
                    !kinds(d).contains(&ActionKind::ScaleIn),
                    "scaled in without stabilisation",
                )?;
                check(
                    refused(d, RefusalReason::Stabilization),
                    format!("refusals: {:?}", d.refusals),
                )
            },
        },
        Case {
            name: "missing_telemetry_freezes_scale_in",
            why: "missing data is never read as low load (keda#965)",
            fixture: Fixture::healthy(12).util(0.2).without_cpu(),
            history: |now| {
                let mut h = fresh(now);
                for k in 0..300 {
                    h.recommendations.push_back((now - 1500.0 + k as f64 * 5.0, 5));
                }
                h
            },
            policy: same,
            expect: |d| {
                check(
                    !kinds(d).contains(&ActionKind::ScaleIn),
                    "scaled in on missing data",
                )?;
                check(
                    refused(d, RefusalReason::FreezeDataMissing),
                    format!("refusals: {:?}", d.refusals),
                )
            },
        },
        Case {
            name: "stale_agents_do_not_count_towards_quorum",
            why: "a silent agent is stale, never evidence; two fresh slow locations are below quorum 3",
            fixture: Fixture::healthy(4)
                .util(0.5)
                .all_slow(1.5)
                .stale("ams")
                .stale("nyc"),
            history: fresh,
            policy: same,
            expect: |d| {
                let v = d.verdicts.iter().find(|v| v.objective == "latency-p95").unwrap();
                check(v.state == SloState::NoData, format!("state {:?}", v.state))
            },
        },
        Case {
            name: "dry_run_turns_every_action_into_a_would",
            why: "dry-run decides the same and changes nothing",
            fixture: Fixture::healthy(6).instance_down("vm-2"),
            history: fresh,
            policy: |mut p| {
                p.spec.mode = Mode::DryRun;
                p
            },
            expect: |d| {
                check(d.actions.is_empty(), "dry-run planned actions")?;
                check(
                    d.refusals
                        .iter()
                        .any(|r| r.reason == RefusalReason::DryRun && r.action.kind() == ActionKind::Drain),
                    format!("refusals: {:?}", d.refusals),
                )
            },
        },
        Case {
            name: "slow_instance_at_min_healthy_is_not_taken_out",
            why: "never below minHealthy serving instances, whatever the diagnosis",
            fixture: Fixture::healthy(3).instance_slow("vm-1", 12.0),
            history: fresh,
            policy: same,
            expect: |d| {
                no_healing(d)?;
                check(
                    refused(d, RefusalReason::MinHealthy),
                    format!("refusals: {:?}", d.refusals),
                )
            },
        },
    ]
}

#[test]
fn decision_table() {
    let mut failures = Vec::new();
    for case in cases()
        .into_iter()
        .chain(repair::cases())
        .chain(forecast::cases())
    {
        let policy = (case.policy)(election_policy());
        let snap = case.fixture.build();
        let now = case.fixture.now;
        let (decision, _) = decide(&policy, &snap, &(case.history)(now), now);
        if let Err(msg) = (case.expect)(&decision) {
            failures.push(format!("{} ({}): {msg}", case.name, case.why));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn decide_is_deterministic_and_returns_history() {
    let policy = election_policy();
    let f = Fixture::healthy(6).instance_down("vm-2");
    let snap = f.build();
    let (a, ha) = decide(&policy, &snap, &History::default(), f.now);
    let (b, hb) = decide(&policy, &snap, &History::default(), f.now);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    assert_eq!(ha, hb);
    assert!(
        ha.ladders.contains_key("vm-2"),
        "the ladder position is remembered"
    );
}

#[test]
fn every_diagnosis_is_reachable() {
    // Guards the table itself: if a refactor silently stops producing a diagnosis, this says so.
    let policy = election_policy();
    let mut seen = std::collections::BTreeSet::new();
    for case in cases() {
        let now = case.fixture.now;
        let (d, _) = decide(
            &(case.policy)(policy.clone()),
            &case.fixture.build(),
            &(case.history)(now),
            now,
        );
        for x in &d.diagnoses {
            seen.insert(x.label());
        }
    }
    for label in [
        "instance-fault",
        "host-fault",
        "capacity",
        "network-path",
        "flood",
        "over-provisioned",
    ] {
        assert!(seen.contains(label), "no case produces {label}");
    }
    let _ = Diagnosis::OverProvisioned {
        needed: 0,
        serving: 0,
    };
}
