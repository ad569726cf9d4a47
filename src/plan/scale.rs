//! Scaling: size the group from load and latency, out fast (capacity on its way counts, so
//! steps are not additive while VMs boot), in slowly (highest recommendation over the
//! stabilisation window, victims chosen by policy), floors from the minimum size and scheduled
//! peaks, caps from the resource guards. Pure.

use super::{Builder, Gate};
use crate::{
    decision::{Action, Cause, Diagnosis, Evidence, RefusalReason, SloState},
    judge::{Health, Judgement, diagnose::in_rotation},
    policy::{Policy, VictimOrder},
    snapshot::{Instance, InstanceStatus, Snapshot, Time},
};
use std::fmt::Write as _;

/// The scheduled peak floor in force at `now` (pre-warm included), and whether scale-in is
/// forbidden by it.
pub fn scheduled_floor(policy: &Policy, now: Time) -> (u32, bool) {
    let mut floor = 0;
    let mut no_scale_in = false;
    for peak in &policy.spec.scaling.schedule {
        if now >= peak.at.unix() - peak.prewarm.secs() && now < peak.until.unix() {
            floor = floor.max(peak.floor);
            no_scale_in |= !peak.allow_scale_in;
        }
    }
    (floor, no_scale_in)
}

fn evidence(j: &Judgement, policy: &Policy, summary: String) -> Evidence {
    let c = &j.capacity;
    let mut metrics = vec![
        ("serving".to_owned(), c.serving as f64),
        ("pending".to_owned(), c.pending as f64),
    ];
    if let Some(l) = c.load {
        metrics.push(("load_rps".into(), l));
    }
    if let Some(u) = c.utilization {
        metrics.push(("utilization".into(), u));
    }
    if let Some(n) = c.needed {
        metrics.push(("needed".into(), n as f64));
    }
    let objective = policy.spec.scaling.latency_objective.clone();
    let verdict = objective
        .as_ref()
        .and_then(|o| j.verdicts.iter().find(|v| &v.objective == o));
    let mut locations = Vec::new();
    let mut families = Vec::new();
    if let Some(v) = verdict {
        for s in v.per_series.iter().filter(|s| s.state == SloState::Violated) {
            if !locations.contains(&s.location) {
                locations.push(s.location.clone());
            }
            if !families.contains(&s.family) {
                families.push(s.family);
            }
            metrics.push((format!("p_latency_s[{}/{:?}]", s.location, s.family), s.estimate));
        }
    }
    // Burn rates of availability objectives that are burning: the SLO reason behind the numbers.
    let burn_rates = j
        .verdicts
        .iter()
        .flat_map(|v| v.burn_rates.iter().filter(|b| b.firing).cloned())
        .collect();
    // A forecast that asks for more than the present load shapes the size: say so, with its
    // figures, whichever rule the action came from.
    let forecast = c.forecast.as_ref().filter(|_| c.forecast_servers.is_some());
    let mut summary = summary;
    if let (Some(f), Some(n)) = (forecast, c.forecast_servers) {
        metrics.push(("forecast_rps".into(), f.rps));
        metrics.push(("forecast_servers".into(), f64::from(n)));
        metrics.push(("horizon_s".into(), f.horizon_s));
        if let Some(t) = &f.trend {
            metrics.push(("trend_rps_per_s".into(), t.slope));
            metrics.push(("trend_spread_rps".into(), t.spread));
        }
        let _ = write!(summary, "; {} → {n} servers", f.describe());
    }
    Evidence {
        objective,
        burn_rates,
        locations,
        families,
        metrics,
        sized_by: c.sizing,
        forecast: forecast.cloned().map(Box::new),
        summary,
    }
}

/// Plans scale-out and scale-in.
pub(super) fn scale(
    policy: &Policy,
    snap: &Snapshot,
    j: &Judgement,
    gate: &mut Gate<'_>,
    b: &mut Builder<'_>,
) {
    let now = gate.now;
    let sc = &policy.spec.scaling;
    let size = policy.spec.group.size;
    let c = &j.capacity;
    let (peak_floor, peak_no_scale_in) = scheduled_floor(policy, now);
    let floor = size.min.max(peak_floor).min(c.allowed);
    let flood = j.diagnoses.iter().any(|d| matches!(d, Diagnosis::Flood { .. }));
    let capacity_short = j
        .diagnoses
        .iter()
        .any(|d| matches!(d, Diagnosis::Capacity { .. }))
        || flood;

    let needed = c.needed.unwrap_or(c.serving + c.pending);
    // The forecast's share: servers the load one boot time ahead needs beyond the present's.
    let forecast_servers = c.forecast_servers.unwrap_or(0);
    let desired = needed.max(forecast_servers).max(floor).min(c.allowed);
    b.history.recommendations.push_back((now, desired));

    let provisioned = c.serving + c.pending;
    // === out ===
    let below_floor = provisioned < floor;
    let forecast_short = forecast_servers > provisioned && !flood;
    if desired > provisioned && (capacity_short || below_floor || forecast_short) {
        let cause = if capacity_short {
            Cause::Capacity
        } else if forecast_short && forecast_servers >= floor {
            Cause::Forecast
        } else if peak_floor > size.min {
            Cause::ScheduledPeak
        } else {
            Cause::BelowMinimum
        };
        // Scale-out stabilisation: act on the lowest recommendation over the window.
        let window = sc.out.stabilization.secs();
        let stable = b
            .history
            .recommendations
            .iter()
            .filter(|(t, _)| now - t <= window)
            .map(|(_, d)| *d)
            .min()
            .unwrap_or(desired)
            .max(floor.min(desired));
        let mut add = stable.saturating_sub(provisioned);
        let summary = format!(
            "{} serving + {} booting; {} needed (floor {floor})",
            c.serving, c.pending, needed
        );
        if add == 0 {
            b.refuse(
                Action::ScaleOut {
                    count: desired - provisioned,
                },
                cause,
                RefusalReason::Stabilization,
                evidence(j, policy, summary),
            );
            return;
        }
        let in_cooldown = b
            .history
            .last_scale_out
            .is_some_and(|t| now - t < sc.out.cooldown.secs());
        if in_cooldown && !below_floor {
            b.refuse(
                Action::ScaleOut { count: add },
                cause,
                RefusalReason::Cooldown,
                evidence(j, policy, summary),
            );
            return;
        }
        // A percentage of the group that works: ERROR servers (failed creates above all) count
        // toward the maximum, never toward the step, or the step grows with the failures.
        let broken = snap
            .inventory
            .iter()
            .filter(|i| i.status == InstanceStatus::Error)
            .count() as u32;
        let pct_step = sc.out.max_step_percent.map_or(0, |p| {
            (p.fraction() * c.total.saturating_sub(broken).max(1) as f64).ceil() as u32
        });
        let step = sc.out.max_step.max(pct_step);
        if add > step {
            b.refuse(
                Action::ScaleOut { count: add - step },
                cause,
                RefusalReason::MaxStep,
                evidence(j, policy, summary.clone()),
            );
            add = step;
        }
        let room = c.allowed.saturating_sub(c.total);
        if add > room {
            let reason = if c.allowed < size.max {
                RefusalReason::ResourceCap
            } else {
                RefusalReason::MaxSize
            };
            b.refuse(
                Action::ScaleOut { count: add - room },
                cause,
                reason,
                evidence(j, policy, summary.clone()),
            );
            add = room;
        }
        if add > 0
            && b.propose(
                gate,
                Action::ScaleOut { count: add },
                cause,
                evidence(j, policy, summary),
            )
        {
            b.history.last_scale_out = Some(now);
        }
        return;
    }
    if flood && c.total >= c.allowed {
        let extra = needed.saturating_sub(c.allowed);
        b.refuse(
            Action::ScaleOut { count: extra.max(1) },
            Cause::Capacity,
            RefusalReason::ResourceCap,
            evidence(
                j,
                policy,
                format!("load needs {needed} instances; the guards allow {}", c.allowed),
            ),
        );
    }

    // === in ===
    let over = j.diagnoses.iter().find_map(|d| match d {
        Diagnosis::OverProvisioned { needed, .. } => Some(*needed),
        _ => None,
    });
    // A server whose replacement is on its way leaves once the replacement serves
    // (`replace.rs`): the pair counts once against the maximum.
    let replaced = snap
        .inventory
        .iter()
        .filter(|i| super::replace::pending_replacement(snap, &i.id).is_some())
        .count() as u32;
    let total = c.total.saturating_sub(replaced);
    let above_max = total > c.allowed;
    let Some(over_needed) = over.or(above_max.then_some(c.allowed)) else {
        return;
    };
    // Scale-in keeps what the forecast still asks for; once it no longer does, the servers it
    // bought are released like any other surplus.
    let target = over_needed
        .max(floor)
        .max(policy.spec.limits.min_healthy)
        .max(forecast_servers.min(c.allowed));
    if target >= c.serving && !above_max {
        return;
    }
    let summary = format!("{} serving, {} needed (floor {floor})", c.serving, over_needed);
    let cause = if above_max {
        Cause::AboveMaximum
    } else {
        Cause::OverProvisioned
    };
    // Every gate below refuses the same proposal with the same evidence, only the reason differs.
    let refuse = |b: &mut Builder, reason| {
        b.refuse(
            Action::ScaleIn {
                instances: Vec::new(),
            },
            cause,
            reason,
            evidence(j, policy, summary.clone()),
        )
    };
    if peak_no_scale_in && !above_max {
        refuse(b, RefusalReason::ScheduledPeak);
        return;
    }
    if c.telemetry_missing && policy.spec.limits.freeze_when_telemetry_missing {
        refuse(b, RefusalReason::FreezeDataMissing);
        return;
    }
    let slo_unknown = j.verdicts.iter().any(|v| matches!(v.state, SloState::NoData));
    if slo_unknown && !above_max {
        refuse(b, RefusalReason::FreezeDataMissing);
        return;
    }
    // Scale-in stabilisation: the highest recommendation over the whole window must allow it,
    // and the window must be covered by recommendations.
    let window = sc.scale_in.stabilization.secs();
    let covered = b
        .history
        .recommendations
        .front()
        .is_some_and(|(t, _)| now - t >= window);
    let highest = b
        .history
        .recommendations
        .iter()
        .filter(|(t, _)| now - t <= window)
        .map(|(_, d)| *d)
        .max()
        .unwrap_or(desired);
    let stable_target = highest.max(target);
    if !above_max && (!covered || stable_target >= c.serving) {
        refuse(b, RefusalReason::Stabilization);
        return;
    }
    let since_in = b
        .history
        .last_scale_in
        .is_some_and(|t| now - t < sc.scale_in.cooldown.secs());
    let since_out = b
        .history
        .last_scale_out
        .is_some_and(|t| now - t < sc.scale_in.stabilization.secs());
    if (since_in || since_out) && !above_max {
        refuse(b, RefusalReason::Cooldown);
        return;
    }
    let goal = if above_max { c.allowed } else { stable_target };
    let mut remove = if above_max { total - goal } else { c.serving - goal };
    if remove > sc.scale_in.max_step && !above_max {
        remove = sc.scale_in.max_step;
    }
    let min_keep = policy.spec.limits.min_healthy.max(size.min);
    if c.serving.saturating_sub(remove) < min_keep && !above_max {
        remove = c.serving.saturating_sub(min_keep);
        if remove == 0 {
            refuse(b, RefusalReason::MinHealthy);
            return;
        }
    }
    let victims = victims(policy, snap, j, gate, sc.victims, remove as usize);
    if victims.is_empty() {
        return;
    }
    if b.propose(
        gate,
        Action::ScaleIn { instances: victims },
        cause,
        evidence(j, policy, summary),
    ) {
        b.history.last_scale_in = Some(now);
    }
}

/// Victims for scale-in: unhealthy first, then by the policy's order among the rest.
fn victims(
    policy: &Policy,
    snap: &Snapshot,
    j: &Judgement,
    gate: &Gate<'_>,
    order: VictimOrder,
    n: usize,
) -> Vec<String> {
    let health = |i: &Instance| {
        j.health
            .iter()
            .find(|h| h.id == i.id)
            .map_or(Health::Unknown, |h| h.health)
    };
    let mut candidates: Vec<&Instance> = snap
        .inventory
        .iter()
        .filter(|i| {
            !gate.busy(&i.id) && !matches!(i.status, InstanceStatus::Deleting | InstanceStatus::Building)
        })
        .filter(|i| in_rotation(policy, i) || matches!(health(i), Health::Unhealthy))
        .collect();
    candidates.sort_by(|a, b| {
        let bad = |i: &Instance| !matches!(health(i), Health::Unhealthy);
        bad(a).cmp(&bad(b)).then_with(|| match order {
            VictimOrder::Newest => b.created_at.total_cmp(&a.created_at),
            VictimOrder::Oldest => a.created_at.total_cmp(&b.created_at),
        })
    });
    candidates.into_iter().take(n).map(|i| i.id.clone()).collect()
}
