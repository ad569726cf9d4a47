//! The exposition itself: units kept apart, no `inf`, labels named for what they hold, build
//! and process figures present, and the text accepted by `promtool check metrics`.

use super::*;
use crate::decision::Decision;
use serde_json::json;
use std::{io::Write, process::Command};

/// A pass with a latency objective whose `fra` series has no samples (the judge leaves an
/// infinite estimate there) and an availability objective with a summed error ratio.
fn judged() -> (Snapshot, Decision) {
    let series = |loc: &str, samples: u64, estimate: serde_json::Value| {
        json!({"location": loc, "family": "v6", "samples": samples, "estimate": estimate,
               "lower": 0.0, "upper": 0.0, "state": "met"})
    };
    let decision = crate::serve::fixtures::decision(json!({
        "verdicts": [
            {"objective": "latency-p95", "state": "met", "violating_locations": 0, "judged_locations": 1,
             "per_series": [series("ams", 40, json!(0.25)), series("fra", 0, json!("inf"))]},
            {"objective": "availability", "state": "met", "violating_locations": 0, "judged_locations": 1,
             "per_series": [series("ams", 40, json!(0.1 + 0.2))],
             "budget_remaining": 0.1 + 0.7 + 0.1 + 0.099_999_999_999_999_98}
        ]
    }));
    let snap = Snapshot {
        inventory: serde_json::from_value(json!([
            {"id": "a", "name": "web-a", "status": "active", "created_at": 0.0},
            {"id": "b", "name": "web-b", "status": "building", "created_at": 0.0}
        ]))
        .expect("inventory"),
        ..Snapshot::default()
    };
    (snap, decision)
}

fn exposition() -> Metrics {
    let m = Metrics::new();
    let (snap, decision) = judged();
    m.pass("web", 0.01, &snap, &decision, &["latency-p95"]);
    m.reload_error("web");
    m
}

#[test]
fn latency_and_error_ratio_are_separate_metrics_and_never_infinite() {
    let text = exposition().encode_prometheus();
    assert!(
        text.contains("sloop_sli_latency_seconds{policy=\"web\",objective=\"latency-p95\",location=\"ams\",family=\"v6\"} 0.25"),
        "{text}"
    );
    assert!(
        text.contains("sloop_sli_error_ratio{policy=\"web\",objective=\"availability\",location=\"ams\",family=\"v6\"} 0.3\n"),
        "float noise removed: {text}"
    );
    assert!(!text.contains("sloop_sli_error_ratio{policy=\"web\",objective=\"latency-p95\""));
    for metric in ["sloop_sli_latency_seconds", "sloop_sli_estimate"] {
        assert!(
            !text.contains(&format!(
                "{metric}{{policy=\"web\",objective=\"latency-p95\",location=\"fra\""
            )),
            "a series without samples has no estimate line: {text}"
        );
    }
    // Every sample's value is a finite number (a histogram's `le="+Inf"` is a label).
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            !l.rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .is_some_and(f64::is_finite)
        })
        .collect();
    assert!(bad.is_empty(), "values that are not finite numbers: {bad:?}");
    assert!(
        text.contains("sloop_error_budget_remaining_ratio{policy=\"web\",objective=\"availability\"} 1.0\n"),
        "{text}"
    );
}

#[test]
fn instances_by_status_reload_errors_by_policy_build_and_process() {
    let text = exposition().encode_prometheus();
    for needle in [
        "sloop_instances{policy=\"web\",status=\"active\"} 1",
        "sloop_instances{policy=\"web\",status=\"building\"} 1",
        "sloop_policy_reload_errors_total{policy=\"web\"} 1",
        "sloop_build_info{version=\"",
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_max_fds ",
        "process_start_time_seconds ",
        "# TYPE process_cpu_seconds_total counter",
    ] {
        assert!(text.contains(needle), "lacks {needle}:\n{text}");
    }
    assert!(!text.contains("sloop_instances{policy=\"web\",kind="), "{text}");
}

#[test]
fn tidy_keeps_twelve_significant_digits() {
    assert_eq!(tidy(1_000.000_000_000_110_2), 1000.0);
    assert_eq!(tidy(0.1 + 0.2), 0.3);
    assert_eq!(tidy(0.123_456_789_012_34), 0.123_456_789_012);
    assert_eq!(tidy(1e-9), 1e-9);
    assert!(tidy(f64::INFINITY).is_infinite());
}

#[test]
fn promtool_accepts_the_exposition() {
    let text = exposition().encode_prometheus();
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is installed (`apt-get install -y prometheus`; .ci/run installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
