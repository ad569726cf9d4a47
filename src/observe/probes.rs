//! The run loop's probes for one policy: one [`ProbeStore`] that the controller's own
//! [`ProbeEngine`] writes its `local` samples into and the agents' ingest writes theirs into.
//! The reconcile task owns it (a cloud connection never does) and hands it to the collector as
//! a [`ProbeSource`].
//!
//! The engine's job set is re-derived when the policy changes ([`Probes::policy_changed`]) and
//! when the inventory shows a different set of instances or addresses ([`Probes::saw`]);
//! unchanged jobs keep running. With an ingest, the policy and its instances are published to
//! it on the same occasions. Dropping `Probes` (policy removed, shutdown) aborts every job and
//! withdraws the policy from the agents.

use super::{
    probe::{LocalProber, engine::ProbeEngine, schedule::LOCAL},
    sources::ProbeSource,
    store::ProbeStore,
};
use crate::{
    clock::Clock,
    ingest::IngestState,
    policy::Policy,
    snapshot::{Instance, InstanceId, InstanceSeries, IpFamily, ServiceSeries, Time},
};
use std::sync::{Arc, Mutex, MutexGuard};

/// What the job set depends on in an inventory: each instance's id and addresses.
type Addresses = Vec<(InstanceId, Vec<(IpFamily, String)>)>;

/// One policy's probe store with the local engine and the agents' ingest attached as wanted.
pub struct Probes {
    store: Arc<Mutex<ProbeStore>>,
    engine: Option<ProbeEngine>,
    ingest: Option<IngestState>,
    policy: Policy,
    instances: Vec<Instance>,
    addresses: Option<Addresses>,
}

impl Probes {
    /// The store for `policy`. With `local`, the controller runs the policy's `local` probes
    /// itself, stamping samples with that clock (service probes start now, per-instance ones
    /// with the first inventory seen). With `ingest`, the policy is published to the agents,
    /// whose samples then land in the same store.
    pub fn start(policy: &Policy, local: Option<Arc<dyn Clock>>, ingest: Option<IngestState>) -> Self {
        let store = Arc::new(Mutex::new(ProbeStore::for_policy(policy)));
        let engine = local.map(|clock| ProbeEngine::new(store.clone(), Arc::new(LocalProber::new()), clock));
        let mut me = Self {
            store,
            engine,
            ingest,
            policy: policy.clone(),
            instances: Vec::new(),
            addresses: None,
        };
        me.sync();
        me
    }

    /// The local engine, when one runs.
    pub fn engine(&self) -> Option<&ProbeEngine> {
        self.engine.as_ref()
    }

    /// The shared store.
    pub fn store(&self) -> &Arc<Mutex<ProbeStore>> {
        &self.store
    }

    fn locked(&self) -> MutexGuard<'_, ProbeStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Follows the inventory: a different set of instances or addresses re-derives the
    /// per-instance jobs and republishes to the agents.
    pub fn saw(&mut self, inventory: &[Instance]) {
        let addresses: Addresses = inventory
            .iter()
            .map(|i| (i.id.clone(), i.addresses.clone()))
            .collect();
        if self.addresses.as_ref() != Some(&addresses) {
            self.addresses = Some(addresses);
            self.instances = inventory.to_vec();
            self.sync();
        }
    }

    /// A new version of the policy is in force: a new window or probe interval resizes the
    /// series (keeping the newest samples), and the jobs are re-derived.
    pub fn policy_changed(&mut self, policy: &Policy) {
        if *policy != self.policy {
            self.policy = policy.clone();
            self.locked().retune(policy);
            self.sync();
        }
    }

    fn sync(&mut self) {
        let name = &self.policy.metadata.name;
        if let Some(engine) = &mut self.engine {
            match engine.sync(&self.policy, &self.instances) {
                Ok(r) => tracing::info!(
                    policy = %name, started = r.started, stopped = r.stopped, kept = r.kept,
                    "Local probe jobs updated."
                ),
                Err(e) => {
                    tracing::warn!(policy = %name, error = %e, "Local probes cannot be built; keeping the running ones.")
                }
            }
        }
        if let Some(i) = &self.ingest {
            i.publish(&self.policy, &self.instances, self.store.clone());
        }
    }
}

impl Drop for Probes {
    fn drop(&mut self) {
        if let Some(i) = &self.ingest {
            i.withdraw(&self.policy.metadata.name);
        }
    }
}

impl ProbeSource for Probes {
    fn summaries(
        &self,
        latency_windows: &[f64],
        count_windows: &[f64],
        now: Time,
    ) -> (Vec<ServiceSeries>, Vec<InstanceSeries>) {
        self.locked().summaries(now, latency_windows, count_windows)
    }

    fn heartbeat(&self, location: &str, now: Time) -> Option<Time> {
        match location {
            LOCAL => self.engine.as_ref().map(|_| now),
            agent => self.ingest.as_ref().and_then(|i| i.last_batch(agent)),
        }
    }

    fn evidence_since(&self, t: Time) -> bool {
        self.locked().streak_reached_since(t)
    }

    fn stale_floor(&self) -> Option<f64> {
        self.ingest.as_ref().map(|i| i.limits().stale_after)
    }
}
