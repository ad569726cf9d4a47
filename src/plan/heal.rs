//! Healing: admit serving instances, walk the escalation ladder for faulty ones, migrate off
//! faulty hosts — behind the freezes that stop restart storms. Pure.

use super::{
    Builder, Gate,
    broken::{dead_host, down, drain_dead_member, failed_create, rung_allowed, takes_traffic},
    remedy::{awaiting_remedy, follow_remedies, redrain_first},
    replace,
};
use crate::{
    decision::{Action, Alert, Cause, Diagnosis, Evidence, RefusalReason},
    history::{FailureClass, LadderState, intent_of, kind_of},
    judge::{
        Health, InstanceHealth, Judgement,
        diagnose::{in_rotation, saturated},
        health::healing_probe,
    },
    policy::{Policy, Rung, Severity},
    snapshot::{InstanceStatus, Snapshot},
};

/// How long a rung gets on a server the cloud still reports ERROR or SHUTOFF: Nova's answer
/// (the state of a rung that is under way, then the result) is visible within a few polls, so a
/// server still down after this failed its rung, whatever the probes have yet to say.
const STILL_DOWN_AFTER: f64 = 30.0;

/// How long a recovered instance keeps its ladder position, so a relapse escalates instead of
/// starting over (the cure for reboot loops).
const LADDER_MEMORY: f64 = 3600.0;

fn evidence_for(h: &InstanceHealth) -> Evidence {
    Evidence {
        locations: h.locations.clone(),
        families: h.families.clone(),
        summary: h.detail.clone(),
        ..Evidence::default()
    }
}

/// Alerts that follow from the judgement alone.
pub(super) fn alerts(policy: &Policy, j: &Judgement, b: &mut Builder<'_>) {
    for v in &j.verdicts {
        let objective = policy.spec.objectives.iter().find(|o| o.name == v.objective);
        let rows = objective
            .and_then(|o| o.availability.as_ref())
            .map(|a| a.burn_rate_alerts.as_slice())
            .unwrap_or(&[]);
        for (row, rate) in rows.iter().zip(&v.burn_rates).filter(|(_, r)| r.firing) {
            b.alert(Alert {
                severity: row.severity,
                name: "burn-rate".into(),
                summary: format!(
                    "`{}` burns its error budget at {:.1}× over {} and {:.1}× over {} (threshold {}×)",
                    v.objective,
                    rate.long,
                    crate::policy::units::Duration::from_secs(rate.long_window),
                    rate.short,
                    crate::policy::units::Duration::from_secs(rate.short_window),
                    rate.threshold
                ),
            });
        }
    }
    for d in &j.diagnoses {
        match d {
            Diagnosis::NetworkPath { detail, .. } => b.alert(Alert {
                severity: Severity::Ticket,
                name: "network-path".into(),
                summary: format!("network path fault, no VM changes: {detail}"),
            }),
            Diagnosis::Flood { detail, .. } => b.alert(Alert {
                severity: Severity::Page,
                name: "flood".into(),
                summary: format!(
                    "capacity cap reached: load beyond the resource budget, holding at the cap: {detail}"
                ),
            }),
            _ => {}
        }
    }
}

/// Puts instances that serve (new ones, or recovered ones) into the pool. An instance the
/// ladder drained comes back only once its remedy has run (the cloud shows it completed) and
/// fresh probes, taken after that, pass: answering probes while drained proves nothing, since
/// a drained server takes no load.
pub(super) fn admit(
    policy: &Policy,
    snap: &Snapshot,
    j: &Judgement,
    gate: &mut Gate<'_>,
    b: &mut Builder<'_>,
) {
    if policy.spec.traffic.is_none() {
        return;
    }
    let probe = healing_probe(policy);
    follow_remedies(policy, snap, probe, b);
    // A server on a faulty host is moved first and admitted from its new host.
    let on_faulty_host = |id: &str| {
        j.diagnoses
            .iter()
            .any(|d| matches!(d, Diagnosis::HostFault { instances, .. } if instances.iter().any(|i| i == id)))
    };
    for inst in &snap.inventory {
        if inst.status != InstanceStatus::Active
            || in_rotation(policy, inst)
            || gate.busy(&inst.id)
            || on_faulty_host(&inst.id)
        {
            continue;
        }
        let health = j.health.iter().find(|h| h.id == inst.id).map(|h| h.health);
        if matches!(health, Some(Health::Unhealthy | Health::Slow)) {
            continue;
        }
        // It serves when every location that probes it directly saw its last probe succeed.
        let series: Vec<_> = snap
            .instances_probed
            .iter()
            .filter(|s| s.instance == inst.id && Some(&*s.key.probe) == probe)
            .collect();
        let answers = match probe {
            Some(_) => {
                !series.is_empty()
                    && series
                        .iter()
                        .all(|s| s.consecutive_failures == 0 && !s.recent.is_empty())
            }
            None => true,
        };
        let ladder = b.history.ladders.get(&inst.id).cloned();
        if !answers {
            continue;
        }
        if let Some(state) = &ladder
            && !state.drained
            && inst.member.is_some_and(|m| m.weight > 0)
        {
            continue;
        }
        if let Some(why) = awaiting_remedy(b, &inst.id) {
            let evidence = Evidence {
                summary: format!("answers its probes while drained, but {why}"),
                ..Evidence::default()
            };
            let action = Action::Admit {
                instance: inst.id.clone(),
            };
            b.refuse(action, Cause::Serving, RefusalReason::AwaitingRemedy, evidence);
            continue;
        }
        let evidence = Evidence {
            summary: match b.history.remedies.get(&inst.id) {
                Some(r) => format!(
                    "its {} completed (ACTIVE since {:.0}) and its probes passed since, from every location that probes it",
                    kind_of(r.rung).label(),
                    r.completed.unwrap_or(f64::NAN)
                ),
                None => "answers its probes; joining the pool".into(),
            },
            ..Evidence::default()
        };
        if b.propose(
            gate,
            Action::Admit {
                instance: inst.id.clone(),
            },
            Cause::Serving,
            evidence,
        ) && let Some(state) = b.history.ladders.get_mut(&inst.id)
        {
            state.drained = false;
        }
    }
}

/// Ladder and migrations.
pub(super) fn heal(
    policy: &Policy,
    snap: &Snapshot,
    j: &Judgement,
    gate: &mut Gate<'_>,
    b: &mut Builder<'_>,
) {
    let healing = &policy.spec.healing;
    let now = gate.now;
    b.history.ladders.retain(|id, s| {
        now - s.since < LADDER_MEMORY
            || j.health
                .iter()
                .any(|h| &h.id == id && h.health != Health::Healthy)
    });
    if !healing.enabled {
        return;
    }
    let judged: Vec<&InstanceHealth> = j.health.iter().filter(|h| h.health != Health::Starting).collect();
    // The freeze distrusts the probes; a server the cloud itself reports ERROR or SHUTOFF is
    // broken whatever the probes say (a dead hypervisor takes several at once).
    let cloud_down = |id: &str| snap.inventory.iter().any(|i| i.id == id && down(i));
    let bad = judged
        .iter()
        .filter(|h| matches!(h.health, Health::Unhealthy | Health::Slow) && !cloud_down(&h.id))
        .count();
    let share = policy.spec.limits.freeze_when_unhealthy_above.fraction();
    // Capacity first: while the group as a whole is saturated, busy servers failing their
    // probes are the overload's symptom, not a probe fault to page about, and a server that
    // still answers is capacity that healing would take away (`capacity_first`).
    let saturated = saturated(policy, &j.verdicts, &j.capacity);
    let freeze = if !judged.is_empty() && bad as f64 > share * judged.len() as f64 {
        // Saturated, the freeze still holds, without its page: the capacity path pages.
        if !saturated {
            b.alert(Alert {
            severity: Severity::Page,
            name: "freeze".into(),
            summary: format!(
                "{bad} of {} instances look unhealthy at once (over {}): healing frozen, a probe or network fault is likelier than a mass failure",
                judged.len(),
                policy.spec.limits.freeze_when_unhealthy_above
            ),
            });
        }
        Some(RefusalReason::FreezeUnhealthy)
    } else if healing_probe(policy).is_some()
        && judged.iter().any(|h| h.health != Health::Unhealthy)
        && judged
            .iter()
            .all(|h| matches!(h.health, Health::Unknown | Health::Unhealthy))
        && judged.iter().any(|h| h.health == Health::Unknown)
    {
        // Probes that went silent page; probes that have not reported yet (the first passes
        // of `run`, or a one-off `plan`, which runs none) are no news, only no evidence.
        if snap.locations.iter().any(|l| l.last_seen.is_some()) {
            b.alert(Alert {
                severity: Severity::Page,
                name: "freeze".into(),
                summary: "no per-instance probe data: healing frozen until probes report again".into(),
            });
        }
        Some(RefusalReason::FreezeDataMissing)
    } else {
        None
    };
    let serving_healthy = j.capacity.serving;
    let min_healthy = policy.spec.limits.min_healthy;

    // Hosts first: their instances are migrated, never rebooted.
    for d in &j.diagnoses {
        let Diagnosis::HostFault {
            host,
            instances,
            detail,
        } = d
        else {
            continue;
        };
        for id in instances {
            let Some(inst) = snap.inventory.iter().find(|i| &i.id == id) else {
                continue;
            };
            // A dead host's compute service cannot send a server off: its broken servers are
            // replaced (the ladder below), the ones still running are left to serve.
            if inst.status != InstanceStatus::Active
                || gate.busy(id)
                || b.history.migrated_at.contains_key(id)
                || dead_host(snap, inst).is_some()
            {
                continue;
            }
            let action = Action::Migrate {
                instance: id.clone(),
                from_host: host.clone(),
            };
            let evidence = Evidence {
                summary: detail.clone(),
                ..Evidence::default()
            };
            if let Some(reason) = freeze {
                b.refuse(action, Cause::HostFault, reason, evidence);
                continue;
            }
            if b.propose(gate, action, Cause::HostFault, evidence) {
                b.history.migrated_at.insert(id.clone(), now);
            }
        }
    }

    // Faulty instances walk the ladder; so do the servers of a faulty host that the cloud
    // reports ERROR or SHUTOFF: they cannot be live-migrated, and a dead host's are replaced.
    let mut faulty: Vec<&String> = Vec::new();
    for d in &j.diagnoses {
        match d {
            Diagnosis::InstanceFault { instance, .. } => faulty.push(instance),
            Diagnosis::HostFault { instances, .. } => faulty.extend(
                instances
                    .iter()
                    .filter(|id| snap.inventory.iter().any(|i| &i.id == *id && down(i))),
            ),
            _ => {}
        }
    }
    for instance in faulty {
        let Some(h) = j.health.iter().find(|h| &h.id == instance) else {
            continue;
        };
        let Some(inst) = snap.inventory.iter().find(|i| &i.id == instance) else {
            continue;
        };
        // A server whose replacement is on its way waits for it (`replace.rs` deletes it then).
        if gate.busy(instance)
            || failed_create(policy, b, inst)
            || replace::pending_replacement(snap, instance).is_some()
        {
            continue;
        }
        let state = b.history.ladders.get(instance).cloned();
        let next = match &state {
            None => 0,
            Some(s) => {
                let last = healing.ladder.get(s.rung).copied();
                // A drain does not repair anything: move on at once. Other rungs get their timeout
                // to prove themselves by the probes before the next one is tried, except when the
                // cloud has already answered: Nova refused the rung for the server's state, or the
                // server is still ERROR/SHUTOFF once the rung had time to start.
                let refused = last.is_some_and(|r| {
                    b.history
                        .backoff
                        .get(&intent_of(kind_of(r), Some(instance)))
                        .is_some_and(|x| x.class == FailureClass::State && x.last >= s.since)
                });
                let timeout = if down(inst) {
                    healing.rung_timeout.secs().min(STILL_DOWN_AFTER)
                } else {
                    healing.rung_timeout.secs()
                };
                if last != Some(Rung::Drain) && !refused && now - s.since < timeout {
                    continue;
                }
                // A replacement that failed (ERROR, or on a dead host) is made again, after its
                // backoff; a replace rung has nothing after it to escalate to.
                if last == Some(Rung::Replace) {
                    s.rung
                } else {
                    s.rung + 1
                }
            }
        };
        // A member that takes traffic is drained whatever its server's state, and an ERROR or
        // SHUTOFF one before anything else.
        if healing.ladder.get(next) != Some(&Rung::Drain)
            && drain_dead_member(policy, inst, evidence_for(h), gate, b)
        {
            continue;
        }
        let mut rung_index = next;
        // Skip a drain for instances that take no traffic anyway, and the rungs Nova refuses in
        // the server's state (it would answer 409).
        while let Some(&r) = healing.ladder.get(rung_index)
            && ((r == Rung::Drain && !takes_traffic(policy, inst)) || !rung_allowed(r, inst, snap))
        {
            rung_index += 1;
        }
        let Some(rung) = healing.ladder.get(rung_index).copied() else {
            let summary = match dead_host(snap, inst) {
                Some(host) if down(inst) => format!(
                    "instance {instance} cannot be repaired where it is (the compute service of {host} is down) and the ladder has no replace rung left"
                ),
                _ => format!("instance {instance} is still unhealthy after every remedy on the ladder"),
            };
            b.alert(Alert {
                severity: Severity::Page,
                name: "ladder-exhausted".into(),
                summary,
            });
            continue;
        };
        let action = match rung {
            Rung::Drain => Action::Drain {
                instance: instance.clone(),
            },
            Rung::RebootSoft => Action::Reboot {
                instance: instance.clone(),
                hard: false,
            },
            Rung::RebootHard => Action::Reboot {
                instance: instance.clone(),
                hard: true,
            },
            Rung::Rebuild => Action::Rebuild {
                instance: instance.clone(),
            },
            Rung::Replace => Action::Replace {
                instance: instance.clone(),
                delete_old: false,
            },
        };
        let evidence = evidence_for(h);
        // Freezes distrust the probes; taking a server Nova reports down out of the pool is safe
        // whatever they say.
        if let Some(reason) = freeze.filter(|_| !(rung == Rung::Drain && down(inst))) {
            b.refuse(action, Cause::InstanceFault, reason, evidence);
            continue;
        }
        if saturated && !capacity_first(policy, snap, inst) {
            b.refuse(action, Cause::InstanceFault, RefusalReason::Saturated, evidence);
            continue;
        }
        // A slow instance still serves: taking it out must not leave fewer than minHealthy.
        let serving_now = in_rotation(policy, inst) && h.health == Health::Slow;
        if serving_now && serving_healthy.saturating_sub(1) < min_healthy {
            b.refuse(action, Cause::InstanceFault, RefusalReason::MinHealthy, evidence);
            continue;
        }
        if redrain_first(policy, inst, state.as_ref(), rung, &evidence, gate, b) {
            continue;
        }
        if b.propose(gate, action, Cause::InstanceFault, evidence) {
            let drained = rung == Rung::Drain || state.as_ref().is_some_and(|s| s.drained);
            b.history.ladders.insert(
                instance.clone(),
                LadderState {
                    rung: rung_index,
                    since: now,
                    drained,
                },
            );
        }
    }
}

/// Whether a server may be healed while the group is saturated: the cloud reports it down, or
/// it answered none of its recent probes from anywhere. Such a server adds no capacity, so
/// repairing it takes none away; any other one is left serving until capacity catches up.
fn capacity_first(policy: &Policy, snap: &Snapshot, inst: &crate::snapshot::Instance) -> bool {
    if down(inst) {
        return true;
    }
    let probe = healing_probe(policy);
    let mut samples = snap
        .instances_probed
        .iter()
        .filter(|s| s.instance == inst.id && Some(&*s.key.probe) == probe)
        .flat_map(|s| s.recent.iter())
        .peekable();
    samples.peek().is_some() && samples.all(|x| !x.ok)
}
