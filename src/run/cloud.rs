//! What `sloop run` drives: a [`CloudFactory`] hands each managed policy its own connection,
//! a [`LiveCloud`] (the observe capabilities and the act traits, plus how time moves for it),
//! and says which probes the run loop runs beside it ([`ProbeWiring`]). The simulator and a
//! real cloud differ only here; the supervisor and the reconcile tasks are generic over them.
//!
//! [`DryRunGate`] stands in front of a connection's [`Compute`] and [`Traffic`] whenever the
//! task acts: with `--dry-run` it turns each change into a logged no-op, a guarantee that holds
//! even if a decision slipped past the dry-run mode.

use crate::{
    act::{ActError, Compute, ServerAction, ServerRequest, Traffic},
    clock::{Clock, ScaledClock, SystemClock},
    cloud::openstack::{self, OpenStackCloud},
    observe::Sources,
    policy::Policy,
    sim::{Scenario, SimCloud},
    snapshot::{InstanceId, Time},
};
use std::{future::Future, sync::Arc};

/// One policy's connection to its cloud, as the reconcile task drives it.
pub trait LiveCloud: Sources + Compute + Traffic + Send + 'static {
    /// For a simulated cloud: the step (s) in which the task walks simulated time, looking for
    /// early evidence at each step and ticking at every scheduled instant (so a 60× demo
    /// decides exactly as a rehearsal would). `None` for a real cloud: it ticks at `now`.
    fn step(&self) -> Option<f64> {
        None
    }
    /// The cloud's own time, where it has one (the simulated world's clock).
    fn now(&self) -> Option<Time> {
        None
    }
    /// Brings the observations up to `t` without judging (simulated clouds step their world).
    fn advance_to(&mut self, _t: Time) {}
    /// Where time ends (a scenario's end); the task then stops ticking and keeps serving.
    fn end(&self) -> Option<Time> {
        None
    }
}

/// Which probes the run loop runs beside a factory's connections (in `observe::Probes`, owned
/// by the reconcile task). A simulated world's probes are part of the world, so it wants none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProbeWiring {
    /// The controller's own engine runs the policy's `local` probes.
    pub local: bool,
    /// The policy is published to the agents' ingest (when agents are configured), and their
    /// samples join the snapshot.
    pub agents: bool,
}

/// Makes connections for policies and says how time is read.
pub trait CloudFactory: Send + Sync + 'static {
    /// The connection type.
    type Cloud: LiveCloud;
    /// A connection for one policy's group, made when the policy starts being managed (in the
    /// policy's own task, retried while it fails).
    fn connect(&self, policy: &Policy) -> impl Future<Output = Result<Self::Cloud, String>> + Send;
    /// The clock the tasks read `now` from (the wall clock, or scaled simulated time).
    fn clock(&self) -> Arc<dyn Clock>;
    /// A short label for logs and the status page (`sim: election-night ×60`, a cloud name).
    fn label(&self) -> String;
    /// The probes the run loop runs beside each connection (none by default).
    fn probes(&self) -> ProbeWiring {
        ProbeWiring::default()
    }
}

// === impl SimFactory ===

/// The simulator: each policy gets its own simulated world of the scenario, seeded alike.
pub struct SimFactory {
    scenario: Scenario,
    seed: u64,
    clock: ScaledClock,
}

impl SimFactory {
    /// Plays `scenario` at `speed` × real time, starting `skip` seconds into it (those are
    /// decided at full speed when a policy starts, as a rehearsal would).
    pub fn new(scenario: Scenario, seed: u64, speed: f64, skip: f64) -> Self {
        let start = scenario.start_unix() + skip.max(0.0);
        Self {
            clock: ScaledClock::new(start, speed),
            scenario,
            seed,
        }
    }

    /// The scenario being played.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }
}

impl CloudFactory for SimFactory {
    type Cloud = SimCloud;

    fn connect(&self, policy: &Policy) -> impl Future<Output = Result<SimCloud, String>> + Send {
        std::future::ready(Ok(SimCloud::new(&self.scenario, policy, self.seed)))
    }

    fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(self.clock)
    }

    fn label(&self) -> String {
        format!("sim: {} ×{}", self.scenario.name, self.clock.speed())
    }
}

/// The task walks the world's own time in 1 s steps, unless the world was put on the wall
/// clock ([`SimCloud::on_wall_clock`]): then it ticks at `now` like a real cloud, and each
/// observation steps the world up to it.
impl LiveCloud for SimCloud {
    fn step(&self) -> Option<f64> {
        self.walks_own_time().then_some(1.0)
    }
    fn now(&self) -> Option<Time> {
        self.walks_own_time().then(|| SimCloud::now(self))
    }
    fn advance_to(&mut self, t: Time) {
        SimCloud::advance_to(self, t);
    }
    fn end(&self) -> Option<Time> {
        self.walks_own_time().then(|| self.world().end())
    }
}

// === impl OpenStackFactory ===

/// A real OpenStack cloud from clouds.yaml: one authenticated connection per policy, with the
/// local probe engine and the agents' ingest beside it.
pub struct OpenStackFactory {
    /// The clouds.yaml entry.
    pub cloud: String,
    /// An explicit clouds.yaml (else the usual search path).
    pub clouds_yaml: Option<std::path::PathBuf>,
    /// Where the policies live (boot scripts are relative to it).
    pub policy_dir: std::path::PathBuf,
}

impl CloudFactory for OpenStackFactory {
    type Cloud = OpenStackCloud;

    fn connect(&self, policy: &Policy) -> impl Future<Output = Result<Self::Cloud, String>> + Send {
        let config = openstack::config::load(Some(&self.cloud), self.clouds_yaml.as_deref());
        let opts = openstack::CloudOptions {
            policy_dir: self.policy_dir.clone(),
            ..openstack::CloudOptions::default()
        };
        let (policy, name) = (policy.clone(), self.cloud.clone());
        async move {
            let config = config.map_err(|e| format!("cloud `{name}`: {e}"))?;
            OpenStackCloud::connect(config, policy, opts, wall_clock())
                .await
                .map_err(|e| format!("cloud `{name}`: {e}"))
        }
    }

    fn clock(&self) -> Arc<dyn Clock> {
        wall_clock()
    }

    fn label(&self) -> String {
        format!("openstack: {}", self.cloud)
    }

    fn probes(&self) -> ProbeWiring {
        ProbeWiring {
            local: true,
            agents: true,
        }
    }
}

/// A real cloud ticks at `now` on the wall clock.
impl LiveCloud for OpenStackCloud {}

/// The wall clock, for real clouds.
pub fn wall_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

// === impl DryRunGate ===

/// A connection's [`Compute`] and [`Traffic`] for one action; with `dry_run` set, every change
/// is logged and not made (reads still go through).
pub struct DryRunGate<'a, C> {
    inner: &'a mut C,
    dry_run: bool,
}

impl<'a, C> DryRunGate<'a, C> {
    /// Gates `inner`.
    pub fn new(inner: &'a mut C, dry_run: bool) -> Self {
        Self { inner, dry_run }
    }

    fn skip(&self, call: &str, id: &str) -> bool {
        if self.dry_run {
            tracing::info!(call, instance = id, "Dry run: not calling the cloud.");
        }
        self.dry_run
    }
}

impl<C: Compute + Send> Compute for DryRunGate<'_, C> {
    fn create_server(
        &mut self,
        req: &ServerRequest,
    ) -> impl Future<Output = Result<InstanceId, ActError>> + Send {
        let skip = self.skip("create_server", &req.name);
        let name = req.name.clone();
        let real = (!skip).then(|| self.inner.create_server(req));
        async move {
            match real {
                Some(f) => f.await,
                None => Ok(format!("dry-run:{name}")),
            }
        }
    }

    fn delete_server(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        let real = (!self.skip("delete_server", id)).then(|| self.inner.delete_server(id));
        gated(real)
    }

    fn reboot_server(&mut self, id: &str, hard: bool) -> impl Future<Output = Result<(), ActError>> + Send {
        let real = (!self.skip("reboot_server", id)).then(|| self.inner.reboot_server(id, hard));
        gated(real)
    }

    fn rebuild_server(&mut self, id: &str, image: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        let real = (!self.skip("rebuild_server", id)).then(|| self.inner.rebuild_server(id, image));
        gated(real)
    }

    fn live_migrate(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        let real = (!self.skip("live_migrate", id)).then(|| self.inner.live_migrate(id));
        gated(real)
    }

    fn stamp_server(
        &mut self,
        id: &str,
        metadata: &std::collections::BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), ActError>> + Send {
        let real = (!self.skip("stamp_server", id)).then(|| self.inner.stamp_server(id, metadata));
        gated(real)
    }

    fn server_actions(
        &mut self,
        id: &str,
        since: Time,
    ) -> impl Future<Output = Result<Vec<ServerAction>, ActError>> + Send {
        // Read-only: made in dry-run too.
        self.inner.server_actions(id, since)
    }
}

impl<C: Traffic + Send> Traffic for DryRunGate<'_, C> {
    fn set_member_weight(
        &mut self,
        id: &str,
        weight: u16,
    ) -> impl Future<Output = Result<(), ActError>> + Send {
        let real = (!self.skip("set_member_weight", id)).then(|| self.inner.set_member_weight(id, weight));
        gated(real)
    }

    fn remove_member(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        let real = (!self.skip("remove_member", id)).then(|| self.inner.remove_member(id));
        gated(real)
    }

    fn finish_drains(&mut self, now: Time) -> impl Future<Output = Result<Vec<InstanceId>, ActError>> + Send {
        // Quietly: in a dry run there is never anything this controller drained.
        let real = (!self.dry_run).then(|| self.inner.finish_drains(now));
        async move {
            match real {
                Some(f) => f.await,
                None => Ok(Vec::new()),
            }
        }
    }
}

async fn gated<F: Future<Output = Result<(), ActError>>>(real: Option<F>) -> Result<(), ActError> {
    match real {
        Some(f) => f.await,
        None => Ok(()),
    }
}
