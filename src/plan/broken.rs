//! Servers the cloud itself says cannot serve, and actions that keep failing. Pure.
//!
//! - An ERROR or SHUTOFF server whose member still has weight is drained at once, whatever the
//!   ladder says: it serves nothing, and every request sent to it fails.
//! - The ladder starts at the first rung Nova allows in the server's state: no soft reboot of
//!   an ERROR or SHUTOFF server (Nova answers 409), and on a host whose compute service is down
//!   (or forced down) nothing but a replacement can work.
//! - A server sloop created that ends in ERROR before it ever served is a failed scale-out: it
//!   is deleted, counts as a failure of the scale-out (which backs off), and is never capacity.
//! - Failures that repeat page once per run, quota and "no valid host" at once, with numbers.

use super::{Builder, Gate};
use crate::{
    decision::{Action, Alert, Cause, Evidence},
    history::{ALERT_AFTER, FailureClass, backoff_delay, intent_of},
    policy::{Policy, Rung, Severity},
    snapshot::{Instance, InstanceStatus, Snapshot},
};

/// Whether the server's pool member takes traffic, whatever the server's state.
pub(super) fn takes_traffic(policy: &Policy, inst: &Instance) -> bool {
    policy.spec.traffic.is_some() && inst.member.is_some_and(|m| m.weight > 0 && m.admin_up)
}

/// Whether the cloud says the server cannot serve.
pub(super) fn down(inst: &Instance) -> bool {
    matches!(inst.status, InstanceStatus::Error | InstanceStatus::Shutoff)
}

/// The server's host, when the hypervisor listing says its compute service is down (which a
/// forced-down service also reports): nothing can be done to the server there.
pub(super) fn dead_host<'a>(snap: &'a Snapshot, inst: &Instance) -> Option<&'a str> {
    let host = snap.hosts.get(inst.host.as_deref()?)?;
    (!host.up).then_some(host.name.as_str())
}

/// Whether Nova can carry out `rung` on the server in its state: a soft reboot needs a running
/// server (409 "while it is in vm_state error/stopped" otherwise; a hard reboot starts a
/// SHUTOFF one), and a server on a dead host can only be drained or replaced.
pub(super) fn rung_allowed(rung: Rung, inst: &Instance, snap: &Snapshot) -> bool {
    if down(inst) && dead_host(snap, inst).is_some() {
        return matches!(rung, Rung::Drain | Rung::Replace);
    }
    !(rung == Rung::RebootSoft && down(inst))
}

/// A server sloop created that ended in ERROR without ever serving: Nova says the build failed
/// (no valid host, a build abort), or it never joined the pool and was never repaired.
pub(super) fn failed_create(policy: &Policy, b: &Builder<'_>, inst: &Instance) -> bool {
    if inst.status != InstanceStatus::Error || inst.created_by.is_none() {
        return false;
    }
    let said = inst.fault.as_deref().map(str::to_ascii_lowercase);
    let build_fault = said
        .as_deref()
        .is_some_and(|f| f.contains("no valid host") || f.contains("build") || f.contains("spawn"));
    let never_served = inst.member.is_none()
        && inst.stamps.is_none()
        && !b.history.ladders.contains_key(&inst.id)
        && (policy.spec.traffic.is_some() || inst.active_since.is_none());
    build_fault || never_served
}

/// Deletes failed scale-outs and counts each as one failure of the scale-out; a new server
/// that serves ends the scale-out's backoff.
pub(super) fn failed_creates(policy: &Policy, snap: &Snapshot, gate: &mut Gate<'_>, b: &mut Builder<'_>) {
    let now = gate.now;
    let scale_out = intent_of(crate::decision::ActionKind::ScaleOut, None);
    if let Some(since) = b.history.backoff.get(&scale_out).map(|x| x.last)
        && snap.inventory.iter().any(|i| {
            i.created_by.is_some()
                && i.status == InstanceStatus::Active
                && i.active_since.is_some_and(|t| t >= since)
        })
    {
        b.history.backoff.remove(&scale_out);
    }
    for inst in &snap.inventory {
        if !failed_create(policy, b, inst) {
            continue;
        }
        if !b.history.failed_creates.contains_key(&inst.id) {
            b.history.failed_creates.insert(inst.id.clone(), now);
            let fault = inst.fault.clone().unwrap_or_else(|| "no fault recorded".into());
            let class = match FailureClass::of_error(&fault) {
                FailureClass::NoValidHost => FailureClass::NoValidHost,
                _ => FailureClass::Refused,
            };
            let detail = format!("server {} ended in ERROR: {fault}", inst.id);
            b.history.back_off(&scale_out, now, class, &detail);
            // A failed replacement also backs off the replacement of the server it was for.
            if let Some(old) = inst.replaces.as_deref() {
                let replace = intent_of(crate::decision::ActionKind::Replace, Some(old));
                b.history.back_off(&replace, now, class, &detail);
            }
        }
        if gate.busy(&inst.id) {
            continue;
        }
        b.propose(
            gate,
            Action::ScaleIn {
                instances: vec![inst.id.clone()],
            },
            Cause::FailedCreate,
            Evidence {
                summary: format!(
                    "a new server ended in ERROR before it served ({}): deleted, not counted as capacity",
                    inst.fault.as_deref().unwrap_or("no fault recorded")
                ),
                ..Evidence::default()
            },
        );
    }
}

/// Drains ERROR and SHUTOFF servers whose member still takes traffic, before anything else is
/// done for them. Returns whether it proposed the drain.
pub(super) fn drain_dead_member(
    policy: &Policy,
    inst: &Instance,
    evidence: Evidence,
    gate: &mut Gate<'_>,
    b: &mut Builder<'_>,
) -> bool {
    if !down(inst) || !takes_traffic(policy, inst) || gate.busy(&inst.id) {
        return false;
    }
    let proposed = b.propose(
        gate,
        Action::Drain {
            instance: inst.id.clone(),
        },
        Cause::InstanceFault,
        evidence,
    );
    if proposed && let Some(state) = b.history.ladders.get_mut(&inst.id) {
        state.drained = true;
    }
    proposed
}

/// One page per run of failures: at once for quota and "no valid host" (repeating the call
/// changes neither), after [`ALERT_AFTER`] in a row for anything else.
pub(super) fn backoff_alerts(b: &mut Builder<'_>, now: f64) {
    let mut alerts = Vec::new();
    for (intent, x) in b.history.backoff.iter_mut() {
        let blocked = matches!(x.class, FailureClass::Quota | FailureClass::NoValidHost);
        if x.alerted || !(blocked || x.failures >= ALERT_AFTER) {
            continue;
        }
        x.alerted = true;
        let wait = (x.until - now).max(0.0).round();
        let next = backoff_delay(intent, x.failures + 1, x.class).round();
        alerts.push(Alert {
            severity: Severity::Page,
            name: match x.class {
                FailureClass::Quota => "quota",
                FailureClass::NoValidHost => "no-valid-host",
                _ => "action-failing",
            }
            .into(),
            summary: format!(
                "{intent} failed {} time(s) in a row ({}): {}; next attempt in {wait} s, {next} s after that if it fails again (doubling, capped)",
                x.failures,
                x.class.label(),
                if x.detail.is_empty() { "no detail" } else { &x.detail },
            ),
        });
    }
    for a in alerts {
        b.alert(a);
    }
}
