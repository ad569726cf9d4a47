//! The controller's own probe engine for one policy: the [`Scheduler`] running the jobs
//! [`jobs_for_policy`] derives from the policy and the inventory, re-derived whenever either
//! changes. A job whose series, address and probe definition are unchanged keeps running (its
//! phase and in-flight probe untouched); a job that disappeared or changed is aborted, with
//! its probe in flight; dropping the engine aborts them all. Results go into the policy's
//! shared [`ProbeStore`], the same one the agents' ingest writes to.
//!
//! ```text
//! policy + inventory ─► sync ─► jobs_for_policy ─► diff with running ─► spawn / abort
//! ```

use super::{
    Address, BuildError, LocalProber,
    schedule::{Job, Limits, Scheduler, jobs_for_policy},
};
use crate::{
    clock::Clock,
    observe::store::{ProbeStore, SeriesId},
    policy::{Policy, Probe},
    snapshot::Instance,
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};
use tokio::task::JoinHandle;

/// A running job: what it was started from, and its task.
struct Running {
    probe: Probe,
    task: JoinHandle<()>,
}

/// What a [`ProbeEngine::sync`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncReport {
    /// Jobs started (new or changed).
    pub started: usize,
    /// Jobs stopped (gone or changed).
    pub stopped: usize,
    /// Jobs left running untouched.
    pub kept: usize,
}

/// The local probe jobs of one policy.
pub struct ProbeEngine {
    scheduler: Scheduler<Arc<LocalProber>>,
    store: Arc<Mutex<ProbeStore>>,
    running: HashMap<(SeriesId, Address), Running>,
}

impl ProbeEngine {
    /// An engine recording into `store`, stamping samples with `clock`. Jobs start at the
    /// first [`ProbeEngine::sync`].
    pub fn new(store: Arc<Mutex<ProbeStore>>, prober: Arc<LocalProber>, clock: Arc<dyn Clock>) -> Self {
        Self {
            scheduler: Scheduler::new(prober, store.clone(), clock, Limits::default()),
            store,
            running: HashMap::new(),
        }
    }

    /// Brings the running jobs in line with `policy` and `instances`; per-instance series of
    /// instances no longer listed are dropped from the store. On a policy whose probes cannot
    /// be built nothing changes and the error is returned.
    pub fn sync(&mut self, policy: &Policy, instances: &[Instance]) -> Result<SyncReport, BuildError> {
        let jobs = jobs_for_policy(policy, instances)?;
        let mut report = SyncReport::default();
        let mut wanted: HashMap<(SeriesId, Address), (Job, Probe)> = HashMap::new();
        for job in jobs {
            let name = match &job.series {
                SeriesId::Service(k) | SeriesId::Instance(_, k) => k.probe.clone(),
            };
            let Some(probe) = policy.spec.probes.iter().find(|p| *p.name == *name) else {
                continue;
            };
            wanted.insert((job.series.clone(), job.address.clone()), (job, probe.clone()));
        }
        self.running.retain(|key, r| {
            let keep = wanted.get(key).is_some_and(|(_, p)| *p == r.probe);
            if !keep {
                r.task.abort();
                report.stopped += 1;
            }
            keep
        });
        for (key, (job, probe)) in wanted {
            if self.running.contains_key(&key) {
                report.kept += 1;
                continue;
            }
            let task = self.scheduler.spawn(job);
            self.running.insert(key, Running { probe, task });
            report.started += 1;
        }
        let ids: Vec<&str> = instances.iter().map(|i| i.id.as_str()).collect();
        self.store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain_instances(|i| ids.contains(&i));
        Ok(report)
    }

    /// Jobs running now.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// Whether no job runs.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// The scheduler's counters (runs, samples, overruns).
    pub fn counters(&self) -> Arc<super::schedule::Counters> {
        self.scheduler.counters()
    }
}

impl Drop for ProbeEngine {
    fn drop(&mut self) {
        for r in self.running.values() {
            r.task.abort();
        }
    }
}
