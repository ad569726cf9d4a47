//! A forecast of the request rate one boot-to-serve time ahead, so scale-out buys the servers a
//! surge will need by the time they serve, not the ones it needed when they were ordered. Pure.
//!
//! Fed only by what sloop observes on a real cloud: the load source's request-rate reports
//! (Octavia statistics or Prometheus; the simulator emits the same counters, never its truth)
//! and the group's own servers (for the boot time). Two parts, each of which can be turned off
//! in `spec.scaling.forecast`:
//! - [`trend`]: a robust line through the last two minutes of reports, extrapolated over the
//!   horizon when it clearly rises;
//! - [`seasonal`]: a learned profile per 10 minutes of the day and of the week, for peaks that
//!   come back without a schedule.
//!
//! The forecast is the higher of the two, only ever above the present load: a falling forecast
//! never takes capacity away ahead of time. Its state ([`ForecastState`]) lives in the history,
//! bounded: two trend windows of reports, at most 1,152 profile buckets, 16 boot times.
//!
//! No crate does this: `augurs` (MSTL, ETS, Prophet) fits whole series offline and keeps them;
//! a controller needs a small, exactly replayable state updated one report at a time, and
//! a profile of bucket means with forgetting is that.

pub mod boot;
pub mod seasonal;
pub mod trend;

use super::diagnose::UTILIZATION_TOLERANCE;
use crate::{
    policy::Policy,
    snapshot::{Snapshot, Time},
};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// What the forecast remembers between ticks (a part of [`crate::history::History`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ForecastState {
    /// Load reports (end of span, requests/s), one per report, newest last, over two trend
    /// windows.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub reports: VecDeque<(Time, f64)>,
    /// The learned daily and weekly profile.
    #[serde(default, skip_serializing_if = "seasonal::Profile::is_empty")]
    pub profile: seasonal::Profile,
    /// The group's boot-to-serve times.
    #[serde(default, skip_serializing_if = "boot::BootTimes::is_empty")]
    pub boot: boot::BootTimes,
}

/// What the forecast rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// The trend of the last reports.
    Trend,
    /// The learned profile.
    Seasonal,
}

/// Where the horizon came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HorizonBasis {
    /// The policy's `forecast.horizon`.
    Policy,
    /// The group's learned boot-to-serve time (90th percentile), from this many servers.
    LearnedBoot(usize),
    /// `healing.gracePeriod`, until boot times are learned.
    GracePeriod,
}

/// A forecast that asks for more than the present load: the evidence of a forecast-driven
/// scale-out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// The present request rate the judge sized from (requests/s).
    pub present_rps: f64,
    /// The highest request rate expected within the horizon (requests/s).
    pub rps: f64,
    /// What it rests on.
    pub basis: Basis,
    /// Seconds ahead.
    pub horizon_s: f64,
    /// Where the horizon came from.
    pub horizon_from: HorizonBasis,
    /// The trend line, when one was fitted (whether or not it rises).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend: Option<trend::Trend>,
    /// What the profile expects within the horizon, when it believes a bucket there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seasonal: Option<seasonal::Expectation>,
}

impl Forecast {
    /// One sentence: what was forecast, from what, how sure.
    pub fn describe(&self) -> String {
        let horizon = match self.horizon_from {
            HorizonBasis::Policy => "the policy's horizon".to_owned(),
            HorizonBasis::LearnedBoot(n) => {
                format!("the learned boot time of {n} servers plus the scale-out cooldown")
            }
            HorizonBasis::GracePeriod => {
                "the grace period plus the scale-out cooldown (no boot time learned yet)".to_owned()
            }
        };
        let from = match (self.basis, &self.trend, &self.seasonal) {
            (Basis::Trend, Some(t), _) => format!(
                "trend {:+.2} rps/s over {} reports, {:.0} % of pairs rising, spread ±{:.0} rps",
                t.slope,
                t.points,
                t.agreement * 100.0,
                t.spread
            ),
            (Basis::Seasonal, _, Some(e)) => format!(
                "{} profile: {:.0} rps usual at this time (±{:.0}, seen {} times)",
                match e.season {
                    seasonal::Season::Day => "daily",
                    seasonal::Season::Week => "weekly",
                },
                e.rps,
                e.dev,
                e.seen
            ),
            _ => String::new(),
        };
        format!(
            "forecast {:.0} rps in {:.0}s (now {:.0}; {from}; horizon from {horizon})",
            self.rps, self.horizon_s, self.present_rps
        )
    }
}

impl ForecastState {
    /// Whether nothing was learned.
    pub fn is_empty(&self) -> bool {
        self.reports.is_empty() && self.profile.is_empty() && self.boot.is_empty()
    }

    /// Takes this tick's observations: a new load report (one per span end) and the servers
    /// being built. A part the policy turns off keeps no state.
    pub fn observe(&mut self, policy: &Policy, snap: &Snapshot, now: Time) {
        let spec = &policy.spec.scaling.forecast;
        if let Some(l) = snap.load
            && l.requests.is_finite()
            && l.requests >= 0.0
            && self.reports.back().is_none_or(|(t, _)| l.at > *t)
        {
            self.reports.push_back((l.at, l.requests));
            if spec.seasonal {
                self.profile.observe(l.at, l.requests);
            }
        }
        let newest = self.reports.back().map_or(now, |(t, _)| *t);
        while self
            .reports
            .front()
            .is_some_and(|(t, _)| newest - t > 2.0 * trend::WINDOW)
        {
            self.reports.pop_front();
        }
        if !spec.trend {
            self.reports.clear();
        }
        if !spec.seasonal {
            self.profile = seasonal::Profile::default();
        }
        if spec.enabled() && spec.horizon.is_none() {
            self.boot.observe(policy, snap, now);
        } else {
            self.boot = boot::BootTimes::default();
        }
    }

    /// How far ahead to look, and why: the servers ordered now serve one boot time from now,
    /// and the next step may be ordered one scale-out cooldown from now, so what is ordered now
    /// must carry the load until that next step's servers serve: boot time plus cooldown.
    pub fn horizon(&self, policy: &Policy) -> (f64, HorizonBasis) {
        if let Some(h) = policy.spec.scaling.forecast.horizon {
            return (h.secs(), HorizonBasis::Policy);
        }
        let cooldown = policy.spec.scaling.out.cooldown.secs();
        match self.boot.estimate() {
            Some((secs, n)) => (secs + cooldown, HorizonBasis::LearnedBoot(n)),
            None => (
                policy.spec.healing.grace_period.secs() + cooldown,
                HorizonBasis::GracePeriod,
            ),
        }
    }

    /// The forecast at `now`, when it asks for more than `present` requests/s (by more than
    /// the utilisation tolerance). `None` when the policy turns both parts off.
    pub fn forecast(&self, policy: &Policy, present: f64, now: Time) -> Option<Forecast> {
        let spec = &policy.spec.scaling.forecast;
        if !spec.enabled() || !present.is_finite() {
            return None;
        }
        let (horizon, horizon_from) = self.horizon(policy);
        let fitted = if spec.trend {
            trend::fit(&self.reports.iter().copied().collect::<Vec<_>>())
        } else {
            None
        };
        let by_trend = fitted
            .filter(trend::Trend::rises)
            .map(|t| t.at_time(now + horizon));
        let expected = if spec.seasonal {
            self.profile.expected(now, now + horizon)
        } else {
            None
        };
        // A day that runs below its usual level (a holiday, a shrunk audience) expects its peak
        // lower by as much: the profile never raises the forecast above its own figure, and a
        // peak that does not come today is not bought in full.
        let level = self
            .profile
            .expected(now, now)
            .filter(|e| e.rps > 0.0)
            .map_or(1.0, |e| ((present + 2.0 * e.dev) / e.rps).min(1.0));
        let by_profile = expected.map(|e| e.rps * level);
        let floor = present * (1.0 + UTILIZATION_TOLERANCE);
        let (rps, basis) = match (by_trend, by_profile) {
            (Some(t), Some(s)) if s > t => (s, Basis::Seasonal),
            (Some(t), _) => (t, Basis::Trend),
            (None, Some(s)) => (s, Basis::Seasonal),
            (None, None) => return None,
        };
        (rps > floor).then_some(Forecast {
            present_rps: present,
            rps,
            basis,
            horizon_s: horizon,
            horizon_from,
            trend: fitted,
            seasonal: expected,
        })
    }
}

#[cfg(test)]
mod tests;
