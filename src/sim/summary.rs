//! The rehearsal report as text for a terminal. Pure.

use super::report::Report;
use crate::policy::units::Duration;
use std::fmt::Write;

/// Forecast-driven actions listed in the text report (all are in the JSON).
const FORECASTS_SHOWN: usize = 10;

fn dur(secs: f64) -> String {
    if !secs.is_finite() {
        return "never".into();
    }
    Duration::from_secs(secs.round().max(0.0))
        .to_string()
        .replace(' ', "")
}

/// Renders the report for people.
pub fn render(r: &Report, wall_secs: f64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "sloop rehearse: scenario `{}` × policy `{}` (decider {}, seed {}): {} simulated in {:.2}s, {} decisions\n",
        r.scenario,
        r.policy,
        r.decider,
        r.seed,
        dur(r.duration_s),
        wall_secs,
        r.ticks
    );
    let _ = writeln!(s, "Objectives (ground truth, minute by minute)");
    for o in &r.objectives {
        let budget = o
            .budget_spent
            .map(|b| format!("  error budget spent {:.2}%", b * 100.0))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  {:<20} {:<13} {:>7.3}% of minutes met   {:>4} violation minutes{budget}",
            o.name,
            o.kind,
            o.compliance * 100.0,
            o.violation_minutes
        );
    }
    let _ = writeln!(
        s,
        "  SLO-violation minutes (any objective): {}\n",
        r.slo_violation_minutes
    );

    if !r.faults.is_empty() {
        let _ = writeln!(s, "Faults");
        for f in &r.faults {
            let detected = f
                .detected_after_s
                .map_or("not detected".into(), |d| format!("detected after {}", dur(d)));
            let mitigated = match (f.mitigated_after_s, &f.mitigation) {
                (Some(m), Some(how)) => format!("mitigated after {} ({how})", dur(m)),
                _ => "not mitigated".into(),
            };
            let _ = writeln!(
                s,
                "  {:<18} at {:<8} {:<22} {detected}, {mitigated}",
                f.kind,
                dur(f.at_s),
                f.target
            );
        }
        let _ = writeln!(s);
    }

    let _ = writeln!(s, "Actions");
    if r.actions.is_empty() {
        let _ = writeln!(s, "  none");
    }
    for (kind, n) in &r.actions {
        let failed = r
            .failed_actions
            .get(kind)
            .map(|f| format!(", {f} failed at the API"))
            .unwrap_or_default();
        let causes: Vec<String> = r
            .action_causes
            .get(kind)
            .map(|c| c.iter().map(|(cause, k)| format!("{cause} {k}")).collect())
            .unwrap_or_default();
        let _ = writeln!(s, "  {kind:<14} {n:>5}  ({}{failed})", causes.join(", "));
    }
    let _ = writeln!(
        s,
        "  healing actions {}, of which on instances no fault touched: {}\n",
        r.healing_actions, r.false_healing_actions
    );
    if !r.forecasts.is_empty() {
        let _ = writeln!(
            s,
            "Forecast-driven scale-outs ({}; the first {})",
            r.forecasts.len(),
            r.forecasts.len().min(FORECASTS_SHOWN)
        );
        for f in r.forecasts.iter().take(FORECASTS_SHOWN) {
            let _ = writeln!(
                s,
                "  at {:<8} +{:<3} ({}) {}",
                dur(f.at_s),
                f.count,
                f.cause,
                f.summary
            );
        }
        let _ = writeln!(s);
    }
    if !r.refusals.is_empty() {
        let _ = writeln!(s, "Refusals (ticks on which an action was held back, by reason)");
        for (reason, n) in &r.refusals {
            let _ = writeln!(s, "  {reason:<20} {n:>5}");
        }
        let _ = writeln!(s);
    }
    if !r.alerts.is_empty() {
        let _ = writeln!(s, "Alerts");
        for a in &r.alerts {
            let _ = writeln!(
                s,
                "  {:<7} {:<16} at {:<8} for {:<8} {}",
                format!("{:?}", a.severity).to_lowercase(),
                a.name,
                dur(a.at_s),
                dur(a.lasted_s),
                a.summary
            );
        }
        let _ = writeln!(s);
    }
    if !r.diagnoses.is_empty() {
        let list: Vec<String> = r
            .diagnoses
            .iter()
            .map(|(k, v)| format!("{k} ({v} ticks)"))
            .collect();
        let _ = writeln!(s, "Diagnoses: {}\n", list.join(", "));
    }
    let _ = writeln!(
        s,
        "Cost: {:.1} VM-hours, peak {} instances, {} servers created or deleted\n",
        r.vm_hours, r.peak_instances, r.vm_churn
    );
    if !r.expectations.is_empty() {
        let failed = r.expectations.iter().filter(|e| !e.ok).count();
        let _ = writeln!(
            s,
            "Expectations of the scenario: {} of {} hold",
            r.expectations.len() - failed,
            r.expectations.len()
        );
        for e in &r.expectations {
            let _ = writeln!(
                s,
                "  {} {:<24} expected {:<14} got {}",
                if e.ok { "✓" } else { "✗" },
                e.name,
                e.expected,
                e.actual
            );
        }
    }
    s
}
