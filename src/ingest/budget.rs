//! The sample budget of per-instance series, which their store cannot enforce: a per-instance
//! series keeps its last dozen samples only (all the peer comparison reads), so counting the
//! store over the budget's 20 intervals never reaches the limit, and an agent flooding one
//! server's probe stored two samples per interval, the density limit's, for every instance it
//! probes. Service series are budgeted from their own store (`batch::store`).
//!
//! Memory is bounded: at most `budget + 1` times per series, one series per (instance, probe,
//! location, family) an agent was assigned, and only for instances in the published inventory
//! (`IngestState::publish` drops the rest). Pure: the caller passes the times.

use crate::{
    observe::store::{BuildFnv, SeriesId},
    snapshot::{Instance, Time},
};
use std::collections::{BTreeSet, HashMap, VecDeque};

/// The times of the samples stored lately in each per-instance series agents feed.
#[derive(Debug, Default)]
pub struct SeriesBudgets {
    stored: HashMap<SeriesId, VecDeque<Time>, BuildFnv>,
}

impl SeriesBudgets {
    /// Whether storing a sample at `at` keeps series `id` within `budget + 1` samples in the
    /// `window` seconds up to `at`, the same rule as for service series (always, for a budget
    /// of 0, which turns it off). `at` is never before the series' newest sample.
    pub fn admits(&self, id: &SeriesId, at: Time, budget: u32, window: f64) -> bool {
        budget == 0
            || self.stored.get(id).is_none_or(|times| {
                times.iter().rev().take_while(|t| **t > at - window).count() <= budget as usize
            })
    }

    /// Remembers that series `id` stored a sample at `at`, keeping its newest `budget + 1`
    /// times (older ones cannot decide [`Self::admits`] any more).
    pub fn record(&mut self, id: &SeriesId, at: Time, budget: u32) {
        if budget == 0 {
            return;
        }
        let keep = budget as usize + 1;
        let times = match self.stored.get_mut(id) {
            Some(t) => t,
            None => self
                .stored
                .entry(id.clone())
                .or_insert_with(|| VecDeque::with_capacity(keep)),
        };
        times.push_back(at);
        while times.len() > keep {
            times.pop_front();
        }
    }

    /// Drops the budgets of instances not in `instances` (they left the inventory).
    pub fn retain(&mut self, instances: &[Instance]) {
        let live: BTreeSet<&str> = instances.iter().map(|i| i.id.as_str()).collect();
        self.stored
            .retain(|id, _| matches!(id, SeriesId::Instance(i, _) if live.contains(i.as_str())));
    }

    /// Series with a budget.
    pub fn len(&self) -> usize {
        self.stored.len()
    }

    /// Whether no series has a budget.
    pub fn is_empty(&self) -> bool {
        self.stored.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        ingest::{
            IngestState, lock,
            wire::{Batch, BatchSample, BatchSeries},
        },
        snapshot::{IpFamily, SeriesKey},
    };

    /// A clock stopped at 1000 s.
    struct Stopped;
    impl crate::clock::Clock for Stopped {
        fn now(&self) -> Time {
            1000.0
        }
    }

    fn sample() -> BatchSample {
        BatchSample {
            at: 990.0,
            latency: 0.04,
            ok: true,
            phases: None,
            failure: None,
        }
    }

    fn server(id: &str) -> crate::snapshot::Instance {
        crate::snapshot::Instance {
            id: id.into(),
            name: id.into(),
            status: crate::snapshot::InstanceStatus::Active,
            host: None,
            addresses: Vec::new(),
            created_at: 0.0,
            active_since: None,
            member: None,
            created_by: None,
            stamps: None,
            fault: None,
            replaces: None,
        }
    }

    /// Budgets kept for `policy`'s per-instance series.
    fn budgeted(state: &IngestState, policy: &str) -> usize {
        let published = state.inner.published.read().unwrap();
        lock(&published[policy].budgets).len()
    }

    #[test]
    fn a_flooded_instance_series_stores_what_a_working_agent_stores_and_its_peers_lose_nothing() {
        let policy = crate::policy::parse("p", include_bytes!("../../policies/election-web.yaml")).unwrap();
        let name = policy.metadata.name.clone();
        let state = IngestState::new(
            crate::ingest::TokenBook::default(),
            std::sync::Arc::new(Stopped),
            crate::ingest::IngestLimits::default(),
        );
        let store = std::sync::Arc::new(std::sync::Mutex::new(
            crate::observe::store::ProbeStore::for_policy(&policy),
        ));
        state.publish(&policy, &[server("a"), server("b")], store);
        let series = |instance: &str, samples: Vec<BatchSample>| Batch {
            sent_at: 1000.0,
            dropped_total: 0,
            series: vec![BatchSeries {
                policy: name.clone(),
                probe: "instance".into(),
                family: IpFamily::V6,
                instance: Some(instance.into()),
                samples,
            }],
        };
        let proto = sample();
        // `instance` probes every 5 s: 500 s are 100 intervals. fra floods a's series with a
        // result every second, in one batch per interval, while it probes b on schedule with
        // up to ±2.4 s of jitter.
        let (mut per_interval, mut b_stored) = (Vec::new(), 0);
        for k in 0..100u32 {
            let flood: Vec<BatchSample> = (0..5)
                .map(|j| BatchSample {
                    at: 490.5 + f64::from(k * 5 + j),
                    ..proto
                })
                .collect();
            let r = state.ingest("fra", &series("a", flood)).unwrap();
            assert_eq!(r.accepted + r.rejected, 5);
            per_interval.push(r.accepted);
            let on_time = BatchSample {
                at: 495.0 + f64::from(k * 5) + f64::from((k * 37) % 49) / 10.0 - 2.4,
                ..proto
            };
            let r = state.ingest("fra", &series("b", vec![on_time])).unwrap();
            b_stored += r.accepted;
        }
        let total: u64 = per_interval.iter().sum();
        let worst = per_interval
            .windows(20)
            .map(|w| w.iter().sum::<u64>())
            .max()
            .unwrap();
        println!(
            "instance series flooded at 5 results per 5 s interval: {total} stored in 100 intervals, \
             at most {worst} in any 20; its peer stored {b_stored} of 100 on-schedule results"
        );
        // The density limit alone stored 2 per interval in 2 of 3 intervals: 167, 34 in 20.
        assert!(
            worst <= 21,
            "{worst} samples stored in 20 intervals: {per_interval:?}"
        );
        assert!((100..=106).contains(&total), "{total} stored: {per_interval:?}");
        assert_eq!(b_stored, 100, "b's series is not a's budget");
        assert_eq!(budgeted(&state, &name), 2, "one budget per instance series");
        assert_eq!(
            state
                .agents()
                .iter()
                .find(|a| a.name == "fra")
                .map(|a| a.rejected),
            Some(500 - total),
            "refusals are counted like a service series'"
        );
    }

    #[test]
    fn instance_budgets_stay_bounded_across_inventory_churn() {
        let policy = crate::policy::parse("p", include_bytes!("../../policies/election-web.yaml")).unwrap();
        let name = policy.metadata.name.clone();
        let state = IngestState::new(
            crate::ingest::TokenBook::default(),
            std::sync::Arc::new(Stopped),
            crate::ingest::IngestLimits::default(),
        );
        let store = std::sync::Arc::new(std::sync::Mutex::new(
            crate::observe::store::ProbeStore::for_policy(&policy),
        ));
        let proto = sample();
        // 200 publishes, each replacing half of a 4-server inventory: 402 servers in all.
        let mut most = 0;
        for round in 0..200u32 {
            let inventory: Vec<_> = (2 * round..2 * round + 4)
                .map(|i| server(&format!("s{i}")))
                .collect();
            state.publish(&policy, &inventory, store.clone());
            let b = Batch {
                sent_at: 1000.0,
                dropped_total: 0,
                series: inventory
                    .iter()
                    .map(|i| BatchSeries {
                        policy: name.clone(),
                        probe: "instance".into(),
                        family: IpFamily::V6,
                        instance: Some(i.id.clone()),
                        samples: vec![BatchSample {
                            at: 1.0 + f64::from(round) * 5.0,
                            ..proto
                        }],
                    })
                    .collect(),
            };
            let r = state.ingest("fra", &b).unwrap();
            assert_eq!(r.rejected, 0);
            most = most.max(budgeted(&state, &name));
        }
        assert_eq!(most, 4, "budgets only for the servers in the inventory");
        state.publish(&policy, &[], store);
        assert_eq!(budgeted(&state, &name), 0);
    }

    fn series(instance: &str) -> SeriesId {
        SeriesId::Instance(
            instance.into(),
            SeriesKey {
                probe: "instance".into(),
                location: "fra".into(),
                family: IpFamily::V6,
            },
        )
    }

    #[test]
    fn a_series_stores_at_most_budget_plus_one_in_any_window_and_keeps_no_more_times() {
        let mut b = SeriesBudgets::default();
        let (a, other) = (series("a"), series("b"));
        // Budget 4 over 4 intervals of 5 s: a sample every second is admitted 5 times per 20 s.
        let mut admitted = Vec::new();
        for k in 0..100 {
            let at = f64::from(k);
            if b.admits(&a, at, 4, 20.0) {
                b.record(&a, at, 4);
                admitted.push(at);
            }
        }
        for (i, t) in admitted.iter().enumerate() {
            let in_window = admitted[..=i].iter().filter(|x| **x > t - 20.0).count();
            assert!(
                in_window <= 5,
                "{in_window} samples in the 20 s up to {t}: {admitted:?}"
            );
        }
        assert!((25..=30).contains(&admitted.len()), "{admitted:?}");
        assert_eq!(b.stored[&a].len(), 5, "only the newest budget + 1 times are kept");
        assert!(
            b.admits(&other, 99.0, 4, 20.0),
            "another series has its own budget"
        );
        assert!(b.admits(&a, 99.0, 0, 20.0), "a budget of 0 turns it off");
    }

    #[test]
    fn budgets_of_instances_that_left_are_dropped() {
        let mut b = SeriesBudgets::default();
        b.record(&series("a"), 1.0, 4);
        b.record(&series("b"), 1.0, 4);
        b.record(&series("b"), 1.0, 0);
        b.retain(&[server("b")]);
        assert_eq!(b.len(), 1);
        assert!(b.stored.contains_key(&series("b")));
        b.retain(&[]);
        assert!(b.is_empty());
    }
}
