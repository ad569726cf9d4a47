//! The cloud `sloop-bench ingest` runs the controller against: the built-in simulator, ticking
//! on the wall clock like a real cloud (so a pass's lateness is a real scheduling delay), with
//! the agents' ingest wired the way `sloop run --cloud NAME` wires it: the run loop publishes the
//! policy and its instances to the ingest with its probe store, and the observe stage reads the
//! agents' series from that store beside the simulated locations' own.

use sloop::{
    clock::{Clock, ScaledClock, SystemClock},
    policy::Policy,
    run::{CloudFactory, cloud::ProbeWiring},
    sim::{Scenario, SimCloud},
};
use std::{future::Future, sync::Arc};

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
    sloop::policy::parse("election-web.yaml (bench)", text.as_bytes()).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        format!("the bench policy is invalid:\n{}", lines.join("\n"))
    })?;
    Ok(text)
}

/// Connections to the simulator, with the agents' probes wired beside them.
pub struct AgentFedFactory {
    /// The scenario (its start moved to the wall clock's now).
    pub scenario: Scenario,
    /// `Some(speed)`: simulated time at `speed` × real time from the scenario's start, walked in
    /// 1 s steps like `sloop run --cloud sim` (for `sloop-bench uptime`, which needs hours of
    /// uptime in seconds); the world's stepping then happens between passes (the controller's
    /// `world_log` times it). `None`: the wall clock.
    pub simulated: Option<f64>,
}

impl AgentFedFactory {
    /// The simulator on the wall clock (`scenario` started where the caller wants it), with the
    /// agents reporting through the ingest.
    pub fn wall_clock(scenario: Scenario) -> Self {
        Self {
            scenario,
            simulated: None,
        }
    }
}

impl CloudFactory for AgentFedFactory {
    type Cloud = SimCloud;

    fn connect(&self, policy: &Policy) -> impl Future<Output = Result<SimCloud, String>> + Send {
        let sim = SimCloud::new(&self.scenario, policy, self.scenario.seed);
        std::future::ready(Ok(match self.simulated {
            Some(_) => sim,
            None => sim.on_wall_clock(),
        }))
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

    /// The agents' samples join the simulated locations' own; no local engine (the simulated
    /// `local` location probes the world).
    fn probes(&self) -> ProbeWiring {
        ProbeWiring {
            local: false,
            agents: true,
        }
    }
}
