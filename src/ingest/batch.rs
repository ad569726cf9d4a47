//! Checking a result batch and storing its samples: every number finite and in range, every
//! series one the controller assigned to this agent, every timestamp moved onto the
//! controller's clock.
//!
//! Re-timing: `offset = received − sent_at` (the agent's clock error plus the one-way network
//! delay, which errs late by milliseconds). A sample stamped `at` by the agent is stored at
//! `at + offset`, never later than the receipt and never before the series' newest sample (the
//! stores need time order), so an agent whose clock is an hour off still lands its samples in
//! the right windows.

use super::{
    IngestState, lock,
    wire::{Batch, BatchReply},
};
use crate::{
    observe::store::SeriesId,
    policy::{Policy, Probe},
    snapshot::{IpFamily, SeriesKey, Time},
};

/// Why a batch was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// More samples than the controller accepts at once (HTTP 413).
    #[error("batch has {got} samples; the limit is {limit} per batch")]
    TooMany {
        /// Samples in the batch.
        got: usize,
        /// The limit.
        limit: usize,
    },
    /// A field holds an impossible value (HTTP 400).
    #[error("{0}")]
    Invalid(String),
}

/// Longest latency a sample may report (an hour; probes time out long before).
const MAX_LATENCY: f64 = 3600.0;

/// Checks the numbers of `batch` without touching any state.
pub fn validate(batch: &Batch, max_samples: usize) -> Result<usize, BatchError> {
    let total: usize = batch.series.iter().map(|s| s.samples.len()).sum();
    if total > max_samples {
        return Err(BatchError::TooMany {
            got: total,
            limit: max_samples,
        });
    }
    if !batch.sent_at.is_finite() || batch.sent_at <= 0.0 {
        return Err(BatchError::Invalid(format!(
            "sent_at must be seconds since the epoch, got {}",
            batch.sent_at
        )));
    }
    for (i, s) in batch.series.iter().enumerate() {
        for (j, x) in s.samples.iter().enumerate() {
            let phases = x.phases.is_none_or(|p| {
                [p.dns, p.connect, p.tls, p.ttfb, p.transfer]
                    .iter()
                    .all(|v| v.is_finite() && (0.0..=MAX_LATENCY).contains(v))
            });
            if !x.at.is_finite() || x.at <= 0.0 || !(0.0..=MAX_LATENCY).contains(&x.latency) || !phases {
                return Err(BatchError::Invalid(format!(
                    "series[{i}] ({}/{}) sample[{j}]: `at` must be seconds since the epoch and latency and phases within 0..={MAX_LATENCY} s",
                    s.policy, s.probe
                )));
            }
        }
    }
    Ok(total)
}

impl IngestState {
    /// Takes a batch from the authenticated `agent`: checks it, re-times and stores its
    /// samples, and marks the agent fresh. The HTTP handler calls this after authentication
    /// and the size limit; tests and in-process agents may call it directly.
    pub fn ingest(&self, agent: &str, batch: &Batch) -> Result<BatchReply, BatchError> {
        validate(batch, self.inner.limits.max_batch_samples)?;
        let received = self.inner.clock.now();
        let (accepted, rejected) = store(self, agent, batch, received);
        let offset = received - batch.sent_at;
        lock(&self.inner.agents).batch(agent, received, offset, accepted, rejected, batch.dropped_total);
        Ok(BatchReply {
            accepted,
            rejected,
            offset_s: offset,
            assignments: self.version(agent),
        })
    }
}

/// The probe of the series if `policy` assigns it to `agent` (so an agent cannot create
/// series, and with them labels, that nobody asked for).
fn assigned<'p>(
    policy: &'p Policy,
    instances: &[crate::snapshot::Instance],
    agent: &str,
    s: &super::wire::BatchSeries,
) -> Option<&'p Probe> {
    let probe = policy.spec.probes.iter().find(|p| p.name == s.probe)?;
    if !probe.locations.iter().any(|l| l == agent) || !IpFamily::expand(probe.family).contains(&s.family) {
        return None;
    }
    let ok = match &s.instance {
        None => true,
        Some(id) => probe.per_instance && instances.iter().any(|i| &i.id == id),
    };
    ok.then_some(probe)
}

/// Stores the samples of a validated batch from `agent`, received at `received`; returns
/// (accepted, rejected) sample counts.
fn store(state: &IngestState, agent: &str, batch: &Batch, received: Time) -> (u64, u64) {
    let offset = received - batch.sent_at;
    let published = state.inner.published.read().unwrap_or_else(|e| e.into_inner());
    let location: std::sync::Arc<str> = agent.into();
    let (mut accepted, mut rejected) = (0u64, 0u64);
    for s in &batch.series {
        let n = s.samples.len() as u64;
        let Some(p) = published.get(&s.policy) else {
            rejected += n;
            continue;
        };
        let Some(probe) = assigned(&p.policy, &p.instances, agent, s) else {
            rejected += n;
            continue;
        };
        let per = state.inner.limits.samples_per_interval;
        let min_gap = if per > 0.0 {
            probe.interval.secs() / per
        } else {
            0.0
        };
        let key = SeriesKey {
            probe: s.probe.as_str().into(),
            location: location.clone(),
            family: s.family,
        };
        let id = match &s.instance {
            None => SeriesId::Service(key),
            Some(i) => SeriesId::Instance(i.clone(), key),
        };
        let mut store = lock(&p.store);
        // A per-instance series keeps too few samples to count its budget from: its own.
        let mut budgets = s.instance.is_some().then(|| lock(&p.budgets));
        let latest = store.get(&id).and_then(|x| x.latest()).map(|x| x.at);
        let mut floor = latest.unwrap_or(f64::MIN);
        let mut next = latest.map_or(f64::MIN, |t| t + min_gap);
        let budget = state.inner.limits.budget_intervals;
        let budget_window = f64::from(budget) * probe.interval.secs();
        let mut excess = 0u64;
        for x in &s.samples {
            let at = (x.at + offset).min(received).max(floor);
            let over_budget = || match &budgets {
                Some(b) => !b.admits(&id, at, budget, budget_window),
                None => {
                    budget > 0
                        && store
                            .get(&id)
                            .is_some_and(|h| h.counts(at, budget_window).total > u64::from(budget))
                }
            };
            if at < next || over_budget() {
                excess += 1;
                continue;
            }
            floor = at;
            next = at + min_gap;
            let sample = x.sample_at(at);
            store.record(&id, sample);
            if let Some(b) = budgets.as_mut() {
                b.record(&id, at, budget);
            }
            if let Some(m) = &state.inner.metrics {
                let key = match &id {
                    SeriesId::Service(k) | SeriesId::Instance(_, k) => k,
                };
                m.observe(key, s.instance.is_some(), &sample, x.failure);
            }
        }
        accepted += n - excess;
        rejected += excess;
    }
    (accepted, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::wire::{BatchSample, BatchSeries};

    fn batch(latency: f64) -> Batch {
        Batch {
            sent_at: 1000.0,
            dropped_total: 0,
            series: vec![BatchSeries {
                policy: "p".into(),
                probe: "web".into(),
                family: IpFamily::V6,
                instance: None,
                samples: vec![BatchSample {
                    at: 990.0,
                    latency,
                    ok: true,
                    phases: None,
                    failure: None,
                }],
            }],
        }
    }

    /// A clock stopped at 1000 s.
    struct Stopped;
    impl crate::clock::Clock for Stopped {
        fn now(&self) -> Time {
            1000.0
        }
    }

    #[test]
    fn samples_denser_than_the_probe_interval_are_refused() {
        let policy = crate::policy::parse("p", include_bytes!("../../policies/election-web.yaml")).unwrap();
        let state = IngestState::new(
            crate::ingest::TokenBook::default(),
            std::sync::Arc::new(Stopped),
            super::super::IngestLimits::default(),
        );
        let store = std::sync::Arc::new(std::sync::Mutex::new(
            crate::observe::store::ProbeStore::for_policy(&policy),
        ));
        state.publish(&policy, &[], store);
        // `site` probes every 10 s from fra: one sample per second is a flood; every 5 s is
        // the most the default limit (2 per interval) stores.
        let mut b = batch(0.2);
        b.series[0].policy = policy.metadata.name.clone();
        b.series[0].probe = "site".into();
        b.series[0].samples = (0..60)
            .map(|k| BatchSample {
                at: 930.0 + k as f64,
                ..b.series[0].samples[0]
            })
            .collect();
        let r = state.ingest("fra", &b).unwrap();
        assert_eq!((r.accepted, r.rejected), (12, 48));
        // A later batch continues from the stored series' newest sample.
        b.series[0].samples.truncate(3);
        let r = state.ingest("fra", &b).unwrap();
        assert_eq!((r.accepted, r.rejected), (0, 3), "older than what is stored");
    }

    #[test]
    fn a_flood_stores_what_a_working_agent_stores_and_a_jittery_one_loses_nothing() {
        let policy = crate::policy::parse("p", include_bytes!("../../policies/election-web.yaml")).unwrap();
        let state = IngestState::new(
            crate::ingest::TokenBook::default(),
            std::sync::Arc::new(Stopped),
            super::super::IngestLimits::default(),
        );
        let store = std::sync::Arc::new(std::sync::Mutex::new(
            crate::observe::store::ProbeStore::for_policy(&policy),
        ));
        state.publish(&policy, &[], store);
        let mut b = batch(0.2);
        b.series[0].policy = policy.metadata.name.clone();
        b.series[0].probe = "site".into();
        let proto = b.series[0].samples[0];
        // `site` probes every 10 s: 1,000 s are 100 intervals. Flooded with a result every
        // second, fra stores 21 per 20 intervals (the density limit alone stored 200).
        b.series[0].samples = (0..1000)
            .map(|k| BatchSample {
                at: 0.5 + k as f64,
                ..proto
            })
            .collect();
        let r = state.ingest("fra", &b).unwrap();
        assert!((100..=106).contains(&r.accepted), "{r:?}");
        assert_eq!(r.accepted + r.rejected, 1000);
        // ams probes on schedule with up to ±2.4 s of jitter: every result is stored.
        b.series[0].samples = (1..100)
            .map(|k| BatchSample {
                at: k as f64 * 10.0 + ((k * 37) % 49) as f64 / 10.0 - 2.4,
                ..proto
            })
            .collect();
        let r = state.ingest("ams", &b).unwrap();
        assert_eq!((r.accepted, r.rejected), (99, 0));
    }

    #[test]
    fn impossible_numbers_and_oversize_batches_are_refused() {
        assert_eq!(validate(&batch(0.2), 10), Ok(1));
        assert!(matches!(validate(&batch(-1.0), 10), Err(BatchError::Invalid(_))));
        assert!(matches!(
            validate(&batch(f64::NAN), 10),
            Err(BatchError::Invalid(_))
        ));
        assert_eq!(
            validate(&batch(0.2), 0),
            Err(BatchError::TooMany { got: 1, limit: 0 })
        );
        let mut b = batch(0.2);
        b.sent_at = f64::INFINITY;
        assert!(validate(&b, 10).unwrap_err().to_string().contains("sent_at"));
    }
}
