//! Bounded per-series stores of probe results, shared by the real probe engine and the simulator.
//!
//! Each series keeps its recent samples in a ring of 28-byte packed samples (for latency
//! percentiles and the last-N view; [`packed`] says what resolution that keeps), and folds
//! every sample that leaves the ring into a per-minute bucket of running good/total counts, so
//! a count over any trailing window is two binary searches plus a short scan of the ring,
//! whatever the window length ([`series`]).
//!
//! Memory per series is bounded by the [`Retention`]: `expected_raw` ring slots allocated once
//! (growing to at most `max_raw` only for a series that gets more samples than expected) plus
//! `count_horizon / 60` buckets of 12 bytes (3 days: 52 KiB; a 30-day budget period: 518 KiB).
//! A 5-minute window at 1 s is 8.5 KB per series, so 1000 such series hold about 8.5 MB. The far
//! edge of a count window is rounded to whole minutes once it reaches past the ring.
//! Pure: no clock, the caller passes `now`.

use crate::{
    policy::{Indicator, Policy},
    snapshot::{InstanceId, InstanceSeries, Sample, SeriesKey, ServiceSeries, Time},
};
use std::collections::HashMap;

#[cfg(test)]
mod counts_props;
mod packed;
mod retune;
mod series;

pub use series::SeriesStore;

/// How much of a series to keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retention {
    /// Keep raw samples this long (seconds) after the newest one.
    pub raw_window: f64,
    /// Never keep more raw samples than this.
    pub max_raw: usize,
    /// Raw samples a series is expected to hold (its window over its interval): the ring's
    /// first and usual capacity.
    pub expected_raw: usize,
    /// Always keep at least this many raw samples, however old.
    pub keep_last: usize,
    /// Keep per-minute counts this long (seconds); 0 keeps none.
    pub count_horizon: f64,
}

/// Identifies a series: through the service address, or straight to one instance.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SeriesId {
    /// A service probe.
    Service(SeriesKey),
    /// A per-instance probe.
    Instance(InstanceId, SeriesKey),
}

/// All probe series of one policy.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeStore {
    /// Series in the order they first appeared; `index` finds them by identity. A vector with a
    /// hash index instead of an ordered map: recording a sample is the hottest path of the
    /// simulator and of a busy probe engine, and comparing string keys dominated it.
    series: Vec<(SeriesId, SeriesStore)>,
    index: HashMap<SeriesId, usize, BuildFnv>,
    service: Retention,
    instance: Retention,
    /// Failure streak length that counts as new evidence (the policy's `unhealthyAfter.failures`).
    streak: u32,
    /// When a per-instance series last reached that streak.
    streak_reached_at: Option<Time>,
}

/// FNV-1a for the series index: keys are short strings we chose ourselves (probe, location,
/// instance IDs), so a DoS-resistant hash buys nothing and SipHash showed in profiles.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildFnv;

/// The FNV-1a hasher state.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

impl std::hash::BuildHasher for BuildFnv {
    type Hasher = Fnv;
    fn build_hasher(&self) -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= *b as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Samples per per-instance series shown in a snapshot (for the peer comparison).
pub const INSTANCE_RECENT: usize = 12;

impl ProbeStore {
    /// A store with the given retention for service and per-instance series.
    pub fn new(service: Retention, instance: Retention) -> Self {
        Self {
            series: Vec::new(),
            index: HashMap::default(),
            service,
            instance,
            streak: 0,
            streak_reached_at: None,
        }
    }

    /// The retention of service and of per-instance series (what bounds the store's memory).
    pub fn retention(&self) -> (Retention, Retention) {
        (self.service, self.instance)
    }

    /// Remembers when a per-instance series reaches `failures` failures in a row, so the
    /// reconcile loop can wake early on that evidence instead of waiting for its next tick.
    pub fn watch_streaks(&mut self, failures: u32) {
        self.streak = failures;
    }

    /// Whether some instance series reached the watched failure streak after `t`.
    pub fn streak_reached_since(&self, t: Time) -> bool {
        self.streak_reached_at.is_some_and(|at| at > t)
    }

    /// A store that keeps what `policy`'s objectives need: raw samples for the longest latency
    /// window, counts for the longest burn-rate window or SLO period (at most 31 days), and a
    /// dozen samples per instance.
    pub fn for_policy(policy: &Policy) -> Self {
        let (mut raw_window, mut horizon) = (300.0f64, 0.0f64);
        for o in &policy.spec.objectives {
            match o.indicator() {
                Some(Indicator::Latency(l)) => raw_window = raw_window.max(l.window.secs()),
                Some(Indicator::Availability(a)) => {
                    horizon = horizon.max(a.period.secs());
                    for row in &a.burn_rate_alerts {
                        horizon = horizon.max(row.long.secs());
                    }
                }
                None => {}
            }
        }
        let min_interval = policy
            .spec
            .probes
            .iter()
            .map(|p| p.interval.secs())
            .fold(f64::INFINITY, f64::min);
        let per_window = (raw_window / min_interval.max(0.1)).ceil() as usize;
        Self::new(
            Retention {
                raw_window,
                max_raw: 2 * per_window + 16,
                expected_raw: per_window + 4,
                keep_last: INSTANCE_RECENT,
                count_horizon: horizon.min(31.0 * 86_400.0),
            },
            Retention {
                raw_window: 0.0,
                max_raw: INSTANCE_RECENT,
                expected_raw: INSTANCE_RECENT,
                keep_last: INSTANCE_RECENT,
                count_horizon: 0.0,
            },
        )
        .watching(policy.spec.healing.unhealthy_after.failures)
    }

    fn watching(mut self, failures: u32) -> Self {
        self.watch_streaks(failures);
        self
    }

    /// Adds one probe result.
    pub fn record(&mut self, series: &SeriesId, sample: Sample) {
        let r = match series {
            SeriesId::Service(_) => self.service,
            SeriesId::Instance(..) => self.instance,
        };
        let at = match self.index.get(series) {
            Some(&i) => i,
            None => {
                self.series.push((series.clone(), SeriesStore::default()));
                self.index.insert(series.clone(), self.series.len() - 1);
                self.series.len() - 1
            }
        };
        let store = &mut self.series[at].1;
        store.record(sample, &r);
        if self.streak > 0
            && matches!(series, SeriesId::Instance(..))
            && store.consecutive_failures() == self.streak
        {
            self.streak_reached_at = Some(self.streak_reached_at.map_or(sample.at, |t| t.max(sample.at)));
        }
    }

    /// One series, if it has samples.
    pub fn get(&self, series: &SeriesId) -> Option<&SeriesStore> {
        self.index.get(series).map(|&i| &self.series[i].1)
    }

    /// Bytes the samples of every series hold on the heap (rings and minute buckets; the
    /// series names and index are not counted).
    pub fn sample_bytes(&self) -> usize {
        self.series.iter().map(|(_, s)| s.heap_bytes()).sum()
    }

    /// Raw samples held over every series.
    pub fn sample_count(&self) -> usize {
        self.series.iter().map(|(_, s)| s.len()).sum()
    }

    /// Drops the per-instance series of instances for which `keep` is false (deleted servers).
    pub fn retain_instances(&mut self, keep: impl Fn(&str) -> bool) {
        self.series.retain(|(id, _)| match id {
            SeriesId::Service(_) => true,
            SeriesId::Instance(i, _) => keep(i),
        });
        self.index = self
            .series
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (id.clone(), i))
            .collect();
    }

    /// The snapshot parts: service series with raw samples over the longest of
    /// `latency_windows` and counts over each of `count_windows`; instance series with their
    /// failure streak and last samples.
    pub fn summaries(
        &self,
        now: Time,
        latency_windows: &[f64],
        count_windows: &[f64],
    ) -> (Vec<ServiceSeries>, Vec<InstanceSeries>) {
        let longest = latency_windows.iter().copied().fold(0.0, f64::max);
        let (mut service, mut instances) = (Vec::new(), Vec::new());
        for (id, s) in self.series.iter().map(|(id, s)| (id, s)) {
            match id {
                SeriesId::Service(key) => service.push(ServiceSeries {
                    key: key.clone(),
                    recent: s.window(now, longest).collect(),
                    counts: count_windows.iter().map(|&w| s.counts(now, w)).collect(),
                }),
                SeriesId::Instance(instance, key) => instances.push(InstanceSeries {
                    instance: instance.clone(),
                    key: key.clone(),
                    consecutive_failures: s.consecutive_failures(),
                    recent: s.last(INSTANCE_RECENT).filter(|x| x.at <= now).collect(),
                }),
            }
        }
        (service, instances)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{IpFamily, WindowCount};

    fn sample(at: f64, ok: bool) -> Sample {
        Sample {
            at,
            latency: 0.1,
            ok,
            phases: None,
        }
    }

    fn key() -> SeriesKey {
        SeriesKey {
            probe: "site".into(),
            location: "local".into(),
            family: IpFamily::V6,
        }
    }

    const R: Retention = Retention {
        raw_window: 300.0,
        max_raw: 64,
        expected_raw: 34,
        keep_last: 12,
        count_horizon: 3.0 * 86_400.0,
    };

    #[test]
    fn counts_over_long_windows_match_a_full_recount() {
        let mut s = SeriesStore::default();
        let mut all = Vec::new();
        for i in 0..(2 * 8640) {
            // Two days at 10 s, failing every 7th probe.
            let x = sample(i as f64 * 10.0, i % 7 != 0);
            all.push(x);
            s.record(x, &R);
        }
        let now = all.last().unwrap().at;
        for w in [60.0, 300.0, 3600.0, 6.0 * 3600.0, 86_400.0, 3.0 * 86_400.0] {
            let got = s.counts(now, w);
            let expect_total = all.iter().filter(|x| x.at > now - w).count() as u64;
            let expect_good = all.iter().filter(|x| x.at > now - w && x.ok).count() as u64;
            // The far edge rounds to whole minutes: at most 6 samples of slack at 10 s.
            assert!(
                got.total.abs_diff(expect_total) <= 6,
                "window {w}: {} vs {expect_total}",
                got.total
            );
            assert!(got.good.abs_diff(expect_good) <= 6, "window {w}");
        }
        assert!(s.raw_len() <= R.max_raw);
        assert!(s.bucket_len() as f64 <= R.count_horizon / 60.0 + 2.0);
        assert!(s.heap_bytes() <= R.max_raw * 28 + (R.count_horizon / 60.0 + 2.0) as usize * 12);
    }

    #[test]
    fn windows_inside_the_ring_are_exact() {
        let mut s = SeriesStore::default();
        for i in 0..100 {
            s.record(sample(i as f64 * 10.0, i % 2 == 0), &R);
        }
        assert_eq!(
            s.counts(990.0, 100.0),
            WindowCount {
                window: 100.0,
                good: 5,
                total: 10
            }
        );
        assert_eq!(s.window(990.0, 100.0).count(), 10);
        assert_eq!(
            s.last(3).map(|x| x.at).collect::<Vec<_>>(),
            vec![970.0, 980.0, 990.0]
        );
    }

    #[test]
    fn failure_streaks_reset_on_success_and_deleted_instances_are_forgotten() {
        let mut store = ProbeStore::new(
            R,
            Retention {
                count_horizon: 0.0,
                ..R
            },
        );
        let id = SeriesId::Instance("vm-1".into(), key());
        for (t, ok) in [(0.0, true), (5.0, false), (10.0, false), (15.0, false)] {
            store.record(&id, sample(t, ok));
        }
        store.record(&SeriesId::Service(key()), sample(15.0, true));
        let (service, inst) = store.summaries(15.0, &[300.0], &[3600.0]);
        assert_eq!(inst[0].consecutive_failures, 3);
        assert_eq!(service[0].count(3600.0).unwrap().total, 1);
        store.record(&id, sample(20.0, true));
        assert_eq!(store.get(&id).unwrap().consecutive_failures(), 0);
        store.retain_instances(|i| i != "vm-1");
        assert!(store.get(&id).is_none());
    }

    #[test]
    fn a_full_window_at_1s_fits_the_expected_ring_without_doubling() {
        let r = Retention {
            raw_window: 300.0,
            max_raw: 616,
            expected_raw: 304,
            keep_last: 12,
            count_horizon: 0.0,
        };
        let mut s = SeriesStore::default();
        for i in 0..3600 {
            s.record(sample(1_780_000_000.0 + i as f64, true), &r);
        }
        assert_eq!(s.raw_len(), 301);
        assert_eq!(s.heap_bytes(), 304 * 28, "allocated once, at the expected size");
        // Two addresses per run: twice the samples, so the ring grows, but only to `max_raw`.
        for i in 3600..7200 {
            for _ in 0..2 {
                s.record(sample(1_780_000_000.0 + i as f64, true), &r);
            }
        }
        assert!(
            s.raw_len() <= 616 && s.heap_bytes() <= 616 * 28,
            "{}",
            s.heap_bytes()
        );
    }

    #[test]
    fn a_series_that_runs_for_months_keeps_counting() {
        let mut s = SeriesStore::default();
        let day = 86_400.0;
        for i in 0..(60 * 24) {
            // One probe an hour for 60 days.
            s.record(sample(i as f64 * 3600.0, true), &R);
        }
        let now = (60.0 * 24.0 - 1.0) * 3600.0;
        assert_eq!(s.latest().map(|x| x.at), Some(now));
        // (A cutoff off the minute grid: a count window's far edge rounds to whole minutes.)
        assert_eq!(s.counts(now, day - 60.0).total, 24);
        assert_eq!(s.window(now, 4.0 * 3600.0).count(), 4);
    }
}
