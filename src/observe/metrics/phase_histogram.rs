//! The probe duration histogram, lean: one allocation of atomic counters per label set, with
//! the bucket bounds shared by all. `prometheus_client::Histogram` keeps its own vector of
//! (bound, count) pairs behind a mutex and room for a native histogram, about 500 bytes per
//! label set; with a few phases per probe and a thousand probes that was ~2 MB of the engine's
//! memory. The exposition is the same classic histogram (same bounds, cumulative buckets,
//! `_sum`, `_count`), so dashboards and alerts do not change.

use prometheus_client::{
    encoding::{EncodeMetric, MetricEncoder, NoLabelSet},
    metrics::{MetricType, TypedMetric},
};
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering::Relaxed},
};

/// Finite bounds plus +Inf.
const BUCKETS: usize = 18;

/// 250 µs … ~16 s, doubling, then +Inf: loopback probes and slow intercontinental ones both
/// resolve.
const fn bounds() -> [f64; BUCKETS] {
    let mut b = [f64::INFINITY; BUCKETS];
    let mut i = 0;
    while i < BUCKETS - 1 {
        b[i] = 0.000_25 * (1u64 << i) as f64;
        i += 1;
    }
    b
}

/// Upper bounds of the buckets, shared by every phase histogram.
pub const BOUNDS: [f64; BUCKETS] = bounds();

/// A classic Prometheus histogram over [`BOUNDS`]; cheap to clone (a shared handle).
#[derive(Debug, Clone, Default)]
pub struct PhaseHistogram(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    /// The sum of observations, as f64 bits.
    sum: AtomicU64,
    /// Observations per bucket (not cumulative); the count is their total.
    buckets: [AtomicU64; BUCKETS],
}

impl PhaseHistogram {
    /// Records one duration in seconds. NaN lands in +Inf, as prometheus_client does.
    pub fn observe(&self, v: f64) {
        let i = if v.is_nan() {
            BUCKETS - 1
        } else {
            BOUNDS.iter().position(|b| *b >= v).unwrap_or(BUCKETS - 1)
        };
        self.0.buckets[i].fetch_add(1, Relaxed);
        let mut old = self.0.sum.load(Relaxed);
        loop {
            let new = (f64::from_bits(old) + v).to_bits();
            match self.0.sum.compare_exchange_weak(old, new, Relaxed, Relaxed) {
                Ok(_) => break,
                Err(seen) => old = seen,
            }
        }
    }
}

impl TypedMetric for PhaseHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for PhaseHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        // The count is the buckets' total, so `_count` and the +Inf bucket always agree even
        // while observations race with a scrape.
        let buckets: Vec<(f64, u64)> = BOUNDS
            .iter()
            .zip(&self.0.buckets)
            .map(|(b, c)| (*b, c.load(Relaxed)))
            .collect();
        let count = buckets.iter().map(|(_, c)| c).sum();
        let sum = f64::from_bits(self.0.sum.load(Relaxed));
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::{
        encoding::text::encode,
        metrics::histogram::{Histogram, exponential_buckets},
        registry::Registry,
    };

    /// The same observations through prometheus_client's histogram (with the bounds sloop used
    /// before) and through this one encode to the same text.
    #[test]
    fn exposition_matches_prometheus_client_histogram() {
        let reference = Histogram::new(exponential_buckets(0.000_25, 2.0, 17));
        let lean = PhaseHistogram::default();
        let values = [
            0.0,
            0.000_1,
            0.000_25,
            0.000_250_1,
            0.003,
            0.5,
            1.0,
            16.384,
            16.385,
            1e9,
            f64::NAN,
            0.02,
        ];
        for v in values.iter().filter(|v| !v.is_nan()) {
            reference.observe(*v);
            lean.observe(*v);
        }
        fn text(m: impl prometheus_client::registry::Metric) -> String {
            let mut r = Registry::default();
            r.register_with_unit("d", "h", prometheus_client::registry::Unit::Seconds, m);
            let mut t = String::new();
            encode(&mut t, &r).unwrap();
            assert!(t.contains("d_seconds_bucket"), "{t}");
            t
        }
        assert_eq!(text(lean), text(reference));
    }

    #[test]
    fn bounds_are_the_doubling_series_from_250_microseconds() {
        let reference: Vec<f64> = exponential_buckets(0.000_25, 2.0, 17).collect();
        assert_eq!(&BOUNDS[..17], &reference[..]);
        assert_eq!(BOUNDS[17], f64::INFINITY);
    }

    #[test]
    fn nan_lands_in_the_infinite_bucket_and_counts() {
        let h = PhaseHistogram::default();
        h.observe(f64::NAN);
        h.observe(0.001);
        let total: u64 = h.0.buckets.iter().map(|c| c.load(Relaxed)).sum();
        assert_eq!(total, 2);
        assert_eq!(h.0.buckets[BUCKETS - 1].load(Relaxed), 1);
    }
}
