//! Bounded per-series stores of probe results, shared by the real probe engine and the simulator.
//!
//! Each series keeps its recent samples raw (for latency percentiles and the last-N view) in a
//! ring, and folds every sample that leaves the ring into a per-minute bucket of good/total
//! counts with running totals, so a count over any trailing window is two binary searches plus
//! a short scan of the ring, whatever the window length.
//!
//! Memory per series is bounded by the [`Retention`]: at most `max_raw` samples plus
//! `count_horizon / 60` buckets (3 days: 4,320 buckets of 40 bytes ≈ 170 KiB; a 30-day budget
//! period ≈ 1.7 MiB). At a 10 s interval that is what the policy's longest window needs; the
//! far edge of a count window is rounded to whole minutes once it reaches past the ring.
//! Pure: no clock, the caller passes `now`.

use crate::{
    policy::{Indicator, Policy},
    snapshot::{InstanceId, InstanceSeries, Sample, SeriesKey, ServiceSeries, Time, WindowCount},
};
use std::collections::{HashMap, VecDeque};

/// How much of a series to keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retention {
    /// Keep raw samples this long (seconds) after the newest one.
    pub raw_window: f64,
    /// Never keep more raw samples than this.
    pub max_raw: usize,
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

/// One minute of samples that left the ring.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    /// Start of the minute.
    start: Time,
    /// Running totals of all evicted samples before this bucket.
    good_before: u64,
    total_before: u64,
    good: u32,
    total: u32,
}

/// The samples of one series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SeriesStore {
    raw: VecDeque<Sample>,
    buckets: VecDeque<Bucket>,
    evicted_good: u64,
    evicted_total: u64,
    consecutive_failures: u32,
}

impl SeriesStore {
    /// Adds a sample (samples arrive in time order per series).
    pub fn record(&mut self, sample: Sample, r: &Retention) {
        self.consecutive_failures = if sample.ok {
            0
        } else {
            self.consecutive_failures.saturating_add(1)
        };
        self.raw.push_back(sample);
        let newest = sample.at;
        while let Some(old) = self.raw.front().copied() {
            let too_many = self.raw.len() > r.max_raw.max(1);
            let too_old = newest - old.at > r.raw_window && self.raw.len() > r.keep_last;
            if !(too_many || too_old) {
                break;
            }
            self.raw.pop_front();
            self.evict(old, r);
        }
    }

    fn evict(&mut self, s: Sample, r: &Retention) {
        if r.count_horizon > 0.0 {
            let start = (s.at / 60.0).floor() * 60.0;
            match self.buckets.back_mut() {
                Some(b) if b.start == start => {
                    b.good += s.ok as u32;
                    b.total += 1;
                }
                _ => self.buckets.push_back(Bucket {
                    start,
                    good_before: self.evicted_good,
                    total_before: self.evicted_total,
                    good: s.ok as u32,
                    total: 1,
                }),
            }
            while self
                .buckets
                .front()
                .is_some_and(|b| start - b.start > r.count_horizon)
            {
                self.buckets.pop_front();
            }
        }
        self.evicted_good += s.ok as u64;
        self.evicted_total += 1;
    }

    /// Raw samples started in `(now − window, now]`, oldest first.
    pub fn window(&self, now: Time, window: f64) -> impl Iterator<Item = &Sample> {
        let from = self.raw.partition_point(|s| s.at <= now - window);
        self.raw.range(from..).take_while(move |s| s.at <= now)
    }

    /// Good and total samples started in `(now − window, now]`.
    pub fn counts(&self, now: Time, window: f64) -> WindowCount {
        let cutoff = now - window;
        let (mut good, mut total) = (0u64, 0u64);
        for s in self.window(now, window) {
            good += s.ok as u64;
            total += 1;
        }
        if self.raw.front().is_some_and(|s| s.at > cutoff) {
            // The window reaches past the ring: add the buckets from the cutoff's minute on.
            let i = self.buckets.partition_point(|b| b.start < cutoff);
            if let Some(b) = self.buckets.get(i) {
                good += self.evicted_good - b.good_before;
                total += self.evicted_total - b.total_before;
            }
        }
        WindowCount { window, good, total }
    }

    /// Failures in a row up to the newest sample.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// The last `n` samples, oldest first.
    pub fn last(&self, n: usize) -> impl Iterator<Item = &Sample> {
        self.raw.range(self.raw.len().saturating_sub(n)..)
    }

    /// The newest sample.
    pub fn latest(&self) -> Option<&Sample> {
        self.raw.back()
    }
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
                keep_last: INSTANCE_RECENT,
                count_horizon: horizon.min(31.0 * 86_400.0),
            },
            Retention {
                raw_window: 0.0,
                max_raw: INSTANCE_RECENT,
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
                    recent: s.window(now, longest).copied().collect(),
                    counts: count_windows.iter().map(|&w| s.counts(now, w)).collect(),
                }),
                SeriesId::Instance(instance, key) => instances.push(InstanceSeries {
                    instance: instance.clone(),
                    key: key.clone(),
                    consecutive_failures: s.consecutive_failures(),
                    recent: s.last(INSTANCE_RECENT).filter(|x| x.at <= now).copied().collect(),
                }),
            }
        }
        (service, instances)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::IpFamily;

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
        assert!(s.raw.len() <= R.max_raw);
        assert!(s.buckets.len() as f64 <= R.count_horizon / 60.0 + 2.0);
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
}
