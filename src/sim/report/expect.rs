//! A scenario's expected ranges checked against a report.

use super::*;

fn range(name: &str, r: Option<[f64; 2]>, actual: f64, out: &mut Vec<ExpectationResult>) {
    if let Some([lo, hi]) = r {
        out.push(ExpectationResult {
            name: name.into(),
            expected: format!("[{lo}, {hi}]"),
            actual: format!("{actual:.4}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string(),
            ok: actual >= lo - 1e-9 && actual <= hi + 1e-9,
            min: Some(lo),
            max: Some(hi),
            value: Some(actual),
        });
    }
}

/// Checks the scenario's expected ranges against a report.
pub fn check_expectations(e: &Expect, r: &Report) -> Vec<ExpectationResult> {
    let mut out = Vec::new();
    let count = |kinds: &[&str]| {
        kinds
            .iter()
            .map(|k| r.actions.get(*k).copied().unwrap_or(0))
            .sum::<u32>() as f64
    };
    let compliance = |kind: &str| {
        r.objectives
            .iter()
            .filter(|o| o.kind == kind)
            .map(|o| o.compliance)
            .fold(1.0, f64::min)
    };
    range(
        "healingActions",
        e.healing_actions,
        r.healing_actions as f64,
        &mut out,
    );
    range("vmChurn", e.vm_churn, r.vm_churn as f64, &mut out);
    range("scaleOuts", e.scale_outs, count(&["scale-out"]), &mut out);
    range("scaleIns", e.scale_ins, count(&["scale-in"]), &mut out);
    range("drains", e.drains, count(&["drain"]), &mut out);
    range(
        "reboots",
        e.reboots,
        count(&["reboot-soft", "reboot-hard"]),
        &mut out,
    );
    range(
        "replacements",
        e.replacements,
        count(&["rebuild", "replace"]),
        &mut out,
    );
    range("migrations", e.migrations, count(&["migrate"]), &mut out);
    range("alerts", e.alerts, r.alerts.len() as f64, &mut out);
    range(
        "latencyCompliance",
        e.latency_compliance,
        compliance("latency"),
        &mut out,
    );
    range(
        "availabilityCompliance",
        e.availability_compliance,
        compliance("availability"),
        &mut out,
    );
    range(
        "sloViolationMinutes",
        e.slo_violation_minutes,
        r.slo_violation_minutes as f64,
        &mut out,
    );
    range(
        "peakInstances",
        e.peak_instances,
        r.peak_instances as f64,
        &mut out,
    );
    range("vmHours", e.vm_hours, r.vm_hours, &mut out);
    for (name, limit, pick) in [
        (
            "detectWithin",
            e.detect_within,
            (|f: &FaultReport| f.detected_after_s) as fn(&FaultReport) -> Option<f64>,
        ),
        ("mitigateWithin", e.mitigate_within, |f: &FaultReport| {
            f.mitigated_after_s
        }),
    ] {
        if let Some(limit) = limit {
            let worst = r
                .faults
                .iter()
                .map(|f| pick(f).unwrap_or(f64::INFINITY))
                .fold(0.0, f64::max);
            out.push(ExpectationResult {
                name: name.into(),
                expected: format!("≤ {limit}"),
                actual: if worst.is_finite() {
                    format!("{worst:.0}s")
                } else {
                    "never".into()
                },
                ok: worst <= limit.secs(),
                min: None,
                max: Some(limit.secs()),
                value: worst.is_finite().then_some(worst),
            });
        }
    }
    for d in &e.diagnoses {
        let n = r.diagnoses.get(d).copied().unwrap_or(0);
        out.push(ExpectationResult {
            name: format!("diagnosis {d}"),
            expected: "seen".into(),
            actual: format!("{n} ticks"),
            ok: n > 0,
            min: Some(1.0),
            max: None,
            value: Some(f64::from(n)),
        });
    }
    for d in &e.never_diagnoses {
        let n = r.diagnoses.get(d).copied().unwrap_or(0);
        out.push(ExpectationResult {
            name: format!("no diagnosis {d}"),
            expected: "never".into(),
            actual: format!("{n} ticks"),
            ok: n == 0,
            min: None,
            max: Some(0.0),
            value: Some(f64::from(n)),
        });
    }
    for reason in &e.refusals {
        let n = r.refusals.get(reason).copied().unwrap_or(0);
        out.push(ExpectationResult {
            name: format!("refusal {reason}"),
            expected: "seen".into(),
            actual: format!("{n} ticks"),
            ok: n > 0,
            min: Some(1.0),
            max: None,
            value: Some(f64::from(n)),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expectation_carries_its_range_and_value_as_numbers() {
        let mut out = Vec::new();
        range("peakInstances", Some([30.0, 60.0]), 57.0, &mut out);
        range("latencyCompliance", Some([0.99, 1.0]), 0.998_76, &mut out);
        let j = serde_json::to_value(&out).expect("JSON");
        assert_eq!(
            (&j[0]["min"], &j[0]["max"], &j[0]["value"], &j[0]["expected"]),
            (
                &json(30.0),
                &json(60.0),
                &json(57.0),
                &serde_json::json!("[30, 60]")
            )
        );
        assert_eq!(
            (&j[1]["value"], &j[1]["actual"]),
            (&json(0.998_76), &serde_json::json!("0.9988"))
        );
    }

    fn json(v: f64) -> serde_json::Value {
        serde_json::json!(v)
    }
}
