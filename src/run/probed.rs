//! A real cloud with the controller's own probe engine attached (`sloop run --cloud NAME`).
//!
//! Each managed policy gets one shared [`ProbeStore`]: the local [`ProbeEngine`] writes its
//! `local` samples into it, the agents' ingest writes theirs (the store is published to the
//! [`IngestState`] with the policy and its instances), and the cloud connection reads the
//! snapshot's probe series from it. The job set is re-derived when the policy changes
//! ([`LiveCloud::policy_changed`]) and when an observation shows a different set of instances
//! or addresses; unchanged jobs keep running, and dropping the connection (policy removed,
//! shutdown) aborts every job.

use super::cloud::LiveCloud;
use crate::{
    act::{ActError, Compute, ServerAction, ServerRequest, Traffic},
    clock::Clock,
    ingest::IngestState,
    observe::{
        Observe, ObserveError,
        probe::{LocalProber, engine::ProbeEngine},
        store::ProbeStore,
    },
    policy::Policy,
    snapshot::{Instance, InstanceId, IpFamily, Snapshot, Time},
};
use std::{
    future::Future,
    sync::{Arc, Mutex},
};

/// What the job set depends on in an inventory: each instance's id and addresses.
type Addresses = Vec<(InstanceId, Vec<(IpFamily, String)>)>;

/// `inner` with the local probe engine running `policy`'s local probes.
pub struct Probed<C> {
    inner: C,
    engine: ProbeEngine,
    store: Arc<Mutex<ProbeStore>>,
    policy: Policy,
    ingest: Option<IngestState>,
    instances: Vec<Instance>,
    addresses: Option<Addresses>,
}

impl<C> Probed<C> {
    /// Attaches an engine recording into `store` (which `inner` reads its probe series from)
    /// and starts the service probes; per-instance probes start with the first observation.
    pub fn new(
        inner: C,
        policy: &Policy,
        store: Arc<Mutex<ProbeStore>>,
        clock: Arc<dyn Clock>,
        ingest: Option<IngestState>,
    ) -> Self {
        let engine = ProbeEngine::new(store.clone(), Arc::new(LocalProber::new()), clock);
        let mut me = Self {
            inner,
            engine,
            store,
            policy: policy.clone(),
            ingest,
            instances: Vec::new(),
            addresses: None,
        };
        me.sync();
        me
    }

    /// The wrapped connection.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// The local probe engine.
    pub fn engine(&self) -> &ProbeEngine {
        &self.engine
    }

    fn sync(&mut self) {
        let name = &self.policy.metadata.name;
        match self.engine.sync(&self.policy, &self.instances) {
            Ok(r) => tracing::info!(
                policy = %name, started = r.started, stopped = r.stopped, kept = r.kept,
                "Local probe jobs updated."
            ),
            Err(e) => {
                tracing::warn!(policy = %name, error = %e, "Local probes cannot be built; keeping the running ones.")
            }
        }
        if let Some(i) = &self.ingest {
            i.publish(&self.policy, &self.instances, self.store.clone());
        }
    }

    fn saw(&mut self, inventory: &[Instance]) {
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
}

impl<C> Drop for Probed<C> {
    fn drop(&mut self) {
        if let Some(i) = &self.ingest {
            i.withdraw(&self.policy.metadata.name);
        }
    }
}

impl<C: Observe + Send> Observe for Probed<C> {
    async fn observe(&mut self, now: Time) -> Result<Snapshot, ObserveError> {
        let snap = self.inner.observe(now).await?;
        self.saw(&snap.inventory);
        Ok(snap)
    }
}

impl<C: Compute + Send> Compute for Probed<C> {
    fn create_server(
        &mut self,
        req: &ServerRequest,
    ) -> impl Future<Output = Result<InstanceId, ActError>> + Send {
        self.inner.create_server(req)
    }
    fn delete_server(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        self.inner.delete_server(id)
    }
    fn reboot_server(&mut self, id: &str, hard: bool) -> impl Future<Output = Result<(), ActError>> + Send {
        self.inner.reboot_server(id, hard)
    }
    fn rebuild_server(&mut self, id: &str, image: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        self.inner.rebuild_server(id, image)
    }
    fn live_migrate(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        self.inner.live_migrate(id)
    }
    fn stamp_server(
        &mut self,
        id: &str,
        metadata: &std::collections::BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), ActError>> + Send {
        self.inner.stamp_server(id, metadata)
    }

    fn server_actions(
        &mut self,
        id: &str,
        since: Time,
    ) -> impl Future<Output = Result<Vec<ServerAction>, ActError>> + Send {
        self.inner.server_actions(id, since)
    }
}

impl<C: Traffic + Send> Traffic for Probed<C> {
    fn set_member_weight(
        &mut self,
        id: &str,
        weight: u16,
    ) -> impl Future<Output = Result<(), ActError>> + Send {
        self.inner.set_member_weight(id, weight)
    }
    fn remove_member(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        self.inner.remove_member(id)
    }
    fn finish_drains(&mut self, now: Time) -> impl Future<Output = Result<Vec<InstanceId>, ActError>> + Send {
        self.inner.finish_drains(now)
    }
}

impl<C: LiveCloud> LiveCloud for Probed<C> {
    fn step(&self) -> Option<f64> {
        self.inner.step()
    }
    fn now(&self) -> Option<Time> {
        self.inner.now()
    }
    fn advance_to(&mut self, t: Time) {
        self.inner.advance_to(t);
    }
    fn evidence_since(&self, t: Time) -> bool {
        self.inner.evidence_since(t)
            || self
                .store
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .streak_reached_since(t)
    }
    fn end(&self) -> Option<Time> {
        self.inner.end()
    }
    fn policy_changed(&mut self, policy: &Policy) {
        self.inner.policy_changed(policy);
        if *policy != self.policy {
            self.policy = policy.clone();
            // A new window or probe interval resizes the series, keeping the newest samples.
            self.store
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retune(policy);
            self.sync();
        }
    }
}
