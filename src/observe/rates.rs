//! Cumulative counters into rates: the one place where an Octavia `total_connections`, a
//! Prometheus counter or a simulated one becomes "requests per second over the last N
//! seconds". Pure: readings and their times come in as arguments.
//!
//! A cloud counter is read at the poll, not when it changed: Octavia's amphorae report their
//! statistics every heartbeat (10 s by default) and the API hands back the last report. Two
//! polls inside one report period see the same value, which is not a rate of zero but "no
//! news". So a rate is taken between the polls at which the counter *moved*, and only a counter
//! that stays put for longer than [`Rates::quiet_after`] reads as idle (rate 0 over that span).
//!
//! Counter resets (an amphora failover, a restarted exporter) show as a value below the
//! previous one; the increase is then the new value, as Prometheus' `rate()` counts it. A gap
//! longer than [`Rates::gap_after`] (the source was unreadable) drops the anchor: a mean over a
//! long outage says nothing about now.

use crate::snapshot::Time;
use std::collections::BTreeMap;

/// One reading of a cumulative counter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counter {
    /// The counter's value (monotonic, except across resets).
    pub value: f64,
    /// When it was read.
    pub at: Time,
}

/// A rate derived from two readings of a counter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Increase per second.
    pub per_sec: f64,
    /// The end of the span it covers (the newer reading's time).
    pub at: Time,
    /// Seconds it covers.
    pub covers: f64,
}

/// The previous reading of every series and the last rate derived from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    anchors: BTreeMap<String, Counter>,
    last: BTreeMap<String, Rate>,
    /// An unchanged counter this long after its last move reads as idle.
    pub quiet_after: f64,
    /// Readings further apart than this do not make a rate (the anchor restarts).
    pub gap_after: f64,
}

impl Rates {
    /// Rates for counters reported every `report_interval` seconds: unchanged for three report
    /// periods reads as idle, and a gap of ten periods (at least 10 min) restarts the series.
    pub fn new(report_interval: f64) -> Self {
        let r = report_interval.max(1.0);
        Self {
            anchors: BTreeMap::new(),
            last: BTreeMap::new(),
            quiet_after: 3.0 * r,
            gap_after: (10.0 * r).max(600.0),
        }
    }

    /// Feeds one reading of `series` and returns its current rate: a new one when the counter
    /// moved (or stayed put past `quiet_after`), the previous one otherwise, `None` until two
    /// readings made one.
    pub fn observe(&mut self, series: &str, reading: Counter) -> Option<Rate> {
        if !reading.value.is_finite() || !reading.at.is_finite() {
            return self.last.get(series).copied();
        }
        let Some(anchor) = self.anchors.get(series).copied() else {
            self.anchors.insert(series.to_owned(), reading);
            return None;
        };
        let span = reading.at - anchor.at;
        if span <= 0.0 {
            // The same poll twice or an older answer arriving late: nothing new.
            return self.last.get(series).copied();
        }
        if span > self.gap_after {
            self.anchors.insert(series.to_owned(), reading);
            self.last.remove(series);
            return None;
        }
        if reading.value == anchor.value && span < self.quiet_after {
            return self.last.get(series).copied();
        }
        let increase = if reading.value >= anchor.value {
            reading.value - anchor.value
        } else {
            // Reset: everything counted since started from zero.
            reading.value
        };
        let rate = Rate {
            per_sec: increase / span,
            at: reading.at,
            covers: span,
        };
        self.anchors.insert(series.to_owned(), reading);
        self.last.insert(series.to_owned(), rate);
        Some(rate)
    }

    /// Forgets every series `keep` rejects (servers or listeners that are gone).
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.anchors.retain(|k, _| keep(k));
        self.last.retain(|k, _| keep(k));
    }
}

/// CPU utilisation (0..1 of the server's vCPUs) from the increase of Ceilometer's cumulative
/// `cpu` meter (nanoseconds of CPU time) over `seconds`.
pub fn cpu_utilisation(ns: f64, seconds: f64, vcpus: u32) -> f64 {
    ns / (seconds.max(f64::MIN_POSITIVE) * 1e9 * f64::from(vcpus.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(value: f64, at: Time) -> Counter {
        Counter { value, at }
    }

    #[test]
    fn a_rate_needs_two_readings_and_covers_the_span_between_them() {
        let mut r = Rates::new(10.0);
        assert_eq!(r.observe("l", at(1000.0, 100.0)), None);
        let rate = r.observe("l", at(3000.0, 110.0)).unwrap();
        assert_eq!(
            rate,
            Rate {
                per_sec: 200.0,
                at: 110.0,
                covers: 10.0
            }
        );
    }

    #[test]
    fn a_counter_not_yet_reported_again_keeps_the_last_rate_instead_of_reading_zero() {
        let mut r = Rates::new(10.0);
        r.observe("l", at(0.0, 0.0));
        let first = r.observe("l", at(1000.0, 10.0)).unwrap();
        // Polled 5 s later, inside the same report period: same value, same rate.
        assert_eq!(r.observe("l", at(1000.0, 15.0)), Some(first));
        // The next report moved it: the rate covers both polls since the last move.
        let next = r.observe("l", at(2500.0, 20.0)).unwrap();
        assert_eq!(next.per_sec, 150.0);
        assert_eq!(next.covers, 10.0);
    }

    #[test]
    fn a_counter_that_stays_put_past_three_report_periods_reads_idle() {
        let mut r = Rates::new(10.0);
        r.observe("l", at(500.0, 0.0));
        r.observe("l", at(900.0, 10.0));
        assert_eq!(r.observe("l", at(900.0, 35.0)).unwrap().per_sec, 400.0 / 10.0);
        let idle = r.observe("l", at(900.0, 40.0)).unwrap();
        assert_eq!((idle.per_sec, idle.covers), (0.0, 30.0));
    }

    #[test]
    fn a_reset_counts_the_new_value_as_the_increase() {
        let mut r = Rates::new(10.0);
        r.observe("l", at(90_000.0, 0.0));
        let after = r.observe("l", at(400.0, 10.0)).unwrap();
        assert_eq!(after.per_sec, 40.0, "a reset is not a negative rate");
    }

    #[test]
    fn a_long_gap_restarts_the_series_rather_than_averaging_over_the_outage() {
        let mut r = Rates::new(10.0);
        r.observe("l", at(0.0, 0.0));
        r.observe("l", at(100.0, 10.0));
        assert_eq!(r.observe("l", at(1e6, 900.0)), None);
        assert_eq!(r.observe("l", at(1e6 + 50.0, 910.0)).unwrap().per_sec, 5.0);
    }

    #[test]
    fn late_duplicate_and_non_finite_readings_change_nothing() {
        let mut r = Rates::new(10.0);
        r.observe("l", at(0.0, 0.0));
        let rate = r.observe("l", at(100.0, 10.0));
        assert_eq!(r.observe("l", at(50.0, 5.0)), rate);
        assert_eq!(r.observe("l", at(f64::NAN, 20.0)), rate);
        assert_eq!(r.observe("other", at(1.0, 20.0)), None, "series are independent");
    }

    #[test]
    fn forgotten_series_start_over() {
        let mut r = Rates::new(10.0);
        r.observe("gone", at(0.0, 0.0));
        r.observe("gone", at(10.0, 10.0));
        r.retain(|k| k != "gone");
        assert_eq!(r.observe("gone", at(20.0, 20.0)), None);
    }

    #[test]
    fn cpu_nanoseconds_become_utilisation_of_the_vcpus() {
        assert_eq!(cpu_utilisation(30e9, 60.0, 1), 0.5);
        assert_eq!(cpu_utilisation(60e9, 60.0, 2), 0.5);
    }
}
