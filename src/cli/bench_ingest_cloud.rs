//! The cloud `sloop bench ingest` runs the controller against: the built-in simulator, ticking
//! on the wall clock like a real cloud (so a pass's lateness is a real scheduling delay), with
//! the agents' ingest attached the way `sloop run --cloud NAME` attaches it: the policy and its
//! instances are published to the [`IngestState`] with a shared [`ProbeStore`], and every
//! observation reads the agents' series back through [`IngestState::probe_view`] (the same
//! locks the ingest path takes) and adds them to the snapshot the decision core judges.

use crate::{
    act::{ActError, Compute, ServerRequest, Traffic},
    clock::{Clock, SystemClock},
    ingest::IngestState,
    observe::{Observe, ObserveError, store::ProbeStore},
    policy::Policy,
    run::{CloudFactory, LiveCloud},
    sim::{Scenario, SimCloud},
    snapshot::{Instance, InstanceId, Snapshot, Time},
};
use std::{
    future::Future,
    sync::{Arc, Mutex, OnceLock},
};

const POLICY: &str = include_str!("../../policies/election-web.yaml");

/// The YAML of the shipped election policy with the bench agents added to every probe's locations and the
/// service probe (which sets the reconcile interval) at `tick`.
pub fn bench_policy(agents: &[String], tick: &str) -> Result<String, String> {
    let extra = agents.join(", ");
    let mut text = POLICY.to_owned();
    for from in ["locations: [local, fra, ams, nyc]", "locations: [local, fra]"] {
        if !text.contains(from) {
            return Err(format!("policies/election-web.yaml no longer has `{from}`"));
        }
        text = text.replacen(from, &format!("{}, {extra}]", from.trim_end_matches(']')), 1);
    }
    text = text
        .replacen("interval: 10s", &format!("interval: {tick}"), 1)
        .replacen("timeout: 2s", &format!("timeout: {tick}"), 1);
    crate::policy::parse("election-web.yaml (bench)", text.as_bytes()).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        format!("the bench policy is invalid:\n{}", lines.join("\n"))
    })?;
    Ok(text)
}

/// Connections to the simulator, with the agents' ingest attached once the controller runs.
pub struct AgentFedFactory {
    /// The scenario (its start moved to the wall clock's now).
    pub scenario: Scenario,
    /// The agents' side (set by `attach_ingest`).
    pub ingest: OnceLock<IngestState>,
    /// The agents' location names (not in the scenario's network: only agents report them).
    pub agents: Arc<[String]>,
}

impl CloudFactory for AgentFedFactory {
    type Cloud = AgentFed;

    fn connect(&self, policy: &Policy) -> impl Future<Output = Result<AgentFed, String>> + Send {
        let sim = SimCloud::new(&self.scenario, policy, self.scenario.seed);
        let store = Arc::new(Mutex::new(ProbeStore::for_policy(policy)));
        let mut cloud = AgentFed {
            sim,
            store,
            policy: policy.clone(),
            ingest: self.ingest.get().cloned(),
            published: Vec::new(),
            agents: self.agents.clone(),
        };
        cloud.publish(&[]);
        std::future::ready(Ok(cloud))
    }

    fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(SystemClock)
    }

    fn label(&self) -> String {
        format!("sim (wall clock, agents' ingest): {}", self.scenario.name)
    }

    fn attach_ingest(&self, ingest: &IngestState) {
        let _ = self.ingest.set(ingest.clone());
    }
}

/// One policy's simulated group plus the agents' probe store.
pub struct AgentFed {
    sim: SimCloud,
    store: Arc<Mutex<ProbeStore>>,
    policy: Policy,
    ingest: Option<IngestState>,
    published: Vec<InstanceId>,
    agents: Arc<[String]>,
}

impl AgentFed {
    /// (Re)publishes the policy with `ids`' instances, as `Probed` does on inventory changes.
    fn publish(&mut self, instances: &[Instance]) {
        let Some(ingest) = &self.ingest else { return };
        ingest.publish(&self.policy, instances, self.store.clone());
        self.published = instances.iter().map(|i| i.id.clone()).collect();
    }
}

impl Drop for AgentFed {
    fn drop(&mut self) {
        if let Some(i) = &self.ingest {
            i.withdraw(&self.policy.metadata.name);
        }
    }
}

impl Observe for AgentFed {
    async fn observe(&mut self, now: Time) -> Result<Snapshot, ObserveError> {
        let mut snap = self.sim.snapshot(now);
        if !snap.inventory.iter().map(|i| &i.id).eq(self.published.iter()) {
            self.publish(&snap.inventory);
        }
        let Some(ingest) = &self.ingest else {
            return Ok(snap);
        };
        if let Some(view) = ingest.probe_view(&self.policy.metadata.name, now) {
            let agent = |l: &str| self.agents.iter().any(|a| a == l);
            let service = view.service.into_iter().filter(|s| agent(&s.key.location));
            let instances = view
                .instances_probed
                .into_iter()
                .filter(|s| agent(&s.key.location));
            snap.service.extend(service);
            snap.instances_probed.extend(instances);
            snap.locations.retain(|l| !agent(&l.name));
            snap.locations
                .extend(view.locations.into_iter().filter(|l| agent(&l.name)));
        }
        Ok(snap)
    }
}

impl Compute for AgentFed {
    fn create_server(
        &mut self,
        req: &ServerRequest,
    ) -> impl Future<Output = Result<InstanceId, ActError>> + Send {
        self.sim.create_server(req)
    }
    fn delete_server(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        self.sim.delete_server(id)
    }
    fn reboot_server(&mut self, id: &str, hard: bool) -> impl Future<Output = Result<(), ActError>> + Send {
        self.sim.reboot_server(id, hard)
    }
    fn rebuild_server(&mut self, id: &str, image: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        self.sim.rebuild_server(id, image)
    }
    fn live_migrate(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        self.sim.live_migrate(id)
    }
    fn stamp_server(
        &mut self,
        id: &str,
        metadata: &std::collections::BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), ActError>> + Send {
        self.sim.stamp_server(id, metadata)
    }
}

impl Traffic for AgentFed {
    fn set_member_weight(
        &mut self,
        id: &str,
        weight: u16,
    ) -> impl Future<Output = Result<(), ActError>> + Send {
        self.sim.set_member_weight(id, weight)
    }
    fn remove_member(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        self.sim.remove_member(id)
    }
}

/// Ticks on the wall clock (no `step`), so passes start when scheduled, not when walked to.
impl LiveCloud for AgentFed {
    fn evidence_since(&self, t: Time) -> bool {
        self.sim.evidence_since(t)
            || self
                .store
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .streak_reached_since(t)
    }
}
