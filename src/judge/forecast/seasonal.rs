//! A learned daily and weekly profile of the request rate, so a peak that comes every day (or
//! every Monday) is pre-warmed without a schedule: the idea of AWS predictive scaling, kept to
//! what a controller can carry in its history. Pure.
//!
//! The rate is averaged per [`BUCKET`] of time; when a bucket closes, its mean is folded into
//! the same bucket of the day and of the week (UTC) by exponential forgetting ([`FORGET`] per
//! season), with a forgetting mean absolute deviation as the spread. A bucket is believed once
//! it has been seen on [`MIN_SEEN`] days (weeks); the weekly profile wins once it is believed.
//! Memory is bounded by the number of buckets: at most 144 for the day and 1,008 for the week.

use crate::snapshot::Time;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Seconds per bucket.
pub const BUCKET: f64 = 600.0;
/// Buckets per day.
pub const DAY: i64 = 144;
/// Buckets per week.
pub const WEEK: i64 = 7 * DAY;
/// Weight of a new day (week) in a bucket: about half of the weight is on the last two.
pub const FORGET: f64 = 0.3;
/// Seasons a bucket must have been seen before it is believed.
pub const MIN_SEEN: u16 = 2;
/// Reports a bucket needs before it is folded in (a bucket cut short by a restart is not).
const MIN_REPORTS: u32 = 3;

/// The learned profile.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Profile {
    /// Per bucket of the day (UTC), by its index in the day.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub day: BTreeMap<u16, Bucket>,
    /// Per bucket of the week (weeks start on Thursday 00:00 UTC, as the Unix epoch does).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub week: BTreeMap<u16, Bucket>,
    /// The bucket being filled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<Open>,
}

/// One bucket of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Forgetting mean of the bucket's mean rate (requests/s, to 0.01).
    pub mean: f64,
    /// Forgetting mean absolute deviation from `mean` (requests/s, to 0.01).
    pub dev: f64,
    /// Seasons folded in (saturating).
    pub seen: u16,
}

/// The bucket being filled: its index since the epoch and the reports so far.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Open {
    /// Bucket index since the Unix epoch.
    pub slot: i64,
    /// Sum of the reported rates.
    pub sum: f64,
    /// Number of reports.
    pub reports: u32,
}

/// Which profile an expectation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Season {
    /// The same time of day.
    Day,
    /// The same time of the week.
    Week,
}

/// What the profile expects over a span of time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    /// The highest bucket mean in the span (requests/s).
    pub rps: f64,
    /// That bucket's spread (requests/s).
    pub dev: f64,
    /// Days or weeks that bucket has been seen.
    pub seen: u16,
    /// Which profile.
    pub season: Season,
    /// The start of that bucket (seconds since the epoch).
    pub at: Time,
}

fn slot_of(t: Time) -> i64 {
    (t / BUCKET).floor() as i64
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl Bucket {
    fn fold(old: Option<Bucket>, x: f64) -> Bucket {
        match old {
            None => Bucket {
                mean: round(x),
                dev: 0.0,
                seen: 1,
            },
            Some(b) => Bucket {
                dev: round(b.dev + FORGET * ((x - b.mean).abs() - b.dev)),
                mean: round(b.mean + FORGET * (x - b.mean)),
                seen: b.seen.saturating_add(1),
            },
        }
    }
}

impl Profile {
    /// Whether nothing was learned.
    pub fn is_empty(&self) -> bool {
        self.day.is_empty() && self.week.is_empty() && self.open.is_none()
    }

    /// Takes one report of `rate` requests/s whose span ended `at`.
    pub fn observe(&mut self, at: Time, rate: f64) {
        if !(rate.is_finite() && rate >= 0.0) {
            return;
        }
        let slot = slot_of(at);
        match self.open {
            Some(ref mut o) if o.slot == slot => {
                o.sum += rate;
                o.reports += 1;
                return;
            }
            Some(o) if o.slot < slot && o.reports >= MIN_REPORTS => {
                let mean = o.sum / f64::from(o.reports);
                let d = o.slot.rem_euclid(DAY) as u16;
                let w = o.slot.rem_euclid(WEEK) as u16;
                self.day.insert(d, Bucket::fold(self.day.get(&d).copied(), mean));
                self.week
                    .insert(w, Bucket::fold(self.week.get(&w).copied(), mean));
            }
            // A report older than the open bucket (a clock step back) is dropped.
            Some(o) if o.slot > slot => return,
            _ => {}
        }
        self.open = Some(Open {
            slot,
            sum: rate,
            reports: 1,
        });
    }

    /// The believed bucket for the slot: the week's once seen [`MIN_SEEN`] weeks, else the day's.
    fn believed(&self, slot: i64) -> Option<(Bucket, Season)> {
        let w = slot.rem_euclid(WEEK) as u16;
        let d = slot.rem_euclid(DAY) as u16;
        let week = self.week.get(&w).filter(|b| b.seen >= MIN_SEEN);
        let day = self.day.get(&d).filter(|b| b.seen >= MIN_SEEN);
        week.map(|b| (*b, Season::Week))
            .or_else(|| day.map(|b| (*b, Season::Day)))
    }

    /// The highest believed bucket whose time overlaps `[from, to]`.
    pub fn expected(&self, from: Time, to: Time) -> Option<Expectation> {
        let mut best: Option<Expectation> = None;
        for slot in slot_of(from)..=slot_of(to.max(from)) {
            if let Some((b, season)) = self.believed(slot)
                && best.is_none_or(|e| b.mean > e.rps)
            {
                best = Some(Expectation {
                    rps: b.mean,
                    dev: b.dev,
                    seen: b.seen,
                    season,
                    at: slot as f64 * BUCKET,
                });
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_S: f64 = 86_400.0;

    /// 300 requests/s, and 3,000 from 18:00 to 19:00 UTC, reported every 10 s for `days`.
    fn daily_peak(days: u32) -> Profile {
        let mut p = Profile::default();
        let mut t = 0.0;
        while t < f64::from(days) * DAY_S {
            let hour = (t % DAY_S) / 3600.0;
            p.observe(
                t,
                if (18.0..19.0).contains(&hour) {
                    3000.0
                } else {
                    300.0
                },
            );
            t += 10.0;
        }
        p
    }

    #[test]
    fn a_daily_peak_is_expected_after_two_days_and_not_after_one() {
        let one = daily_peak(1);
        let before = DAY_S + 17.0 * 3600.0 + 55.0 * 60.0;
        assert_eq!(
            one.expected(before, before + 600.0),
            None,
            "one day is no pattern"
        );
        let three = daily_peak(3);
        let before = 3.0 * DAY_S + 17.0 * 3600.0 + 55.0 * 60.0;
        let e = three
            .expected(before, before + 600.0)
            .expect("the peak is expected");
        assert_eq!(e.rps, 3000.0);
        assert_eq!(e.season, Season::Day);
        assert_eq!(e.at, 3.0 * DAY_S + 18.0 * 3600.0);
        let quiet = 3.0 * DAY_S + 10.0 * 3600.0;
        assert_eq!(three.expected(quiet, quiet + 600.0).map(|e| e.rps), Some(300.0));
    }

    #[test]
    fn the_weekly_profile_wins_once_seen_twice() {
        let p = daily_peak(15);
        let before = 15.0 * DAY_S + 17.0 * 3600.0 + 55.0 * 60.0;
        let e = p.expected(before, before + 600.0).expect("expected");
        assert_eq!(e.season, Season::Week);
        assert_eq!(e.seen, 2);
    }

    #[test]
    fn a_peak_that_stops_coming_is_forgotten() {
        let mut p = daily_peak(3);
        let mut t = 3.0 * DAY_S;
        while t < 10.0 * DAY_S {
            p.observe(t, 300.0);
            t += 10.0;
        }
        let before = 10.0 * DAY_S + 17.0 * 3600.0 + 55.0 * 60.0;
        let e = p.expected(before, before + 600.0).expect("expected");
        // 0.7⁷ ≈ 8 % of the 2,700 requests/s excess is left after seven days without it.
        assert!(
            e.rps < 300.0 + 0.1 * 2700.0,
            "the peak is mostly forgotten: {e:?}"
        );
        assert!(e.rps > 300.0, "but not all at once: {e:?}");
    }

    #[test]
    fn memory_is_bounded_by_the_buckets() {
        let p = daily_peak(40);
        assert_eq!(p.day.len(), DAY as usize);
        assert_eq!(p.week.len(), WEEK as usize);
        let text = serde_json::to_string(&p).expect("serialises");
        assert!(text.len() < 60_000, "{} bytes", text.len());
        let back: Profile = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back, p, "replay needs the profile to read back exactly");
    }
}
