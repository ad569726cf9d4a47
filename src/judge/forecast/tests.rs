use super::*;
use crate::{
    policy::{Policy, parse},
    snapshot::{LoadSignal, LoadSource},
};

fn election() -> Policy {
    let text = include_str!("../../../policies/election-web.yaml");
    parse("election-web.yaml", text.as_bytes()).expect("valid")
}

fn with_load(at: f64, requests: f64) -> Snapshot {
    Snapshot {
        observed_at: at,
        load: Some(LoadSignal {
            requests,
            errors: None,
            bytes_in: None,
            bytes_out: None,
            source: LoadSource::Octavia,
            at,
            covers: 10.0,
        }),
        ..Snapshot::default()
    }
}

/// Feeds `rate(t)` every 10 s from `from` to `to` (reports and profile) and returns the state.
fn fed(policy: &Policy, from: f64, to: f64, rate: impl Fn(f64) -> f64) -> ForecastState {
    let mut s = ForecastState::default();
    let mut t = from;
    while t <= to {
        s.observe(policy, &with_load(t, rate(t)), t);
        t += 10.0;
    }
    s
}

#[test]
fn a_surge_is_forecast_one_horizon_ahead_with_its_evidence() {
    let p = election();
    // 300 requests/s, then +5 requests/s every second from t = 1,000.
    let s = fed(&p, 0.0, 1100.0, |t| 300.0 + 5.0 * (t - 1000.0).max(0.0));
    let f = s.forecast(&p, 800.0, 1100.0).expect("a rise is forecast");
    assert_eq!(f.basis, Basis::Trend);
    // No boot time learned: the grace period (5 min in election-web) and the scale-out
    // cooldown (1 min) are the horizon.
    assert_eq!(f.horizon_from, HorizonBasis::GracePeriod);
    assert_eq!(f.horizon_s, 360.0);
    assert!((f.rps - 2600.0).abs() < 50.0, "800 + 5 × 360: {}", f.rps);
    let text = f.describe();
    assert!(text.contains("trend +5.00 rps/s"), "{text}");
}

#[test]
fn a_steady_load_is_no_forecast() {
    let p = election();
    let s = fed(&p, 0.0, 3600.0, |t| 300.0 + 20.0 * (t / 170.0).sin());
    assert_eq!(s.forecast(&p, 300.0, 3600.0), None);
}

#[test]
fn a_falling_load_never_forecasts_less_than_the_present() {
    let p = election();
    let s = fed(&p, 0.0, 600.0, |t| 3000.0 - 4.0 * t);
    assert_eq!(s.forecast(&p, 600.0, 600.0), None);
}

#[test]
fn the_policy_turns_each_part_off() {
    let mut p = election();
    p.spec.scaling.forecast.trend = false;
    let s = fed(&p, 0.0, 1100.0, |t| 300.0 + 5.0 * (t - 1000.0).max(0.0));
    assert!(s.reports.is_empty(), "a part that is off keeps no state");
    assert_eq!(s.forecast(&p, 800.0, 1100.0), None);
}

#[test]
fn a_daily_peak_is_pre_warmed_from_the_third_day() {
    let p = election();
    const DAY: f64 = 86_400.0;
    let peak = |t: f64| {
        let h = (t % DAY) / 3600.0;
        if (18.0..20.0).contains(&h) { 3000.0 } else { 300.0 }
    };
    // Two days seen: the next evening's peak is expected before it starts.
    let s = fed(&p, 0.0, 2.0 * DAY + 17.0 * 3600.0 + 57.0 * 60.0, peak);
    let now = 2.0 * DAY + 17.0 * 3600.0 + 57.0 * 60.0;
    let f = s.forecast(&p, 300.0, now).expect("the usual peak");
    assert_eq!(f.basis, Basis::Seasonal);
    assert_eq!(f.rps, 3000.0);
    // One day seen is no pattern.
    let s = fed(&p, 0.0, DAY + 17.0 * 3600.0 + 57.0 * 60.0, peak);
    assert_eq!(s.forecast(&p, 300.0, DAY + 17.0 * 3600.0 + 57.0 * 60.0), None);
}

#[test]
fn a_day_running_below_its_usual_level_expects_its_peak_lower() {
    let p = election();
    const DAY: f64 = 86_400.0;
    let peak = |t: f64| {
        let h = (t % DAY) / 3600.0;
        if (18.0..20.0).contains(&h) { 3000.0 } else { 300.0 }
    };
    let now = 2.0 * DAY + 17.0 * 3600.0 + 57.0 * 60.0;
    let s = fed(&p, 0.0, now, peak);
    // Today runs at a third of the usual 300 requests/s.
    let f = s.forecast(&p, 100.0, now).expect("a lower peak");
    assert!((f.rps - 1000.0).abs() < 1.0, "{}", f.rps);
}

#[test]
fn the_state_stays_bounded_over_weeks() {
    let p = election();
    let s = fed(&p, 0.0, 21.0 * 86_400.0, |t| 300.0 + 100.0 * (t / 3600.0).sin());
    assert!(s.reports.len() <= (2.0 * trend::WINDOW / 10.0) as usize + 1);
    assert!(s.profile.day.len() <= seasonal::DAY as usize);
    assert!(s.profile.week.len() <= seasonal::WEEK as usize);
    let text = serde_json::to_string(&s).expect("serialises");
    let back: ForecastState = serde_json::from_str(&text).expect("reads back");
    assert_eq!(back, s, "a replayed history reads back exactly");
}
