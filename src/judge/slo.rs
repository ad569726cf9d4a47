//! SLO verdicts: per objective, per (location, family), with confidence bounds, and the
//! quorum rule that turns series views into one state. Pure.
//!
//! Families are judged separately: an objective is violated when, for some family, at least
//! `quorum` fresh locations see a confident violation. Failed probes count as infinitely slow
//! (a failed request certainly missed any latency threshold).

use super::stats;
use crate::{
    decision::{BurnRate, SeriesVerdict, SloState, Verdict},
    policy::{AvailabilityObjective, Indicator, LatencyObjective, Objective, Policy, Severity},
    snapshot::{IpFamily, ServiceSeries, Snapshot, Time},
};

/// Confidence used for every bound the judge computes.
pub const CONFIDENCE: f64 = 0.95;

/// Fewest samples in a window before a series is judged at all.
pub const MIN_SAMPLES: usize = 10;

/// Judges every objective of the policy.
pub fn verdicts(policy: &Policy, snap: &Snapshot, now: Time) -> Vec<Verdict> {
    policy
        .spec
        .objectives
        .iter()
        .filter_map(|o| verdict(o, snap, now))
        .collect()
}

fn fresh(snap: &Snapshot, location: &str) -> bool {
    // A location the collector does not list is the controller itself or unknown: trust its data.
    snap.locations
        .iter()
        .find(|l| l.name == location)
        .is_none_or(|l| l.fresh)
}

fn series_for<'a>(snap: &'a Snapshot, probe: &'a str) -> impl Iterator<Item = &'a ServiceSeries> + 'a {
    snap.service
        .iter()
        .filter(move |s| *s.key.probe == *probe && fresh(snap, &s.key.location))
}

fn verdict(objective: &Objective, snap: &Snapshot, now: Time) -> Option<Verdict> {
    let verdict = match objective.indicator()? {
        Indicator::Latency(l) => latency(objective, l, snap, now),
        Indicator::Availability(a) => availability(objective, a, snap),
    };
    Some(verdict)
}

fn latency(objective: &Objective, l: &LatencyObjective, snap: &Snapshot, now: Time) -> Verdict {
    let threshold = l.threshold.secs();
    let per_series: Vec<SeriesVerdict> = series_for(snap, &l.probe)
        .map(|s| {
            let window: Vec<f64> = s
                .recent
                .iter()
                .filter(|x| now - x.at <= l.window.secs())
                .map(|x| if x.ok { x.latency } else { f64::INFINITY })
                .collect();
            let est = (window.len() >= MIN_SAMPLES)
                .then(|| stats::percentile_with_bounds(&window, l.percentile, CONFIDENCE))
                .flatten();
            let (estimate, lower, upper, state) = match est {
                None => (f64::NAN, f64::NAN, f64::NAN, SloState::NoData),
                Some(e) => {
                    let state = if e.lower > threshold {
                        SloState::Violated
                    } else if e.upper <= threshold {
                        SloState::Met
                    } else if e.estimate > threshold {
                        SloState::AtRisk
                    } else {
                        SloState::Met
                    };
                    (e.estimate, e.lower, e.upper, state)
                }
            };
            SeriesVerdict {
                location: s.key.location.to_string(),
                family: s.key.family,
                samples: window.len() as u64,
                estimate,
                lower,
                upper,
                state,
            }
        })
        .collect();
    let (state, violating, judged) = combine(&per_series, l.quorum);
    Verdict {
        objective: objective.name.clone(),
        state,
        per_series,
        violating_locations: violating,
        judged_locations: judged,
        burn_rates: Vec::new(),
        budget_remaining: None,
    }
}

/// Applies the quorum per family and returns (state, violating locations, judged locations)
/// for the worst family.
pub fn combine(per_series: &[SeriesVerdict], quorum: u32) -> (SloState, u32, u32) {
    let mut worst = (SloState::NoData, 0, 0);
    let rank = |s: SloState| match s {
        SloState::NoData => 0,
        SloState::Met => 1,
        SloState::AtRisk => 2,
        SloState::Violated => 3,
    };
    for family in [IpFamily::V6, IpFamily::V4] {
        let of_family: Vec<&SeriesVerdict> = per_series.iter().filter(|s| s.family == family).collect();
        if of_family.is_empty() {
            continue;
        }
        let judged = of_family.iter().filter(|s| s.state != SloState::NoData).count() as u32;
        let violating = of_family.iter().filter(|s| s.state == SloState::Violated).count() as u32;
        let risky = of_family.iter().filter(|s| s.state == SloState::AtRisk).count() as u32;
        let state = if judged < quorum {
            SloState::NoData
        } else if violating >= quorum {
            SloState::Violated
        } else if violating + risky >= quorum {
            SloState::AtRisk
        } else {
            SloState::Met
        };
        if rank(state) > rank(worst.0) || (rank(state) == rank(worst.0) && violating > worst.1) {
            worst = (state, violating, judged);
        }
    }
    worst
}

fn availability(objective: &Objective, a: &AvailabilityObjective, snap: &Snapshot) -> Verdict {
    let target = a.target.fraction();
    let series: Vec<&ServiceSeries> = series_for(snap, &a.probe).collect();
    let shortest = a
        .burn_rate_alerts
        .iter()
        .map(|r| r.short.secs())
        .fold(f64::INFINITY, f64::min);
    let per_series: Vec<SeriesVerdict> = series
        .iter()
        .map(|s| {
            let c = s.count(shortest);
            let (bad, total) = c.map_or((0, 0), |c| (c.total - c.good.min(c.total), c.total));
            let ratio = if total > 0 {
                bad as f64 / total as f64
            } else {
                f64::NAN
            };
            let (lower, upper) = if total > 0 {
                stats::binomial_bounds(bad, total, CONFIDENCE)
            } else {
                (f64::NAN, f64::NAN)
            };
            let budget_ratio = 1.0 - target;
            let state = if total < MIN_SAMPLES as u64 {
                SloState::NoData
            } else if lower > budget_ratio {
                SloState::Violated
            } else if ratio > budget_ratio {
                SloState::AtRisk
            } else {
                SloState::Met
            };
            SeriesVerdict {
                location: s.key.location.to_string(),
                family: s.key.family,
                samples: total,
                estimate: ratio,
                lower,
                upper,
                state,
            }
        })
        .collect();
    // Burn rates use the error ratio that at least `quorum` locations agree on (per family, the
    // quorum-th worst), so one noisy vantage point cannot page anyone.
    let burn_rates: Vec<BurnRate> = a
        .burn_rate_alerts
        .iter()
        .map(|row| {
            let long = agreed_burn(&series, row.long.secs(), a.quorum, target);
            let short = agreed_burn(&series, row.short.secs(), a.quorum, target);
            BurnRate {
                long_window: row.long.secs(),
                short_window: row.short.secs(),
                long,
                short,
                threshold: row.burn_rate,
                firing: stats::burn_rate_fires(long, short, row.burn_rate),
            }
        })
        .collect();
    let paging = a
        .burn_rate_alerts
        .iter()
        .zip(&burn_rates)
        .any(|(r, b)| b.firing && r.severity == Severity::Page);
    let ticketing = burn_rates.iter().any(|b| b.firing);
    let (series_state, violating, judged) = combine(&per_series, a.quorum);
    let state = if series_state == SloState::NoData {
        SloState::NoData
    } else if paging {
        SloState::Violated
    } else if ticketing || series_state != SloState::Met {
        SloState::AtRisk
    } else {
        SloState::Met
    };
    let longest = a
        .burn_rate_alerts
        .iter()
        .map(|r| r.long.secs())
        .fold(0.0, f64::max);
    let budget_remaining = agreed_ratio(&series, longest, a.quorum).map(|ratio| {
        // Budget spent in the longest window we can see, as a share of the whole period's budget.
        let consumed = ratio / (1.0 - target) * (longest / a.period.secs().max(1.0));
        1.0 - consumed
    });
    Verdict {
        objective: objective.name.clone(),
        state,
        per_series,
        violating_locations: violating,
        judged_locations: judged,
        burn_rates,
        budget_remaining,
    }
}

/// The error ratio over `window` that at least `quorum` locations see, for the worst family.
fn agreed_ratio(series: &[&ServiceSeries], window: f64, quorum: u32) -> Option<f64> {
    let mut worst: Option<f64> = None;
    for family in [IpFamily::V6, IpFamily::V4] {
        let mut ratios: Vec<f64> = series
            .iter()
            .filter(|s| s.key.family == family)
            .filter_map(|s| s.count(window))
            .filter(|c| c.total > 0)
            .map(|c| (c.total - c.good.min(c.total)) as f64 / c.total as f64)
            .collect();
        if ratios.len() < quorum.max(1) as usize {
            continue;
        }
        ratios.sort_by(|a, b| b.total_cmp(a));
        let agreed = ratios[quorum.max(1) as usize - 1];
        worst = Some(worst.map_or(agreed, |w: f64| w.max(agreed)));
    }
    worst
}

fn agreed_burn(series: &[&ServiceSeries], window: f64, quorum: u32, target: f64) -> f64 {
    agreed_ratio(series, window, quorum).map_or(0.0, |r| r / (1.0 - target))
}
