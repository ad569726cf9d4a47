//! The cloud `sloop bench ingest` runs the controller against: the built-in simulator, ticking
//! on the wall clock like a real cloud (so a pass's lateness is a real scheduling delay), with
//! the agents' ingest attached the way `sloop run --cloud NAME` attaches it: the policy and its
//! instances are published to the [`IngestState`] with a shared [`ProbeStore`], and every
//! observation reads the agents' series back through [`IngestState::probe_view`] (the same
//! locks the ingest path takes) and adds them to the snapshot the decision core judges.

use crate::{
    act::{ActError, Compute, ServerRequest, Traffic},
    clock::{Clock, ScaledClock, Stopwatch, SystemClock},
    ingest::IngestState,
    observe::{Observe, ObserveError, store::ProbeStore},
    policy::Policy,
    run::{
        CloudFactory, LiveCloud,
        ticklog::{TickLog, TickTiming},
    },
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

/// The samples in each pass's snapshot (service windows and per-instance recents), by the
/// pass's time: what the decision core had to judge.
#[derive(Debug, Clone, Default)]
pub struct JudgedLog(Arc<Mutex<Vec<(Time, usize)>>>);

impl JudgedLog {
    fn push(&self, at: Time, samples: usize) {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if v.len() < super::super::run::ticklog::TICK_LOG_CAP {
            v.push((at, samples));
        }
    }

    /// Samples per pass for the passes in `[from, to)`.
    pub fn between(&self, from: Time, to: Time) -> Vec<f64> {
        let v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        v.iter()
            .filter(|(t, _)| *t >= from && *t < to)
            .map(|(_, n)| *n as f64)
            .collect()
    }

    /// Samples per pass for the passes in `[from, to)`, by the bits of the pass's time.
    pub fn by_time(&self, from: Time, to: Time) -> std::collections::HashMap<u64, usize> {
        let v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        v.iter()
            .filter(|(t, _)| *t >= from && *t < to)
            .map(|(t, n)| (t.to_bits(), *n))
            .collect()
    }
}

/// Connections to the simulator, with the agents' ingest attached once the controller runs.
pub struct AgentFedFactory {
    /// The scenario (its start moved to the wall clock's now).
    pub scenario: Scenario,
    /// The agents' side (set by `attach_ingest`).
    pub ingest: OnceLock<IngestState>,
    /// The agents' location names (not in the scenario's network: only agents report them).
    pub agents: Arc<[String]>,
    /// `Some(speed)`: simulated time at `speed` × real time from the scenario's start, walked in
    /// 1 s steps like `sloop run --cloud sim` (for `sloop bench uptime`, which needs hours of
    /// uptime in seconds); the world's stepping then happens between passes, timed into
    /// `world_log`. `None`: the wall clock.
    pub simulated: Option<f64>,
    /// Under `simulated`: how long each step of the simulated world took (not part of a pass).
    pub world_log: Option<TickLog>,
    /// Samples judged per pass.
    pub judged: JudgedLog,
}

impl AgentFedFactory {
    /// The simulator on the wall clock (`scenario` started where the caller wants it), with
    /// `agents` reporting through the ingest.
    pub fn wall_clock(scenario: Scenario, agents: Arc<[String]>) -> Self {
        Self {
            scenario,
            ingest: OnceLock::new(),
            agents,
            simulated: None,
            world_log: None,
            judged: JudgedLog::default(),
        }
    }
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
            step: self.simulated.map(|_| 1.0),
            world_log: self.world_log.clone(),
            judged: self.judged.clone(),
        };
        cloud.publish(&[]);
        std::future::ready(Ok(cloud))
    }

    fn clock(&self) -> Arc<dyn Clock> {
        match self.simulated {
            Some(speed) => Arc::new(ScaledClock::new(self.scenario.start_unix(), speed)),
            None => Arc::new(SystemClock),
        }
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
    step: Option<f64>,
    world_log: Option<TickLog>,
    judged: JudgedLog,
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
        let samples = snap.service.iter().map(|s| s.recent.len()).sum::<usize>()
            + snap
                .instances_probed
                .iter()
                .map(|s| s.recent.len())
                .sum::<usize>();
        self.judged.push(now, samples);
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

/// Ticks on the wall clock (no `step`), so passes start when scheduled, not when walked to;
/// under `simulated`, walks simulated time as the simulator does under `sloop run`.
impl LiveCloud for AgentFed {
    fn step(&self) -> Option<f64> {
        self.step
    }
    fn now(&self) -> Option<Time> {
        self.step.map(|_| self.sim.now())
    }
    fn advance_to(&mut self, t: Time) {
        let watch = Stopwatch::start();
        self.sim.advance_to(t);
        if let Some(log) = &self.world_log {
            log.push(TickTiming {
                at: t,
                late: None,
                took: watch.elapsed().as_secs_f64(),
            });
        }
    }
    fn end(&self) -> Option<Time> {
        self.step.map(|_| self.sim.world().end())
    }
    fn evidence_since(&self, t: Time) -> bool {
        self.sim.evidence_since(t)
            || self
                .store
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .streak_reached_since(t)
    }
}
