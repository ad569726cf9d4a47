//! Rows for what capacity costs: scheduled peaks that yield once the load has come and gone,
//! scale-in steps that grow with the margin, and floods held at the legitimate share.

use super::*;
use sloop::history::PeakHold;

/// During election night, after the polls closed (inside the `polls-close` window).
fn election_night(at: &str) -> f64 {
    at.parse::<Timestamp>().unwrap().unix()
}
/// The stabilisation window is covered by recommendations of `n` servers.
fn recommending(mut h: History, now: f64, n: u32) -> History {
    for k in 0..300 {
        h.recommendations.push_back((now - 1500.0 + k as f64 * 5.0, n));
    }
    h
}
/// The loads remembered over the last ten minutes, from `from` to `to` requests/s.
fn loads(mut h: History, now: f64, from: f64, to: f64) -> History {
    for k in 0..=60 {
        let x = k as f64 / 60.0;
        h.loads
            .push_back((now - 600.0 + x * 600.0 - 1.0, from + (to - from) * x));
    }
    h
}
fn scaled_in(d: &Decision) -> Option<Vec<String>> {
    d.actions.iter().find_map(|a| match &a.action {
        Action::ScaleIn { instances } if a.cause == Cause::OverProvisioned => Some(instances.clone()),
        _ => None,
    })
}
fn peak(d: &Decision) -> Result<(), String> {
    check(
        refused(d, RefusalReason::ScheduledPeak),
        format!("no scheduled-peak refusal: {:?} / {:?}", d.actions, d.refusals),
    )?;
    check(scaled_in(d).is_none(), "scaled in during the peak")
}

pub(super) fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "a_scheduled_peak_yields_once_the_load_came_and_stayed_low",
            why: "election night: the load has been far below what the held servers serve for releaseWhen.for after the surge, so the peak yields and ordinary scale-in proceeds before `until`",
            fixture: Fixture::healthy(20)
                .util(0.1)
                .at(election_night("2026-09-27T22:30:00+02:00")),
            history: |now| {
                let mut h = recommending(fresh(now), now, 4);
                h.peaks.insert(
                    "polls-close".into(),
                    PeakHold {
                        arrived: true,
                        quiet_since: Some(now - 901.0),
                        released_at: None,
                    },
                );
                h
            },
            policy: same,
            expect: |d| {
                check(
                    !refused(d, RefusalReason::ScheduledPeak),
                    format!("still held by the peak: {:?}", d.refusals),
                )?;
                check(scaled_in(d).is_some(), format!("no scale-in: {:?}", d.refusals))
            },
        },
        Case {
            name: "a_scheduled_peak_does_not_yield_before_the_load_came",
            why: "a quiet afternoon before the polls close is when the floor matters most: low load before the peak arrives never releases it",
            fixture: Fixture::healthy(20)
                .util(0.1)
                .at(election_night("2026-09-27T17:50:00+02:00")),
            history: |now| {
                let mut h = recommending(fresh(now), now, 4);
                h.peaks.insert(
                    "polls-close".into(),
                    PeakHold {
                        arrived: false,
                        quiet_since: None,
                        released_at: None,
                    },
                );
                h
            },
            policy: same,
            expect: peak,
        },
        Case {
            name: "a_scheduled_peak_without_a_learned_rate_holds_to_its_end",
            why: "the capacity the peak holds is unknown without a per-server rate: no release, the window holds until `until`",
            fixture: Fixture::healthy(20)
                .util(0.1)
                .at(election_night("2026-09-27T23:30:00+02:00")),
            history: |now| {
                let mut h = recommending(History::default(), now, 4);
                h.peaks.insert(
                    "polls-close".into(),
                    PeakHold {
                        arrived: true,
                        quiet_since: Some(now - 3000.0),
                        released_at: None,
                    },
                );
                h
            },
            policy: same,
            expect: peak,
        },
        Case {
            name: "scale_in_far_below_the_objective_grows_with_the_margin",
            why: "at a third of the target utilisation with the load flat, one step removes most of the excess over the window's highest recommendation, not in.maxStep (2)",
            fixture: Fixture::healthy(12).util(0.2),
            history: |now| loads(recommending(fresh(now), now, 4), now, 240.0, 240.0),
            policy: same,
            expect: |d| {
                let n = scaled_in(d).map(|v| v.len());
                check(
                    n.is_some_and(|n| (4..=8).contains(&n)),
                    format!(
                        "scale-in of {n:?} (want 4–8 of the 8 over the target): {:?}",
                        d.actions
                    ),
                )
            },
        },
        Case {
            name: "scale_in_far_below_the_objective_while_the_load_rises_stays_slow",
            why: "the load doubled over the last ten minutes: however large the margin, keep the policy's step",
            fixture: Fixture::healthy(12).util(0.2),
            history: |now| loads(recommending(fresh(now), now, 4), now, 120.0, 240.0),
            policy: same,
            expect: |d| {
                let n = scaled_in(d).map(|v| v.len());
                check(n == Some(2), format!("scale-in of {n:?}: {:?}", d.actions))
            },
        },
        Case {
            name: "the_replacement_of_a_dead_server_is_never_a_scale_in_victim",
            why: "the newest server is the replacement of a dead one: removing it would undo the repair",
            fixture: Fixture::healthy(12)
                .util(0.2)
                .instance_shutoff("vm-3")
                .replacement("vm-r", "vm-3", "h1", true),
            history: |now| loads(recommending(fresh(now), now, 4), now, 240.0, 240.0),
            policy: same,
            expect: |d| {
                let victims = scaled_in(d).ok_or(format!("no scale-in: {:?}", d.refusals))?;
                check(
                    !victims.iter().any(|v| v == "vm-r"),
                    format!("scaled in the replacement: {victims:?}"),
                )
            },
        },
        Case {
            name: "a_flood_holds_the_legitimate_share_and_pages",
            why: "30,000 requests/s is beyond what 60 servers serve at all: spending the cap buys nothing back, so hold the size for the 300 requests/s carried before the flood",
            fixture: Fixture::healthy(6).util(0.99).all_slow(2.5).load(30_000.0),
            history: |now| loads(fresh(now), now, 300.0, 300.0),
            policy: same,
            expect: |d| {
                check(has_diag(d, "flood"), format!("diagnoses: {:?}", d.diagnoses))?;
                check(
                    d.alerts
                        .iter()
                        .any(|a| a.name == "flood" && a.severity == Severity::Page),
                    "no flood page",
                )?;
                check(
                    !kinds(d).contains(&ActionKind::ScaleOut),
                    format!("spent servers on the flood: {:?}", d.actions),
                )?;
                let r = d
                    .refusals
                    .iter()
                    .find(|r| r.reason == RefusalReason::Flood)
                    .ok_or("no flood refusal")?;
                check(
                    r.evidence
                        .metrics
                        .iter()
                        .any(|(k, v)| k == "legitimate_rps" && (*v - 300.0).abs() < 1.0),
                    format!("evidence: {:?}", r.evidence),
                )
            },
        },
    ]
}
