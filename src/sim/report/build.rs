//! Building the report from the world's ground truth and the ticks sloop decided.

use super::*;

/// Whether an objective held in one minute of ground truth, applying its quorum per family.
pub fn minute_complies(policy: &Policy, name: &str, m: &MinuteTruth) -> Option<bool> {
    let objective = policy.spec.objectives.iter().find(|o| o.name == name)?;
    let (probe, quorum) = match objective.indicator()? {
        Indicator::Latency(l) => (&l.probe, l.quorum),
        Indicator::Availability(a) => (&a.probe, a.quorum),
    };
    let probe = policy.spec.probes.iter().find(|p| &p.name == probe)?;
    if m.offered <= 0.0 {
        return Some(true);
    }
    // The server-side quantile is the costly part (a bisection over the latency mixture), and
    // most paths ask for the same one (no errors): compute each distinct one once.
    let mut quantiles: Vec<(f64, Option<f64>)> = Vec::new();
    let mut server_quantile = |q: f64| match quantiles.iter().find(|(k, _)| *k == q) {
        Some((_, v)) => *v,
        None => {
            let v = m.server_quantile(q * 100.0);
            quantiles.push((q, v));
            v
        }
    };
    for family in IpFamily::expand(probe.family) {
        let bad = probe
            .locations
            .iter()
            .filter_map(|loc| m.paths.iter().find(|p| &p.location == loc && p.family == *family))
            .filter(|path| match objective.indicator() {
                Some(Indicator::Latency(l)) => {
                    // Failed requests are slower than any threshold: the p-th percentile of all
                    // requests is the p/(1−err)-th of the served ones.
                    let q = l.percentile / 100.0;
                    let err = path.error_ratio;
                    if err >= 1.0 - q {
                        return true;
                    }
                    let served_q = (q / (1.0 - err)).min(0.999_999);
                    server_quantile(served_q).is_none_or(|x| x + path.network > l.threshold.secs())
                }
                Some(Indicator::Availability(a)) => path.error_ratio > 1.0 - a.target.fraction(),
                None => false,
            })
            .count() as u32;
        if bad >= quorum {
            return Some(false);
        }
    }
    Some(true)
}

/// Builds the report.
pub fn build(
    policy: &Policy,
    scenario: &Scenario,
    seed: u64,
    truth: &Truth,
    faults: &[InjectedFault],
    ticks: &[TickRecord],
    start: Time,
) -> Report {
    let minutes = &truth.minutes;
    let mut any_violation = vec![false; minutes.len()];
    let objectives = policy
        .spec
        .objectives
        .iter()
        .map(|o| {
            let mut violated = 0;
            for (i, m) in minutes.iter().enumerate() {
                if minute_complies(policy, &o.name, m) == Some(false) {
                    violated += 1;
                    any_violation[i] = true;
                }
            }
            let budget_spent = o.availability.as_ref().map(|a| budget_spent(policy, a, truth));
            ObjectiveReport {
                name: o.name.clone(),
                kind: if o.latency.is_some() {
                    "latency"
                } else {
                    "availability"
                }
                .into(),
                compliance: if minutes.is_empty() {
                    1.0
                } else {
                    1.0 - violated as f64 / minutes.len() as f64
                },
                violation_minutes: violated,
                budget_spent,
            }
        })
        .collect();

    let mut actions: BTreeMap<String, u32> = BTreeMap::new();
    let mut action_causes: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    let mut refusals: BTreeMap<String, u32> = BTreeMap::new();
    let mut diagnoses: BTreeMap<String, u32> = BTreeMap::new();
    let mut failed_actions: BTreeMap<String, u32> = BTreeMap::new();
    let mut healing = 0;
    let mut false_healing = 0;
    let mut churn = 0;
    let mut forecasts = Vec::new();
    for t in ticks {
        for a in &t.decision.actions {
            if let (Some(f), crate::decision::Action::ScaleOut { count }) = (&a.evidence.forecast, &a.action)
            {
                forecasts.push(super::ForecastAction {
                    at_s: t.decision.now - start,
                    kind: a.action.kind().label().into(),
                    count: *count,
                    cause: label_of(a.cause),
                    forecast: (**f).clone(),
                    summary: f.describe(),
                });
            }
            *actions.entry(a.action.kind().label().into()).or_default() += 1;
            let cause = label_of(a.cause);
            *action_causes
                .entry(a.action.kind().label().into())
                .or_default()
                .entry(cause)
                .or_default() += 1;
            if a.action.kind().is_healing() {
                healing += 1;
                if !fault_touched(faults, &a.action, t.decision.now) {
                    false_healing += 1;
                }
            }
            churn += match &a.action {
                crate::decision::Action::ScaleIn { instances } => instances.len() as u32,
                crate::decision::Action::Replace { .. } => 1,
                _ => 0,
            };
        }
        churn += t.created;
        let mut seen: Vec<(RefusalReason, ActionKind)> = Vec::new();
        for r in &t.decision.refusals {
            let key = (r.reason, r.action.kind());
            if !seen.contains(&key) {
                seen.push(key);
                *refusals.entry(r.reason.label().into()).or_default() += 1;
            }
        }
        let mut labels: Vec<&str> = t.decision.diagnoses.iter().map(Diagnosis::label).collect();
        labels.dedup();
        for l in labels {
            *diagnoses.entry(l.into()).or_default() += 1;
        }
        for (kind, _) in &t.failed {
            *failed_actions.entry(kind.label().into()).or_default() += 1;
        }
    }

    let mut report = Report {
        format: 1,
        scenario: scenario.name.clone(),
        policy: policy.metadata.name.clone(),
        decider: "sloop".into(),
        seed,
        duration_s: scenario.end_unix() - scenario.start_unix(),
        objectives,
        slo_violation_minutes: any_violation.iter().filter(|v| **v).count() as u32,
        faults: faults.iter().map(|f| fault_report(f, ticks, start)).collect(),
        actions,
        action_causes,
        healing_actions: healing,
        false_healing_actions: false_healing,
        failed_actions,
        refusals,
        alerts: alert_episodes(ticks, start),
        diagnoses,
        vm_churn: churn,
        vm_hours: minutes.iter().map(|m| m.vm_seconds).sum::<f64>() / 3600.0,
        peak_instances: minutes.iter().map(|m| m.instances).max().unwrap_or(0),
        ticks: ticks.len() as u32,
        expectations: Vec::new(),
        forecasts,
    };
    report.expectations = check_expectations(&scenario.expect, &report);
    report
}

/// Whether a fault that had started by `now` touched the target of `action`: its instance, or
/// (a migration) the host it leaves. A migration off a faulty host is justified for any instance
/// on it, including one the scheduler placed there after the fault began.
pub fn fault_touched(faults: &[InjectedFault], action: &crate::decision::Action, now: Time) -> bool {
    let target = action.instance().cloned().unwrap_or_default();
    let from_host = match action {
        crate::decision::Action::Migrate { from_host, .. } => Some(from_host.as_str()),
        _ => None,
    };
    faults.iter().any(|f| {
        f.start <= now + 1.0
            && (f.instance.as_deref() == Some(target.as_str())
                || f.instances.contains(&target)
                || (from_host.is_some() && f.host.as_deref() == from_host))
    })
}

fn budget_spent(policy: &Policy, a: &crate::policy::AvailabilityObjective, truth: &Truth) -> f64 {
    let Some(probe) = policy.spec.probes.iter().find(|p| p.name == a.probe) else {
        return 0.0;
    };
    let run = truth.minutes.len() as f64 * 60.0;
    let mut worst: f64 = 0.0;
    for family in IpFamily::expand(probe.family) {
        let mut ratios: Vec<f64> = probe
            .locations
            .iter()
            .map(|loc| {
                let (mut bad, mut total) = (0.0, 0.0);
                for m in &truth.minutes {
                    if let Some(p) = m.paths.iter().find(|p| &p.location == loc && p.family == *family) {
                        bad += p.error_ratio * m.offered;
                        total += m.offered;
                    }
                }
                if total > 0.0 { bad / total } else { 0.0 }
            })
            .collect();
        ratios.sort_by(|x, y| y.total_cmp(x));
        if let Some(r) = ratios.get(a.quorum.max(1) as usize - 1) {
            worst = worst.max(*r);
        }
    }
    worst / (1.0 - a.target.fraction()) * run / a.period.secs().max(1.0)
}

/// A cause in its kebab-case form, as in the decision log.
fn label_of(cause: crate::decision::Cause) -> String {
    serde_json::to_value(cause)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn fault_report(f: &InjectedFault, ticks: &[TickRecord], start: Time) -> FaultReport {
    let names = |d: &Diagnosis| match d {
        Diagnosis::InstanceFault { instance, .. } => {
            f.instance.as_deref() == Some(instance.as_str()) || f.instances.contains(instance)
        }
        Diagnosis::HostFault { host, instances, .. } => {
            f.host.as_deref() == Some(host.as_str()) || instances.iter().any(|i| f.instances.contains(i))
        }
        Diagnosis::NetworkPath { locations, .. } => {
            f.location.as_ref().is_some_and(|l| locations.contains(l))
        }
        _ => false,
    };
    let after: Vec<&TickRecord> = ticks.iter().filter(|t| t.decision.now >= f.start).collect();
    let detected = match f.kind {
        "agent-silent" => after
            .iter()
            .find(|t| f.location.as_ref().is_some_and(|l| t.stale_locations.contains(l))),
        "api-brownout" | "quota-exhausted" => after.iter().find(|t| !t.failed.is_empty()),
        "telemetry-blackout" => after.iter().find(|t| {
            t.decision
                .refusals
                .iter()
                .any(|r| r.reason == RefusalReason::FreezeDataMissing)
                || t.decision.alerts.iter().any(|a| a.name == "freeze")
        }),
        _ => after.iter().find(|t| t.decision.diagnoses.iter().any(names)),
    }
    .map(|t| t.decision.now - f.start);
    let out_of_rotation = f.instance.as_ref().and_then(|id| {
        after
            .iter()
            .find(|t| !t.in_rotation.contains(id))
            .map(|t| (t.decision.now - f.start, "out of rotation"))
    });
    let resolved = f
        .resolved_at
        .map(|r| (r - f.start, f.resolved_by.as_deref().unwrap_or("resolved")));
    let (mitigated_after_s, mitigation) = match (out_of_rotation, resolved) {
        (Some(a), Some(b)) if b.0 < a.0 => (Some(b.0), Some(b.1.to_owned())),
        (Some(a), _) => (Some(a.0), Some(a.1.to_owned())),
        (None, Some(b)) => (Some(b.0), Some(b.1.to_owned())),
        (None, None) => (None, None),
    };
    let target = [f.instance.clone(), f.host.clone(), f.location.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    FaultReport {
        kind: f.kind.into(),
        at_s: f.start - start,
        target: if target.is_empty() { "-".into() } else { target },
        detected_after_s: detected,
        mitigated_after_s,
        mitigation,
    }
}

fn alert_episodes(ticks: &[TickRecord], start: Time) -> Vec<AlertReport> {
    let mut open: BTreeMap<String, (usize, f64)> = BTreeMap::new();
    let mut out: Vec<AlertReport> = Vec::new();
    for t in ticks {
        let now_names: Vec<&str> = t.decision.alerts.iter().map(|a| a.name.as_str()).collect();
        for a in &t.decision.alerts {
            match open.get(&a.name) {
                Some(&(i, _)) => out[i].lasted_s = t.decision.now - start - out[i].at_s,
                None => {
                    out.push(AlertReport {
                        name: a.name.clone(),
                        severity: a.severity,
                        at_s: t.decision.now - start,
                        lasted_s: 0.0,
                        summary: a.summary.clone(),
                    });
                    open.insert(a.name.clone(), (out.len() - 1, t.decision.now));
                }
            }
        }
        open.retain(|name, _| now_names.contains(&name.as_str()));
    }
    out
}
