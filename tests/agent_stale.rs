//! A silent agent is stale, never evidence: samples ingested from agents land in the same
//! ProbeStore as local ones, and `IngestState::probe_view` marks a location stale and leaves its
//! series out once its agent stops reporting, so the decision core neither heals nor pages on it.

mod support;

use sloop::{
    clock::Clock,
    decide::decide,
    decision::SloState,
    history::History,
    ingest::{
        IngestLimits, IngestState, TokenBook,
        wire::{Batch, BatchSample, BatchSeries},
    },
    observe::store::{ProbeStore, SeriesId},
    snapshot::{Snapshot, Time},
};
use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU64, Ordering},
};
use support::{Fixture, election_policy};

/// A clock the test sets.
struct TestClock(AtomicU64);

impl TestClock {
    fn set(&self, t: Time) {
        self.0.store(t.to_bits(), Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Time {
        f64::from_bits(self.0.load(Ordering::SeqCst))
    }
}

/// The fixture's observations fed through the real pipeline: local series straight into the
/// store, every agent's series as an ingested batch received at the fixture's `now`; then the
/// snapshot is rebuilt from the store at `judge_at`.
fn through_ingest(fixture: &Fixture, stale_after: f64, judge_at: Time) -> Snapshot {
    let policy = election_policy();
    let truth = fixture.build();
    let clock = Arc::new(TestClock(AtomicU64::new(fixture.now.to_bits())));
    let limits = IngestLimits {
        stale_after,
        ..IngestLimits::default()
    };
    let state = IngestState::new(TokenBook::default(), clock.clone(), limits);
    let store = Arc::new(Mutex::new(ProbeStore::for_policy(&policy)));
    state.publish(&policy, &truth.inventory, store.clone());

    let mut batches: std::collections::BTreeMap<String, Vec<BatchSeries>> = Default::default();
    let mut add =
        |key: &sloop::snapshot::SeriesKey, instance: Option<String>, samples: &[sloop::snapshot::Sample]| {
            if &*key.location == "local" {
                let id = match instance {
                    None => SeriesId::Service(key.clone()),
                    Some(i) => SeriesId::Instance(i, key.clone()),
                };
                let mut s = store.lock().unwrap();
                for x in samples {
                    s.record(&id, *x);
                }
                return;
            }
            batches
                .entry(key.location.to_string())
                .or_default()
                .push(BatchSeries {
                    policy: policy.metadata.name.clone(),
                    probe: key.probe.to_string(),
                    family: key.family,
                    instance,
                    samples: samples.iter().map(|x| BatchSample::new(*x, None)).collect(),
                });
        };
    for s in &truth.service {
        add(&s.key, None, &s.recent);
    }
    for s in &truth.instances_probed {
        add(&s.key, Some(s.instance.clone()), &s.recent);
    }
    for (agent, series) in batches {
        let batch = Batch {
            sent_at: fixture.now,
            dropped_total: 0,
            series,
        };
        let reply = state.ingest(&agent, &batch).unwrap();
        assert_eq!(reply.rejected, 0, "{agent}: every fixture series is assigned");
    }

    clock.set(judge_at);
    let mut snap = truth.clone();
    snap.observed_at = judge_at;
    state
        .probe_view(&policy.metadata.name, judge_at)
        .expect("published")
        .apply(&mut snap);
    snap
}

fn healing(snap: &Snapshot, now: Time) -> Vec<String> {
    let (d, _) = decide(&election_policy(), snap, &History::default(), now);
    d.actions
        .iter()
        .filter(|a| a.action.kind().is_healing())
        .map(|a| format!("{:?}", a.action))
        .collect()
}

#[test]
fn an_instance_down_from_local_and_a_fresh_agent_is_healed() {
    // The control case: the same data with fra still reporting must heal, or the stale case
    // below would prove nothing.
    let f = Fixture::healthy(6).instance_down_from("vm-2", &["local", "fra"]);
    let at = f.now + 20.0;
    let snap = through_ingest(&f, 300.0, at);
    assert!(snap.locations.iter().all(|l| l.fresh), "{:?}", snap.locations);
    assert!(snap.instances_probed.iter().any(|s| &*s.key.location == "fra"));
    assert!(
        !healing(&snap, at).is_empty(),
        "two locations see vm-2 down: heal it"
    );
}

#[test]
fn a_silent_agent_is_stale_and_neither_heals_nor_violates() {
    let f = Fixture::healthy(6).instance_down_from("vm-2", &["local", "fra"]);
    let at = f.now + 60.0;
    let snap = through_ingest(&f, 30.0, at);
    let fra = snap.locations.iter().find(|l| l.name == "fra").unwrap();
    assert!(!fra.fresh, "fra has been silent for 60 s");
    assert_eq!(fra.last_seen, Some(f.now));
    assert!(snap.locations.iter().find(|l| l.name == "local").unwrap().fresh);
    assert!(
        snap.service.iter().all(|s| &*s.key.location != "fra"),
        "a stale location's series are left out"
    );
    assert!(snap.instances_probed.iter().all(|s| &*s.key.location != "fra"));
    let actions = healing(&snap, at);
    assert!(
        actions.is_empty(),
        "one fresh location is below unhealthyAfter.locations=2: {actions:?}"
    );
}

#[test]
fn every_agent_silent_means_no_data_not_a_violation() {
    // All three agents silent and the service slow only from the controller: quorum 3 cannot be
    // reached, so the latency objective has no data; nothing scales on it.
    let f = Fixture::healthy(4).util(0.5).all_slow(1.5);
    let at = f.now + 60.0;
    let snap = through_ingest(&f, 30.0, at);
    let (d, _) = decide(&election_policy(), &snap, &History::default(), at);
    let v = d.verdicts.iter().find(|v| v.objective == "latency-p95").unwrap();
    assert_eq!(v.state, SloState::NoData, "{v:?}");
    assert!(d.actions.is_empty(), "{:?}", d.actions);
}
