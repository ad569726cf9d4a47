//! The page from a small synthetic run: structure, escaping, the objective line, expectations,
//! violation shading, clipping, downsampling and the timeline cap.

use super::render;
use crate::{
    decision::{Action, Cause, Decision, Evidence, PlannedAction},
    policy::{Policy, Severity, parse},
    sim::{
        report::{AlertReport, ExpectationResult, FaultReport, ObjectiveReport, Report, TickRecord},
        truth::{MinuteTruth, PathTruth, Truth},
    },
    snapshot::{IpFamily, Time},
};
use std::collections::BTreeMap;

/// 2026-09-27T08:00:00Z.
const START: Time = 1_790_496_000.0;
const HOSTILE: &str = "<script>alert('x')</script>";

fn policy() -> Policy {
    let text = include_str!("../../../policies/election-web.yaml");
    parse("election-web.yaml", text.as_bytes()).expect("the motivating example is valid")
}

/// `minutes` of quiet traffic at p95 ≈ 200 ms; minutes 50..55 are a 5 s outage from everywhere.
fn truth(minutes: usize) -> Truth {
    let locations: Vec<String> = ["local", "fra", "ams", "nyc"].map(String::from).to_vec();
    let minutes = (0..minutes)
        .map(|i| {
            let spike = (50..55).contains(&i);
            // One shifted exponential: p95 = shift + ln(20)/rate.
            let (shift, rate) = if spike { (4.0, 3.0) } else { (0.05, 20.0) };
            let p95 = shift + 20f64.ln() / rate;
            let paths = locations
                .iter()
                .flat_map(|l| [IpFamily::V6, IpFamily::V4].map(|f| (l.clone(), f)))
                .enumerate()
                .map(|(k, (location, family))| {
                    let network = 0.01 * k as f64;
                    PathTruth {
                        location,
                        family,
                        network,
                        error_ratio: 0.0005,
                        p50: Some(shift + network),
                        p95: Some(p95 + network),
                        p99: Some(p95 + network),
                    }
                })
                .collect();
            MinuteTruth {
                start: START + 60.0 * i as f64,
                offered: 100.0 + (i % 60) as f64,
                served: 100.0,
                errors: 0.05,
                error_ratio: 0.0005,
                p50: Some(shift),
                p95: Some(p95),
                p99: Some(p95),
                paths,
                serving: 3.0,
                instances: 3 + (i / 30) as u32,
                vm_seconds: 180.0,
                utilization: 0.5,
                capacity: 300.0,
                mixture: vec![[1.0, shift, rate]],
            }
        })
        .collect();
    Truth { locations, minutes }
}

fn report(duration_s: f64) -> Report {
    Report {
        format: 1,
        scenario: HOSTILE.into(),
        policy: "election-web".into(),
        decider: "sloop".into(),
        seed: 7,
        duration_s,
        objectives: vec![ObjectiveReport {
            name: "latency-p95".into(),
            kind: "latency".into(),
            compliance: 0.95,
            violation_minutes: 5,
            budget_spent: None,
        }],
        slo_violation_minutes: 5,
        faults: vec![FaultReport {
            kind: "instance-crash".into(),
            at_s: 3000.0,
            target: "vm-<1>".into(),
            detected_after_s: Some(25.0),
            mitigated_after_s: None,
            mitigation: None,
        }],
        actions: BTreeMap::from([("scale-out".into(), 1)]),
        action_causes: BTreeMap::from([("scale-out".into(), BTreeMap::from([("capacity".into(), 1)]))]),
        healing_actions: 0,
        false_healing_actions: 0,
        failed_actions: BTreeMap::new(),
        refusals: BTreeMap::from([("cooldown".into(), 3)]),
        alerts: vec![AlertReport {
            name: "burn-rate".into(),
            severity: Severity::Page,
            at_s: 3060.0,
            lasted_s: 600.0,
            summary: "budget <burning>".into(),
        }],
        diagnoses: BTreeMap::new(),
        vm_churn: 1,
        vm_hours: 3.0,
        peak_instances: 6,
        ticks: 1,
        forecasts: Vec::new(),
        expectations: vec![
            ExpectationResult {
                name: "peakInstances".into(),
                expected: "[1, 10]".into(),
                actual: "6".into(),
                ok: true,
                min: Some(1.0),
                max: Some(10.0),
                value: Some(6.0),
            },
            ExpectationResult {
                name: "healingActions".into(),
                expected: "[1, 1]".into(),
                actual: "0".into(),
                ok: false,
                min: Some(1.0),
                max: Some(1.0),
                value: Some(0.0),
            },
        ],
    }
}

fn tick(at: f64, action: Action, summary: &str) -> TickRecord {
    TickRecord {
        decision: Decision {
            now: START + at,
            actions: vec![PlannedAction {
                id: format!("a-{at}"),
                action,
                cause: Cause::Capacity,
                evidence: Evidence {
                    summary: summary.into(),
                    ..Evidence::default()
                },
            }],
            ..Decision::default()
        },
        in_rotation: Vec::new(),
        stale_locations: Vec::new(),
        failed: Vec::new(),
        failed_ids: Vec::new(),
        created: 0,
    }
}

fn page() -> String {
    let ticks = [tick(3030.0, Action::ScaleOut { count: 3 }, "p95 <high> & rising")];
    render(&report(7200.0), &truth(120), &ticks, &policy(), START)
}

#[test]
fn the_page_is_self_contained_with_balanced_svgs_and_every_plot() {
    let html = page();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert_eq!(html.matches("<svg").count(), 4, "four plots");
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    for title in [
        "Load and capacity",
        "Instances",
        "p95 latency per location and family",
        "Error budget",
        "Timeline",
    ] {
        assert!(html.contains(&format!("<h2>{title}</h2>")), "missing {title}");
    }
    // No network: the only URL is the SVG namespace, and there is no script at all.
    let urls = html.matches("http://").count() + html.matches("https://").count();
    assert_eq!(urls, html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count());
    assert!(
        !html.contains("<script"),
        "no script, and user strings are escaped"
    );
    assert!(!html.contains("<link") && !html.contains("<img"));
}

#[test]
fn user_strings_are_escaped_everywhere() {
    let html = page();
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("vm-&lt;1&gt;"), "fault targets");
    assert!(
        html.contains("p95 &lt;high&gt; &amp; rising"),
        "evidence in the timeline and tooltips"
    );
    assert!(html.contains("budget &lt;burning&gt;"), "alert summaries");
    // Every `<` left opens a tag this renderer writes.
    for piece in html.split('<').skip(1) {
        let tag = piece.split([' ', '>', '/']).next().unwrap_or_default();
        let known = [
            "", "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "div",
            "span", "b", "section", "table", "tr", "th", "td", "p", "svg", "g", "line", "rect", "text",
            "path", "polyline", "circle",
        ];
        assert!(known.contains(&tag), "unexpected tag <{tag}");
    }
}

#[test]
fn the_latency_objective_is_drawn_as_a_threshold_line() {
    let html = page();
    assert!(html.contains("class=\"hline\""));
    assert!(html.contains("latency-p95: p95 ≤ 800 ms"));
}

#[test]
fn expectations_show_a_tick_or_a_cross() {
    let html = page();
    assert!(html.contains("<td class=\"ok\">✓</td><td>peakInstances</td>"));
    assert!(html.contains("<td class=\"bad\">✗</td><td>healingActions</td>"));
    assert!(html.contains("1 of 2 expectations held"));
}

#[test]
fn violated_minutes_are_shaded_and_spikes_are_clipped_and_marked() {
    let html = page();
    // The 5-minute outage is one band per plot (08:50–08:55 UTC; the policy's schedule is +02:00).
    assert_eq!(
        html.matches("10:50–10:55 (5 min): latency-p95").count(),
        4,
        "one band on each plot"
    );
    assert!(html.contains("class=\"clip\""), "5 s is above 3 × 800 ms");
}

#[test]
fn actions_become_markers_with_their_evidence() {
    let html = page();
    assert!(html.contains("class=\"marker\""));
    assert!(html.contains("scale-out +3 servers (capacity): p95 &lt;high&gt; &amp; rising"));
}

#[test]
fn long_runs_are_downsampled_per_series() {
    let minutes = 10_000;
    let html = render(
        &report(minutes as f64 * 60.0),
        &truth(minutes),
        &[],
        &policy(),
        START,
    );
    for group in html.split("<g fill=\"none\"").skip(1) {
        let group = group.split("</g>").next().unwrap_or_default();
        let points: usize = group
            .split("points=\"")
            .skip(1)
            .map(|p| p.split('"').next().unwrap_or_default().split(' ').count())
            .sum::<usize>()
            + group.matches("<circle").count();
        assert!(points <= super::MAX_POINTS, "{points} points in one series");
    }
    assert!(html.len() < 2_000_000, "{} bytes", html.len());
}

#[test]
fn the_timeline_is_capped_with_a_note() {
    let ticks: Vec<TickRecord> = (0..600)
        .map(|i| {
            tick(
                i as f64 * 10.0,
                Action::ScaleIn {
                    instances: vec!["vm-1".into()],
                },
                "idle",
            )
        })
        .collect();
    let html = render(&report(7200.0), &truth(120), &ticks, &policy(), START);
    assert!(html.contains("Showing the first 500 of 601 rows"));
}

#[test]
fn the_budget_curve_ends_at_the_summary_figure() {
    // Every path loses 0.05 %: half the 99.9 % budget's rate, for 120 minutes of a 30-day period.
    let p = policy();
    let t = truth(120);
    let r = report(7200.0);
    let axis = super::TimeAxis {
        start: START,
        offset_s: 0.0,
    };
    let ctx = super::Ctx {
        report: &r,
        truth: &t,
        ticks: &[],
        policy: &p,
        start: START,
        axis,
        x_range: (0.0, 7200.0),
    };
    let a = p
        .spec
        .objectives
        .iter()
        .find_map(|o| o.availability.as_ref())
        .expect("an availability objective");
    let curve = super::charts::budget_curve(&ctx, a);
    let last = curve.last().and_then(|p| p.1).expect("a point per minute");
    let want = 0.0005 / 0.001 * 7200.0 / (30.0 * 86400.0) * 100.0;
    assert!((last - want).abs() < 1e-9, "{last} vs {want}");
}
