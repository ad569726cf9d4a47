//! Rows for the load forecast: scale-out sized for the load one boot time ahead, with the
//! forecast as evidence, and nothing bought for noise.

use super::*;
use sloop::judge::forecast::{Basis, seasonal::Bucket};

/// Load reports of the last two minutes (every 10 s), rising from `from` to `to` requests/s
/// at the report before `now` (the snapshot's own report, at `now`, follows).
fn rising(now: f64, from: f64, to: f64) -> History {
    let mut h = fresh(now);
    for k in 0..12 {
        let t = now - 120.0 + 10.0 * f64::from(k);
        let y = from + (to - from) * f64::from(k) / 11.0;
        h.forecast.reports.push_back((t, y));
    }
    h
}
/// 150 → 290 requests/s over two minutes, ahead of the fixture's 300 now.
fn surge(now: f64) -> History {
    rising(now, 150.0, 290.0)
}
/// ±10 % around 300 requests/s, no trend.
fn noise(now: f64) -> History {
    let mut h = fresh(now);
    for k in 0..12 {
        let t = now - 120.0 + 10.0 * f64::from(k);
        h.forecast
            .reports
            .push_back((t, if k % 2 == 0 { 330.0 } else { 270.0 }));
    }
    h
}
fn scale_out(d: &Decision) -> Option<(u32, &sloop::decision::PlannedAction)> {
    d.actions.iter().find_map(|a| match a.action {
        Action::ScaleOut { count } => Some((count, a)),
        _ => None,
    })
}
fn metric(e: &sloop::decision::Evidence, name: &str) -> Option<f64> {
    e.metrics.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

pub(super) fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "a_rising_load_scales_out_for_the_forecast_with_its_evidence",
            why: "servers ordered now serve one boot time later: a surge must be sized for the load then, and say what it forecast, from what, and how sure",
            fixture: Fixture::healthy(6),
            history: surge,
            policy: same,
            expect: |d| {
                let (count, a) = scale_out(d).ok_or_else(|| format!("no scale-out: {:?}", kinds(d)))?;
                check(a.cause == Cause::Forecast, format!("cause {:?}", a.cause))?;
                let f = a
                    .evidence
                    .forecast
                    .as_ref()
                    .ok_or("no forecast in the evidence")?;
                check(f.basis == Basis::Trend, format!("basis {:?}", f.basis))?;
                check(f.rps > 600.0, format!("forecast {} rps", f.rps))?;
                let t = f.trend.ok_or("no trend line in the evidence")?;
                check(t.slope > 1.0 && t.agreement > 0.9, format!("{t:?}"))?;
                check(count >= 6, format!("+{count} for a forecast of {} rps", f.rps))?;
                check(
                    a.evidence.summary.contains("forecast") && metric(&a.evidence, "horizon_s").is_some(),
                    a.evidence.summary.clone(),
                )
            },
        },
        Case {
            name: "noise_without_a_trend_buys_nothing",
            why: "load that wobbles ±10 % around a level is no surge: no forecast, no scale-out",
            fixture: Fixture::healthy(6),
            history: noise,
            policy: same,
            expect: |d| {
                check(scale_out(d).is_none(), format!("actions: {:?}", kinds(d)))?;
                check(
                    d.refusals.iter().all(|r| r.evidence.forecast.is_none()),
                    "a refusal carries a forecast",
                )
            },
        },
        Case {
            name: "a_forecast_scale_out_respects_the_cooldown",
            why: "the forecast sizes steps, it does not take them faster than the policy allows; the refusal still shows the forecast",
            fixture: Fixture::healthy(6),
            history: |now| History {
                last_scale_out: Some(now - 20.0),
                ..surge(now)
            },
            policy: same,
            expect: |d| {
                check(scale_out(d).is_none(), format!("actions: {:?}", kinds(d)))?;
                check(
                    d.refusals
                        .iter()
                        .any(|r| r.reason == RefusalReason::Cooldown && r.evidence.forecast.is_some()),
                    format!("refusals: {:?}", d.refusals),
                )
            },
        },
        Case {
            name: "with_the_forecast_off_a_rising_load_is_sized_for_the_present",
            why: "spec.scaling.forecast turns it off: 300 requests/s at 50 % utilisation needs no scale-out",
            fixture: Fixture::healthy(6),
            history: surge,
            policy: |mut p| {
                p.spec.scaling.forecast.trend = false;
                p.spec.scaling.forecast.seasonal = false;
                p
            },
            expect: |d| check(scale_out(d).is_none(), format!("actions: {:?}", kinds(d))),
        },
        Case {
            name: "scale_in_keeps_the_servers_the_forecast_asks_for",
            why: "an over-provisioned group whose load is rising again keeps what the forecast needs; only the surplus beyond it may go",
            fixture: Fixture::healthy(12).load(300.0),
            history: |now| {
                let mut h = rising(now, 210.0, 290.0);
                // The scale-in stabilisation window is covered by low recommendations.
                for k in 0..30 {
                    h.recommendations
                        .push_back((now - 1500.0 + 50.0 * f64::from(k), 5));
                }
                h
            },
            policy: same,
            expect: |d| {
                let planned = d.actions.iter().find_map(|a| match &a.action {
                    Action::ScaleIn { instances } => Some((instances.len() as u32, &a.evidence)),
                    _ => None,
                });
                let evidence = planned.map(|(_, e)| e).or_else(|| {
                    d.refusals
                        .iter()
                        .find(|r| r.action.kind() == ActionKind::ScaleIn)
                        .map(|r| &r.evidence)
                });
                let e = evidence.ok_or_else(|| format!("no scale-in considered: {:?}", kinds(d)))?;
                let wanted = metric(e, "forecast_servers").ok_or("the scale-in shows no forecast")? as u32;
                check(wanted > 5 && wanted < 12, format!("forecast_servers {wanted}"))?;
                let removed = planned.map_or(0, |(n, _)| n);
                check(
                    12 - removed >= wanted,
                    format!("removed {removed} of 12, forecast needs {wanted}"),
                )
            },
        },
        Case {
            name: "a_daily_peak_seen_on_two_days_is_pre_warmed",
            why: "a peak that comes every day at this time is bought one boot time ahead without a schedule, and says it comes from the profile",
            // Three minutes before the 10-minute bucket in which the peak usually comes.
            fixture: Fixture::healthy(6).at(support::quiet_noon() - 180.0),
            history: |now| {
                let mut h = fresh(now);
                let slot = ((now + 180.0) / 600.0).floor() as i64;
                h.forecast.profile.day.insert(
                    slot.rem_euclid(144) as u16,
                    Bucket {
                        mean: 1200.0,
                        dev: 60.0,
                        seen: 2,
                    },
                );
                h
            },
            policy: same,
            expect: |d| {
                let (count, a) = scale_out(d).ok_or_else(|| format!("no scale-out: {:?}", kinds(d)))?;
                check(a.cause == Cause::Forecast, format!("cause {:?}", a.cause))?;
                let f = a.evidence.forecast.as_ref().ok_or("no forecast")?;
                check(f.basis == Basis::Seasonal, format!("basis {:?}", f.basis))?;
                check(
                    f.seasonal.is_some_and(|e| e.seen == 2),
                    format!("{:?}", f.seasonal),
                )?;
                // 1,200 requests/s at 60 % of 100 each: 20 servers, 14 more than the 6.
                check((14..=20).contains(&count), format!("+{count}"))
            },
        },
        Case {
            name: "a_usual_peak_that_does_not_come_today_is_not_bought_in_full",
            why: "a forecast that proves wrong must be releasable: inside the peak's bucket with the load at its quiet level, the profile's figure is scaled down to what today's level says",
            fixture: Fixture::healthy(6),
            history: |now| {
                let mut h = fresh(now);
                let slot = (now / 600.0).floor() as i64;
                h.forecast.profile.day.insert(
                    slot.rem_euclid(144) as u16,
                    Bucket {
                        mean: 1200.0,
                        dev: 60.0,
                        seen: 2,
                    },
                );
                h
            },
            policy: same,
            expect: |d| {
                let n = scale_out(d).map_or(0, |(n, _)| n);
                // (300 + 2 × 60) / 1200 of the usual 1,200: 420 requests/s, 7 servers.
                check(n <= 1, format!("+{n} for a peak that is not there"))
            },
        },
    ]
}
