//! Where the VM-hours of a rehearsal went: what the load needed, and what each scheduled peak
//! held beyond that. From the world's ground truth and the decisions. Pure.

use super::*;
use crate::decision::{Action, Cause};

/// The cost of a run beyond its total.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostReport {
    /// VM-hours the load needed: per minute, the offered load over the serving servers' mean
    /// capacity at the policy's target utilisation (100 % without one), at least `size.min`.
    /// Minutes without a serving server count `size.min`.
    pub needed_vm_hours: f64,
    /// Per scheduled peak whose window the run covers: the VM-hours the group ran above what the
    /// load needed while the peak held (its window, pre-warm included, until it yielded).
    pub scheduled_peaks: Vec<PeakCost>,
}

/// What one scheduled peak cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeakCost {
    /// The peak's name.
    pub name: String,
    /// VM-hours above the load's need while it held.
    pub vm_hours: f64,
    /// Seconds after the scenario start when it yielded (its first scale-in for
    /// over-provisioning inside the window), `None` if it held to its end.
    pub yielded_at_s: Option<f64>,
}

/// Servers the load of minute `m` needed.
fn needed(policy: &Policy, m: &MinuteTruth) -> f64 {
    let min = f64::from(policy.spec.group.size.min);
    if m.serving <= 0.0 || m.capacity <= 0.0 {
        return min;
    }
    let target = policy
        .spec
        .scaling
        .target_utilization
        .map_or(1.0, |p| p.fraction())
        .max(0.01);
    let per_server = m.capacity / m.serving;
    (m.offered / (per_server * target)).ceil().max(min)
}

/// The cost breakdown of a run.
pub fn cost(policy: &Policy, minutes: &[MinuteTruth], ticks: &[TickRecord], start: Time) -> CostReport {
    let needed_vm_hours = minutes.iter().map(|m| needed(policy, m)).sum::<f64>() / 60.0;
    let scheduled_peaks = policy
        .spec
        .scaling
        .schedule
        .iter()
        .filter(|peak| {
            // Only the peaks whose window the run covers.
            let (from, until) = (peak.at.unix() - peak.prewarm.secs(), peak.until.unix());
            minutes.iter().any(|m| m.start >= from && m.start < until)
        })
        .map(|peak| {
            let from = peak.at.unix() - peak.prewarm.secs();
            let until = peak.until.unix();
            // A peak that forbids scale-in has yielded once sloop scales in for over-provisioning
            // inside its window; one that allows it holds only its floor.
            let yielded = (!peak.allow_scale_in)
                .then(|| {
                    ticks.iter().find(|t| {
                        let now = t.decision.now;
                        now >= peak.at.unix()
                            && now < until
                            && t.decision.actions.iter().any(|a| {
                                matches!(a.action, Action::ScaleIn { .. })
                                    && a.cause == Cause::OverProvisioned
                            })
                    })
                })
                .flatten()
                .map(|t| t.decision.now);
            let held_until = yielded.unwrap_or(until);
            let vm_seconds: f64 = minutes
                .iter()
                .filter(|m| m.start >= from && m.start < held_until)
                .map(|m| {
                    let servers = m.vm_seconds / 60.0;
                    let held = if peak.allow_scale_in {
                        servers.min(f64::from(peak.floor))
                    } else {
                        servers
                    };
                    (held - needed(policy, m)).max(0.0) * 60.0
                })
                .sum();
            PeakCost {
                name: peak.name.clone(),
                vm_hours: vm_seconds / 3600.0,
                yielded_at_s: yielded.map(|t| t - start),
            }
        })
        .collect();
    CostReport {
        needed_vm_hours,
        scheduled_peaks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::PlannedAction;

    fn policy() -> Policy {
        let text = include_str!("../../../policies/election-web.yaml");
        crate::policy::parse("election-web.yaml", text.as_bytes()).expect("valid")
    }

    /// A minute at `start` with `servers` billed, all serving at 100 requests/s each, and
    /// `offered` requests/s.
    fn minute(start: Time, servers: f64, offered: f64) -> MinuteTruth {
        MinuteTruth {
            start,
            offered,
            served: offered,
            errors: 0.0,
            error_ratio: 0.0,
            p50: None,
            p95: None,
            p99: None,
            paths: Vec::new(),
            serving: servers,
            instances: servers as u32,
            vm_seconds: servers * 60.0,
            utilization: 0.0,
            capacity: servers * 100.0,
            mixture: Vec::new(),
        }
    }

    fn scale_in_at(now: Time) -> TickRecord {
        TickRecord::of(Decision {
            now,
            actions: vec![PlannedAction {
                id: "a".into(),
                action: Action::ScaleIn {
                    instances: vec!["vm-1".into()],
                },
                cause: Cause::OverProvisioned,
                evidence: Default::default(),
            }],
            ..Decision::default()
        })
    }

    #[test]
    fn a_peak_costs_what_runs_above_the_loads_need_until_it_yields() {
        let p = policy();
        let at = p.spec.scaling.schedule[0].at.unix();
        // An hour inside the window: 20 servers where 600 requests/s need 10 at 60 %.
        let minutes: Vec<MinuteTruth> = (0..60)
            .map(|k| minute(at + f64::from(k) * 60.0, 20.0, 600.0))
            .collect();
        let held = cost(&p, &minutes, &[], at);
        assert_eq!(held.scheduled_peaks.len(), 1);
        assert!((held.scheduled_peaks[0].vm_hours - 10.0).abs() < 1e-9, "{held:?}");
        assert_eq!(held.scheduled_peaks[0].yielded_at_s, None);
        assert!((held.needed_vm_hours - 10.0).abs() < 1e-9, "{held:?}");
        // It yields half-way: only the first half counts.
        let yielded = cost(&p, &minutes, &[scale_in_at(at + 1800.0)], at);
        assert!(
            (yielded.scheduled_peaks[0].vm_hours - 5.0).abs() < 1e-9,
            "{yielded:?}"
        );
        assert_eq!(yielded.scheduled_peaks[0].yielded_at_s, Some(1800.0));
        // A run outside the window reports no peak.
        let far: Vec<MinuteTruth> = (0..60)
            .map(|k| minute(f64::from(k) * 60.0, 20.0, 600.0))
            .collect();
        assert!(cost(&p, &far, &[], 0.0).scheduled_peaks.is_empty());
    }
}
