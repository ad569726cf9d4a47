//! Retention follows policy reloads: a store is sized from its policy when created
//! ([`ProbeStore::for_policy`]), and a reload that changes a latency window, an availability
//! horizon or a probe interval resizes every series in place, keeping the newest samples.
//! Without this a longer window stayed capped at the old ring size (a 5 m window reloaded to
//! 15 m still judged 5 m of samples) and a shorter one kept its memory.

use super::{ProbeStore, Retention, SeriesId};
use crate::policy::Policy;

impl ProbeStore {
    /// Takes the retention and failure-streak watch that `policy` asks for (as
    /// [`ProbeStore::for_policy`] would size a new store), resizing the series already held.
    pub fn retune(&mut self, policy: &Policy) {
        let fresh = ProbeStore::for_policy(policy);
        self.streak = fresh.streak;
        self.set_retention(fresh.service, fresh.instance);
    }

    /// Applies new retentions for service and per-instance series; the oldest samples that no
    /// longer fit are evicted (their counts kept in the minute buckets where the horizon allows).
    pub fn set_retention(&mut self, service: Retention, instance: Retention) {
        if service == self.service && instance == self.instance {
            return;
        }
        self.service = service;
        self.instance = instance;
        for (id, s) in &mut self.series {
            let r = match id {
                SeriesId::Service(_) => &self.service,
                SeriesId::Instance(..) => &self.instance,
            };
            s.resize(r);
        }
    }

    /// The retention of service series.
    pub fn service_retention(&self) -> Retention {
        self.service
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{IpFamily, Sample, SeriesKey};

    const T0: f64 = 1_780_000_000.0;

    fn service() -> SeriesId {
        SeriesId::Service(SeriesKey {
            probe: "web".into(),
            location: "local".into(),
            family: IpFamily::V6,
        })
    }

    fn sample(at: f64) -> Sample {
        Sample {
            at,
            latency: 0.01,
            ok: true,
            phases: None,
        }
    }

    /// A policy with a latency objective over `window` and its probe every `interval`.
    fn policy(window: &str, interval: &str) -> Policy {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/minimal.yaml"))
            .expect("policies/minimal.yaml");
        let text = text
            .replace(
                "      perInstance: true\n",
                &format!("      perInstance: true\n      interval: {interval}\n      timeout: 200ms\n"),
            )
            .replace(
                "  objectives:\n",
                &format!(
                    "  objectives:\n    - name: speed\n      latency:\n        probe: web\n        percentile: 95\n        threshold: 1s\n        window: {window}\n"
                ),
            );
        crate::policy::parse("minimal.yaml", text.as_bytes()).expect("the test policy parses")
    }

    /// Records samples every `step` seconds over `(from, to]`.
    fn fill(store: &mut ProbeStore, from: f64, to: f64, step: f64) -> f64 {
        let mut t = from;
        while t + step <= to {
            t += step;
            store.record(&service(), sample(T0 + t));
        }
        T0 + t
    }

    fn held(store: &ProbeStore, now: f64, window: f64) -> usize {
        store.get(&service()).map_or(0, |s| s.window(now, window).count())
    }

    #[test]
    fn a_longer_window_after_reload_fills_to_the_new_length() {
        let mut store = ProbeStore::for_policy(&policy("5m", "1s"));
        fill(&mut store, 0.0, 900.0, 1.0);
        store.retune(&policy("15m", "1s"));
        let now = fill(&mut store, 900.0, 1800.0, 1.0);
        // Before retuning existed the ring stayed capped at the 5 m size (about 300 samples).
        assert_eq!(held(&store, now, 900.0), 900);
    }

    #[test]
    fn a_shorter_window_after_reload_keeps_the_newest_samples_and_frees_memory() {
        let mut store = ProbeStore::for_policy(&policy("15m", "1s"));
        let now = fill(&mut store, 0.0, 900.0, 1.0);
        let before = store.sample_bytes();
        store.retune(&policy("5m", "1s"));
        let s = store.get(&service()).expect("series");
        assert_eq!(
            s.len(),
            301,
            "the newest 5 minutes (and the sample on the edge) stay"
        );
        assert_eq!(s.latest().map(|x| x.at), Some(now));
        assert_eq!(s.window(now, 900.0).next().map(|x| x.at), Some(now - 300.0));
        assert!(
            store.sample_bytes() * 2 < before,
            "{} vs {before}",
            store.sample_bytes()
        );
    }

    #[test]
    fn a_faster_probe_interval_after_reload_keeps_the_whole_window() {
        let mut store = ProbeStore::for_policy(&policy("5m", "1s"));
        fill(&mut store, 0.0, 300.0, 1.0);
        store.retune(&policy("5m", "250ms"));
        let now = fill(&mut store, 300.0, 600.0, 0.25);
        // At 4 samples a second a 5 m window is 1200 samples; the 1 s sizing capped it at 616.
        assert_eq!(held(&store, now, 300.0), 1200);
    }

    #[test]
    fn counts_survive_a_shrinking_window() {
        let mut store = ProbeStore::for_policy(&policy("15m", "1s"));
        store.set_retention(
            Retention {
                count_horizon: 86_400.0,
                ..store.service_retention()
            },
            store.instance,
        );
        let now = fill(&mut store, 0.0, 1200.0, 1.0);
        let r = store.service_retention();
        store.set_retention(
            Retention {
                raw_window: 60.0,
                max_raw: 136,
                expected_raw: 64,
                ..r
            },
            store.instance,
        );
        let s = store.get(&service()).expect("series");
        assert_eq!(s.len(), 61);
        // Samples evicted by the resize are still counted (the far edge rounds to minutes).
        assert!(s.counts(now, 1200.0).total.abs_diff(1200) <= 60);
    }
}
