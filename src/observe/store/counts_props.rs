//! Property: a count over any trailing window (up to the count horizon) from the running totals
//! and minute buckets equals a recount of every sample the series ever got, under the store's
//! documented rounding (samples still in the ring count exactly; older ones by whole minutes
//! from the window's far edge on), whatever the gaps, failures, ring size and horizon.

use super::{Retention, SeriesStore};
use crate::snapshot::Sample;
use proptest::prelude::*;

/// The recount: every sample in `(now − window, now]` still in the ring, plus, when the window
/// reaches past the ring, every older sample whose minute starts at or after the far edge.
fn recount(all: &[Sample], ring: usize, now: f64, window: f64) -> (u64, u64) {
    let cutoff = now - window;
    let (old, kept) = all.split_at(all.len() - ring);
    let mut n = (0u64, 0u64);
    let mut add = |s: &Sample| {
        n.0 += s.ok as u64;
        n.1 += 1;
    };
    kept.iter()
        .filter(|s| s.at > cutoff && s.at <= now)
        .for_each(&mut add);
    if kept.first().is_some_and(|s| s.at > cutoff) {
        old.iter()
            .filter(|s| (s.at / 60.0).floor() * 60.0 >= cutoff)
            .for_each(&mut add);
    }
    n
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn window_counts_equal_a_recount_of_every_sample(
        steps in prop::collection::vec((0u32..=150, prop::bool::weighted(0.9)), 1..1500),
        raw_window in 10u32..=900,
        max_raw in 12usize..=200,
        horizon_min in 5u32..=600,
        windows in prop::collection::vec(0.0f64..=1.0, 1..8),
    ) {
        let r = Retention {
            raw_window: f64::from(raw_window),
            max_raw,
            expected_raw: max_raw / 2,
            keep_last: 12,
            count_horizon: f64::from(horizon_min) * 60.0,
        };
        let mut store = SeriesStore::default();
        let mut all = Vec::with_capacity(steps.len());
        // Half-second offsets: no sample sits exactly on a minute or a window edge.
        let mut at = 1_790_000_000.5;
        for (gap, ok) in steps {
            at += f64::from(gap);
            let s = Sample { at, latency: 0.01, ok, phases: None };
            store.record(s, &r);
            all.push(s);
        }
        for f in windows {
            let window = (f * r.count_horizon).round().max(1.0);
            let got = store.counts(at, window);
            let (good, total) = recount(&all, store.len(), at, window);
            prop_assert_eq!((got.good, got.total), (good, total), "window {}", window);
        }
    }
}
