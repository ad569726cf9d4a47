//! The samples of one series: a ring of [`Packed`] samples whose capacity comes from the
//! [`Retention`] (the window over the probe interval), and per-minute running counts of the
//! samples that left the ring, so a count over any trailing window is two binary searches plus
//! a short scan of the ring, whatever the window length.
//!
//! Memory is bounded by the retention and allocated once per series, not doubled as it fills:
//! the ring starts at `expected_raw` slots and grows by quarters only for a series that gets
//! more samples than expected (a name with several addresses), never past `max_raw`; the
//! minute buckets (12 bytes each) grow to `count_horizon / 60` + 2 at most.

use super::{Retention, packed::Packed};
use crate::snapshot::{Sample, Time, WindowCount};
use std::collections::VecDeque;

/// One minute of samples that left the ring: the minute (since the series' first evicted
/// minute) and the running totals of everything evicted before it, kept modulo 2^32 — a window
/// never holds 4 billion samples, so wrapping differences stay exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bucket {
    minute: u32,
    good_before: u32,
    total_before: u32,
}

/// The samples of one series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SeriesStore {
    raw: VecDeque<Packed>,
    buckets: VecDeque<Bucket>,
    /// Absolute minute (start time / 60) of bucket minute 0.
    minute_base: Option<i64>,
    evicted_good: u64,
    evicted_total: u64,
    consecutive_failures: u32,
}

impl SeriesStore {
    /// Adds a sample (samples arrive in time order per series). What is kept is the sample at
    /// the store's resolution (see [`super::packed`]), and retention works on that.
    pub fn record(&mut self, sample: Sample, r: &Retention) {
        self.consecutive_failures = if sample.ok {
            0
        } else {
            self.consecutive_failures.saturating_add(1)
        };
        let packed = Packed::pack(&sample);
        let newest = packed.at();
        let max_raw = r.max_raw.max(1);
        while let Some(old) = self.raw.front().copied() {
            let too_many = self.raw.len() + 1 > max_raw;
            let too_old = newest - old.at() > r.raw_window && self.raw.len() + 1 > r.keep_last;
            if !(too_many || too_old) {
                break;
            }
            self.raw.pop_front();
            self.evict(old, r);
        }
        if self.raw.len() == self.raw.capacity() {
            let cap = self.raw.capacity();
            let want = if cap == 0 {
                r.expected_raw.max(r.keep_last).max(1)
            } else {
                cap + cap / 4 + 1
            };
            self.raw
                .reserve_exact(want.min(max_raw).max(cap + 1) - self.raw.len());
        }
        self.raw.push_back(packed);
    }

    fn evict(&mut self, s: Packed, r: &Retention) {
        if r.count_horizon > 0.0 {
            let minute = (s.at() / 60.0).floor() as i64;
            let base = *self.minute_base.get_or_insert(minute);
            let rel = (minute - base).clamp(0, i64::from(u32::MAX)) as u32;
            // A sample of the newest bucket's minute (or, out of order, earlier) is carried by
            // the running totals alone.
            if self.buckets.back().is_none_or(|b| b.minute < rel) {
                if self.buckets.len() == self.buckets.capacity() {
                    let limit = (r.count_horizon / 60.0).ceil() as usize + 2;
                    let want = (self.buckets.capacity() * 2).max(16).min(limit);
                    let extra = want.max(self.buckets.len() + 1) - self.buckets.len();
                    self.buckets.reserve_exact(extra);
                }
                self.buckets.push_back(Bucket {
                    minute: rel,
                    good_before: self.evicted_good as u32,
                    total_before: self.evicted_total as u32,
                });
            }
            while self
                .buckets
                .front()
                .is_some_and(|b| f64::from(rel - b.minute) * 60.0 > r.count_horizon)
            {
                self.buckets.pop_front();
            }
        }
        self.evicted_good += s.ok() as u64;
        self.evicted_total += 1;
    }

    /// Applies a new retention (a reloaded policy changed its window or probe interval): drops
    /// the oldest samples the new one no longer keeps (their counts go into the minute buckets,
    /// as on any eviction), resizes the ring to the new expected size (never below what it
    /// holds), and drops minute buckets beyond a shorter count horizon.
    pub fn resize(&mut self, r: &Retention) {
        let max_raw = r.max_raw.max(1);
        let newest = self.raw.back().map(|s| s.at());
        while let (Some(old), Some(newest)) = (self.raw.front().copied(), newest) {
            let too_many = self.raw.len() > max_raw;
            let too_old = newest - old.at() > r.raw_window && self.raw.len() > r.keep_last;
            if !(too_many || too_old) {
                break;
            }
            self.raw.pop_front();
            self.evict(old, r);
        }
        let want = r.expected_raw.max(r.keep_last).min(max_raw).max(self.raw.len());
        if self.raw.capacity() > want {
            self.raw.shrink_to(want);
        } else if self.raw.capacity() > 0 {
            self.raw.reserve_exact(want - self.raw.len());
        }
        if r.count_horizon <= 0.0 {
            self.buckets = VecDeque::new();
        } else if let Some(last) = self.buckets.back().map(|b| b.minute) {
            while self
                .buckets
                .front()
                .is_some_and(|b| f64::from(last - b.minute) * 60.0 > r.count_horizon)
            {
                self.buckets.pop_front();
            }
            let limit = (r.count_horizon / 60.0).ceil() as usize + 2;
            self.buckets.shrink_to(limit.max(self.buckets.len()));
        }
    }

    /// Raw samples started in `(now − window, now]`, oldest first.
    pub fn window(&self, now: Time, window: f64) -> impl Iterator<Item = Sample> + '_ {
        let from = self.raw.partition_point(|s| s.at() <= now - window);
        self.raw
            .range(from..)
            .take_while(move |s| s.at() <= now)
            .map(|s| s.unpack())
    }

    /// Good and total samples started in `(now − window, now]`.
    pub fn counts(&self, now: Time, window: f64) -> WindowCount {
        let cutoff = now - window;
        let from = self.raw.partition_point(|s| s.at() <= cutoff);
        let (mut good, mut total) = (0u64, 0u64);
        for s in self.raw.range(from..).take_while(|s| s.at() <= now) {
            good += s.ok() as u64;
            total += 1;
        }
        if let (Some(base), true) = (
            self.minute_base,
            self.raw.front().is_some_and(|s| s.at() > cutoff),
        ) {
            // The window reaches past the ring: add the buckets from the cutoff's minute on.
            let start = |b: &Bucket| ((base + i64::from(b.minute)) * 60) as f64;
            let i = self.buckets.partition_point(|b| start(b) < cutoff);
            if let Some(b) = self.buckets.get(i) {
                good += u64::from((self.evicted_good as u32).wrapping_sub(b.good_before));
                total += u64::from((self.evicted_total as u32).wrapping_sub(b.total_before));
            }
        }
        WindowCount { window, good, total }
    }

    /// Failures in a row up to the newest sample.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// The last `n` samples, oldest first.
    pub fn last(&self, n: usize) -> impl Iterator<Item = Sample> + '_ {
        self.raw
            .range(self.raw.len().saturating_sub(n)..)
            .map(|s| s.unpack())
    }

    /// The newest sample.
    pub fn latest(&self) -> Option<Sample> {
        self.raw.back().map(|s| s.unpack())
    }

    /// Bytes this series holds on the heap (ring and bucket capacity).
    pub fn heap_bytes(&self) -> usize {
        self.raw.capacity() * std::mem::size_of::<Packed>()
            + self.buckets.capacity() * std::mem::size_of::<Bucket>()
    }

    /// Raw samples held.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether no raw sample is held.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    #[cfg(test)]
    pub(super) fn raw_len(&self) -> usize {
        self.raw.len()
    }

    #[cfg(test)]
    pub(super) fn bucket_len(&self) -> usize {
        self.buckets.len()
    }
}
