//! What an operator reads on the page: the rotation tile agrees with the server table, no
//! `inf` or negative budget, one banner per diagnosis naming its servers, one zone for every
//! time, and the chart window as asked.

use super::*;
use crate::{
    decision::Decision,
    journal::{ActionSink, JournalEntry},
    run::status::PolicyView,
};
use serde_json::json;
use std::path::Path;

fn view(decision: serde_json::Value, instances: serde_json::Value) -> PolicyView {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/minimal.yaml");
    let policy = crate::policy::load_file(&path).expect("minimal policy").policy;
    let mut v = PolicyView::new(&policy, "minimal.yaml", 10.0);
    v.ticks = 3;
    v.last_tick = Some(1_790_525_600.0);
    v.decision = Some(crate::serve::fixtures::decision(decision));
    v.instances = serde_json::from_value(instances).expect("instances");
    v
}

fn server(id: &str, member: serde_json::Value) -> serde_json::Value {
    let mut s =
        json!({"id": id, "name": format!("web-{id}"), "status": "active", "created_at": 1_790_520_000.0});
    if !member.is_null() {
        s["member"] = member;
    }
    s
}

fn page(views: Vec<PolicyView>, journal: &Journal, window: &str) -> String {
    let mut status = Status {
        sources_synced: true,
        ..Status::default()
    };
    for v in views {
        status.policies.insert(v.name.clone(), Arc::new(v));
    }
    render_window(&status, journal, None, window)
}

fn three_servers_one_in_rotation() -> serde_json::Value {
    json!([
        server("a", json!({"weight": 1, "admin_up": true, "online": true})),
        server("b", serde_json::Value::Null),
        server("c", json!({"weight": 0, "admin_up": true, "online": true})),
    ])
}

#[test]
fn the_rotation_tile_counts_what_the_server_table_shows() {
    let v = view(json!({}), three_servers_one_in_rotation());
    assert!(v.pooled, "minimal.yaml has a pool");
    let html = page(vec![v], &Journal::in_memory(10), "3h");
    assert!(
        html.contains(">1 <span class=\"muted\" style=\"font-size:15px\">of 3 in rotation"),
        "{html}"
    );
    assert!(html.contains("Servers (3 · 1 in rotation)"));
    assert!(html.contains("not in pool"), "server b is shown out of the pool");
}

#[test]
fn a_dry_run_without_estimates_says_no_data_and_an_overspent_budget_says_so() {
    let series = |estimate: serde_json::Value, samples: u64| {
        json!({"location": "local", "family": "v6", "samples": samples, "estimate": estimate,
               "lower": 0.0, "upper": 0.0, "state": "no-data"})
    };
    let mut v = view(
        json!({"verdicts": [
            {"objective": "latency-p95", "state": "no-data", "violating_locations": 0, "judged_locations": 0,
             "per_series": [series(json!("inf"), 3), series(json!("inf"), 0)]},
            {"objective": "availability", "state": "violated", "violating_locations": 1, "judged_locations": 1,
             "per_series": [series(json!(0.2), 50)], "budget_remaining": -6.775}
        ]}),
        json!([]),
    );
    v.mode = crate::policy::Mode::DryRun;
    v.objectives = vec![
        crate::run::status::ObjectiveInfo {
            name: "latency-p95".into(),
            kind: "latency",
            threshold: 0.8,
            text: "p95 ≤ 800 ms".into(),
            quorum: 1,
        },
        crate::run::status::ObjectiveInfo {
            name: "availability".into(),
            kind: "availability",
            threshold: 0.001,
            text: "99.9% good over 30d".into(),
            quorum: 1,
        },
    ];
    let html = page(vec![v], &Journal::in_memory(10), "3h");
    for bad in ["inf ms", "NaN", "-677", "−677", "inf %"] {
        assert!(!html.contains(bad), "the page shows {bad}");
    }
    assert!(html.contains(
        "no data <span class=\"muted\" style=\"font-size:12px\">(too few samples for an estimate)"
    ));
    assert!(
        html.contains("error budget <b>exhausted</b>: 778 % of it spent"),
        "{html}"
    );
}

#[test]
fn identical_diagnoses_are_one_banner_naming_every_server() {
    let fault = |id: &str| json!({"kind": "instance-fault", "instance": id, "detail": "fails from 2 of 2 locations while its peers serve"});
    let v = view(
        json!({"diagnoses": [fault("a"), fault("c"), fault("a")]}),
        three_servers_one_in_rotation(),
    );
    let html = page(vec![v], &Journal::in_memory(10), "3h");
    assert_eq!(html.matches("Diagnosis: instance-fault").count(), 1, "{html}");
    assert!(
        html.contains("Diagnosis: instance-fault <b>web-a (a), web-c (c)</b>: fails from 2 of 2 locations")
    );
}

#[test]
fn every_time_is_in_the_one_zone_of_the_page() {
    let journal = Journal::in_memory(10);
    let mut v = view(json!({}), json!([]));
    v.tz_offset = 7200.0;
    let entry: JournalEntry = serde_json::from_value(json!({
        "at": 1_790_525_585.0, "policy": v.name, "kind": "scale-out", "action": {"kind": "scale-out", "count": 2},
        "cause": "capacity", "outcome": "done", "evidence": {"summary": "busy"}
    }))
    .expect("entry");
    journal.record(&entry);
    let html = page(vec![v.clone()], &journal, "3h");
    assert!(html.contains("times in UTC+02:00"));
    assert!(html.contains("<th>time (UTC+02:00)</th>"));
    assert!(
        html.contains(">18:13:05<"),
        "the entry at 16:13:05Z shown at +02:00"
    );
    // Policies in different zones: the page shows UTC throughout.
    let mut other = v.clone();
    other.name = "other".into();
    other.tz_offset = -18_000.0;
    let html = page(vec![v, other], &journal, "3h");
    assert!(html.contains("times in UTC<") && html.contains("<th>time (UTC)</th>"));
    assert!(!html.contains("UTC+02:00") && !html.contains("UTC-05:00"));
}

#[test]
fn the_chart_window_is_the_one_asked_for() {
    let mut v = view(json!({}), three_servers_one_in_rotation());
    let mut trend = crate::run::trend::Trend::default();
    let decision = Decision::default();
    let instances = v.instances.clone();
    for k in 0..(12 * 3600 / 60) {
        trend.record(
            1_790_480_000.0 + f64::from(k) * 60.0,
            &decision,
            &instances,
            true,
            None,
            None,
            None,
        );
    }
    v.trend = Arc::new(trend);
    let html = page(vec![v.clone()], &Journal::in_memory(10), "24h");
    assert!(
        html.contains("chart window: <a href=\"?window=15m#p-minimal-web\">15m</a>"),
        "{html}"
    );
    assert!(html.contains(" <b>24h</b>"));
    let html = page(vec![v], &Journal::in_memory(10), "bogus");
    assert!(
        html.contains(" <b>3h</b>"),
        "an unknown window falls back to the default"
    );
}

#[test]
fn the_servers_tile_and_chart_show_what_the_load_needs() {
    let mut v = view(json!({}), three_servers_one_in_rotation());
    let mut trend = crate::run::trend::Trend::default();
    let load = crate::snapshot::LoadSignal {
        requests: 300.0,
        errors: None,
        bytes_in: None,
        bytes_out: None,
        source: crate::snapshot::LoadSource::Octavia,
        at: 0.0,
        covers: 10.0,
    };
    let instances = v.instances.clone();
    for k in 0..10 {
        let t = 1_790_480_000.0 + f64::from(k) * 60.0;
        trend.record(
            t,
            &Decision::default(),
            &instances,
            true,
            Some(&load),
            Some(100.0),
            Some(0.6),
        );
    }
    v.trend = Arc::new(trend);
    let html = page(vec![v], &Journal::in_memory(10), "15m");
    assert!(html.contains("the load needs 5"), "{html}");
    assert!(
        html.contains("needed by the load"),
        "no needed line in the servers chart"
    );
}
