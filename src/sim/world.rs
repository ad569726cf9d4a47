//! The simulated cloud: hypervisors, VMs with their lifecycle, the load balancer's pool, and
//! per-instance queues fed by the offered load. Pure: time advances only through
//! [`World::step`], randomness comes from the seeded [`Rng`].
//!
//! Each step is analytic, not per request: the load is split over pool members by weight, and
//! every instance is an M/M/1-like server with a fluid backlog. With service rate μ (reduced by
//! host degradation and slow faults) and arrival rate λ, utilisation ρ = λ/μ; a request takes
//! `floor + backlog/μ + Exp(μ(1−ρ))`. When ρ ≥ 1 the backlog grows until it would take
//! `queueLimit` to drain, and arrivals beyond that get 503s. Latency is only sampled for probes
//! (`sim::probe`); the ground truth (`sim::truth`) integrates the same distributions.

use super::{
    faults::FaultState,
    load::LoadModel,
    network::Network,
    rng::Rng,
    scenario::{Scenario, WorldSpec},
    truth::TruthRecorder,
};
use crate::{
    policy::{AffinityPolicy, Policy},
    snapshot::{InstanceId, InstanceStatus, Time},
};
use std::collections::BTreeMap;

/// A hypervisor.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// Host name (`hv-01`, …).
    pub name: String,
    /// Allocatable vCPUs.
    pub vcpus: u32,
    /// Allocatable RAM, GiB.
    pub ram_gib: f64,
    /// vCPUs claimed by VMs.
    pub used_vcpus: u32,
    /// RAM claimed by VMs, GiB.
    pub used_ram_gib: f64,
    /// The host is down.
    pub down: bool,
    /// Throughput multiplier of its VMs (1 = healthy).
    pub degradation: f64,
    /// CPU steal it reports, percent.
    pub steal: f64,
    /// Healthy steal, percent.
    pub base_steal: f64,
    /// Integral of steal over time (percent·s), for telemetry means over a granularity.
    pub steal_integral: f64,
    /// Integral of busy vCPUs over time (vCPU·s), for host CPU utilisation.
    pub busy_integral: f64,
}

/// The operation a VM is going through.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// Nothing.
    Idle,
    /// Building; `fail` decides whether it ends in ERROR.
    Build {
        /// Ends in ERROR.
        fail: bool,
    },
    /// Rebooting.
    Reboot {
        /// Power cycle.
        hard: bool,
        /// Ends in ERROR.
        fail: bool,
    },
    /// Rebuilding.
    Rebuild {
        /// Ends in ERROR.
        fail: bool,
    },
    /// Live-migrating to host index `to`.
    Migrate {
        /// Target host.
        to: usize,
        /// Aborts (stays on the source).
        fail: bool,
    },
    /// Being deleted.
    Delete,
}

/// A fault currently affecting one VM.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VmFault {
    /// Index of the injected fault (see [`World::faults`]).
    pub fault: usize,
    /// Survives reboots.
    pub persistent: bool,
}

/// How much slower a slow VM serves: μ × a factor that may fall gradually.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slowdown {
    /// The multiplier reached at the end of the ramp.
    pub factor: f64,
    /// When the slowdown began.
    pub from: Time,
    /// Seconds over which the multiplier falls from 1 to `factor` (0: at once).
    pub ramp: f64,
}

impl Slowdown {
    /// The multiplier at `now`.
    pub fn at(&self, now: Time) -> f64 {
        let done = if self.ramp > 0.0 {
            ((now - self.from) / self.ramp).clamp(0.0, 1.0)
        } else {
            1.0
        };
        1.0 - (1.0 - self.factor) * done
    }
}

/// A server of the group.
#[derive(Debug, Clone, PartialEq)]
pub struct Vm {
    /// Server ID.
    pub id: InstanceId,
    /// Server name.
    pub name: String,
    /// Creation order, from 0.
    pub seq: u64,
    /// Index of its hypervisor.
    pub host: usize,
    /// Nova status.
    pub status: InstanceStatus,
    /// What it is going through.
    pub op: Op,
    /// When the operation started.
    pub op_started: Time,
    /// When the operation ends.
    pub op_until: Time,
    /// When the service inside answers (infinite until booted).
    pub serving_at: Time,
    /// Creation time.
    pub created_at: Time,
    /// When it last became ACTIVE.
    pub active_since: Option<Time>,
    /// Server metadata (group selector, `sloop.*` keys).
    pub metadata: BTreeMap<String, String>,
    /// Pool member weight, when it is a member.
    pub member: Option<u16>,
    /// Service rate when healthy, requests/s.
    pub mu_base: f64,
    /// The service process is dead (ACTIVE but refusing).
    pub crashed: Option<VmFault>,
    /// The service hangs (requests time out).
    pub hung: Option<VmFault>,
    /// The service is slow: μ × the slowdown's factor.
    pub slow: Option<(VmFault, Slowdown)>,
    /// Requests/s routed to it this step.
    pub lambda: f64,
    /// Effective service rate this step.
    pub mu: f64,
    /// Backlog, in requests.
    pub queue: f64,
    /// Arrivals dropped this step, requests/s.
    pub dropped: f64,
    /// Busy share of its CPU this step, 0..1.
    pub util: f64,
    /// Cumulative busy seconds (Ceilometer's `cpu` counter, normalised to one core).
    pub cpu_seconds: f64,
    /// Per-minute truth accumulators: served requests, Σ served·shift, Σ served/rate.
    pub(super) minute: [f64; 3],
    /// It holds a resource claim on its host (false when the scheduler found no room).
    pub(super) claimed: bool,
}

/// How an instance answers a request right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// It serves.
    Serves,
    /// Connection refused (service down, VM up).
    Refuses,
    /// Nothing answers (VM down, hung, or unreachable).
    Silent,
}

impl Vm {
    /// Whether the service inside answers at `now` (faults aside).
    pub fn is_up(&self, now: Time) -> bool {
        matches!(self.status, InstanceStatus::Active | InstanceStatus::Migrating) && now >= self.serving_at
    }

    /// How it answers at `now`.
    pub fn answer(&self, now: Time) -> Answer {
        match self.status {
            InstanceStatus::Active | InstanceStatus::Migrating if now >= self.serving_at => {
                if self.crashed.is_some() {
                    Answer::Refuses
                } else if self.hung.is_some() {
                    Answer::Silent
                } else {
                    Answer::Serves
                }
            }
            InstanceStatus::Active | InstanceStatus::Migrating => Answer::Refuses,
            _ => Answer::Silent,
        }
    }

    /// Whether the load balancer sends it traffic.
    pub fn in_rotation(&self) -> bool {
        self.member.is_some_and(|w| w > 0)
    }
}

/// Numbers the world needs every step, copied out of the scenario and policy.
#[derive(Debug, Clone)]
pub(super) struct Params {
    pub spec: WorldSpec,
    pub vcpus: u32,
    pub ram_gib: f64,
    pub weight: u16,
    pub affinity: AffinityPolicy,
    pub metadata: BTreeMap<String, String>,
    pub prefix: String,
    pub families: (bool, bool),
}

/// The simulated cloud.
#[derive(Debug, Clone)]
pub struct World {
    pub(super) p: Params,
    pub(super) start: Time,
    pub(super) end: Time,
    pub(super) now: Time,
    pub(super) rng: Rng,
    pub(super) load: LoadModel,
    pub(super) offered: f64,
    pub(super) network: Network,
    pub(super) hosts: Vec<Host>,
    pub(super) vms: Vec<Vm>,
    pub(super) seq: u64,
    pub(super) faults: FaultState,
    pub(super) truth: TruthRecorder,
    pub(super) lb: super::lb_stats::LbCounters,
}

impl World {
    /// The world of `scenario` for a group managed by `policy`, seeded with `seed`.
    pub fn new(scenario: &Scenario, policy: &Policy, seed: u64) -> Self {
        let spec = scenario.world.clone();
        let template = &policy.spec.group.template;
        let families = template
            .networks
            .iter()
            .fold((false, false), |(v6, v4), n| match n.family {
                crate::policy::Family::V6 => (true, v4),
                crate::policy::Family::V4 => (v6, true),
                crate::policy::Family::Both => (true, true),
            });
        let mut metadata = policy.spec.group.selector.clone();
        metadata.insert("sloop.policy".into(), policy.metadata.name.clone());
        let p = Params {
            vcpus: template.vcpus.unwrap_or(2),
            ram_gib: template.ram.map_or(4.0, |r| r.gib()),
            weight: policy.spec.traffic.as_ref().map_or(1, |t| t.weight),
            affinity: template
                .server_group
                .as_ref()
                .map_or(AffinityPolicy::SoftAntiAffinity, |g| g.policy),
            metadata,
            prefix: policy.metadata.name.clone(),
            families,
            spec,
        };
        let hs = &p.spec.hypervisors;
        let hosts = (0..hs.count)
            .map(|i| Host {
                name: format!("hv-{:02}", i + 1),
                vcpus: hs.vcpus,
                ram_gib: hs.ram.gib(),
                used_vcpus: 0,
                used_ram_gib: 0.0,
                down: false,
                degradation: 1.0,
                steal: hs.base_steal,
                base_steal: hs.base_steal,
                steal_integral: 0.0,
                busy_integral: 0.0,
            })
            .collect();
        let start = scenario.start_unix();
        let mut world = World {
            start,
            end: scenario.end_unix(),
            now: start,
            rng: Rng::stream(seed, 1),
            load: LoadModel::new(scenario),
            offered: 0.0,
            network: Network::new(&scenario.locations),
            hosts,
            vms: Vec::new(),
            seq: 0,
            faults: FaultState::new(&scenario.faults, start, seed),
            truth: TruthRecorder::new(start, &scenario.locations),
            lb: Default::default(),
            p,
        };
        world.offered = world.load.expected(start);
        for _ in 0..world.p.spec.initial_instances {
            // Pre-existing servers: built a day ago, serving, in the pool.
            let name = world.next_name();
            let meta = world.p.metadata.clone();
            if let Ok(id) = world.place(name, meta, None) {
                let weight = world.p.weight;
                let vm = world.vm_mut(&id).expect("just placed");
                vm.status = InstanceStatus::Active;
                vm.op = Op::Idle;
                vm.created_at = start - 86_400.0;
                vm.active_since = Some(start - 86_400.0);
                vm.serving_at = start - 86_400.0;
                vm.member = Some(weight);
            }
        }
        world
    }

    /// The current simulated time (seconds since the Unix epoch).
    pub fn now(&self) -> Time {
        self.now
    }

    /// When the scenario starts.
    pub fn start(&self) -> Time {
        self.start
    }

    /// When the scenario ends.
    pub fn end(&self) -> Time {
        self.end
    }

    /// Requests/s arriving at the load balancer in the last step: ground truth, for the report
    /// and the oracle only (the core sees the balancer's counters, [`World::lb_counters`]).
    pub fn offered_load(&self) -> f64 {
        self.offered
    }

    /// The load balancer's cumulative counters (what its amphora reports to Octavia).
    pub fn lb_counters(&self) -> &super::lb_stats::LbCounters {
        &self.lb
    }

    /// The group's servers, in creation order.
    pub fn vms(&self) -> &[Vm] {
        &self.vms
    }

    /// The hypervisors.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The network model.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Whether telemetry is blacked out right now.
    pub fn telemetry_blackout(&self) -> bool {
        self.faults.telemetry_blackout > 0
    }

    /// A server by ID.
    pub fn vm(&self, id: &str) -> Option<&Vm> {
        self.index_of(id).map(|i| &self.vms[i])
    }

    /// Position of a server in `vms`. IDs embed the creation sequence and `vms` stays in
    /// creation order, so this is a binary search (probes look servers up 20 times a second).
    fn index_of(&self, id: &str) -> Option<usize> {
        let seq: u64 = id.strip_prefix("sim-")?.parse().ok()?;
        let i = self.vms.binary_search_by_key(&seq, |v| v.seq).ok()?;
        (self.vms[i].id == id).then_some(i)
    }

    pub(super) fn vm_mut(&mut self, id: &str) -> Option<&mut Vm> {
        self.index_of(id).map(|i| &mut self.vms[i])
    }

    /// The ground truth recorded so far (completed minutes).
    pub fn truth(&self) -> &super::truth::Truth {
        self.truth.truth()
    }

    /// Which address families the group's networks give a server: (IPv6, IPv4).
    pub fn families(&self) -> (bool, bool) {
        self.p.families
    }

    /// The flavor size: (vCPUs, RAM GiB).
    pub fn flavor(&self) -> (u32, f64) {
        (self.p.vcpus, self.p.ram_gib)
    }

    /// Advances the world by `dt` seconds.
    pub fn step(&mut self, dt: f64) {
        self.now += dt;
        let now = self.now;
        self.apply_faults();
        self.advance_lifecycles();
        self.offered = self.load.advance(now, dt, &mut self.rng);
        self.serve(dt);
        self.lb.record(self.offered, &self.vms, now, dt);
        self.truth
            .record_step(now, dt, self.offered, &mut self.vms, &self.network, &self.p.spec);
        for h in &mut self.hosts {
            h.steal_integral += h.steal * dt;
        }
        self.update_host_faults();
    }

    /// Splits the offered load over the pool and runs every instance's queue for `dt`.
    fn serve(&mut self, dt: f64) {
        let now = self.now;
        let total_weight: f64 = self
            .vms
            .iter()
            .filter(|v| v.in_rotation())
            .map(|v| v.member.unwrap_or(0) as f64)
            .sum();
        let spec = &self.p.spec;
        let qlimit = spec.queue_limit.secs();
        let pause = spec.timings.migrate_pause.secs();
        for vm in &mut self.vms {
            let host = &mut self.hosts[vm.host];
            vm.lambda = match vm.member {
                Some(w) if w > 0 && total_weight > 0.0 => self.offered * w as f64 / total_weight,
                _ => 0.0,
            };
            let mut mu = vm.mu_base * host.degradation * vm.slow.map_or(1.0, |s| s.1.at(now));
            if let Op::Migrate { .. } = vm.op
                && vm.op_until - now < dt
            {
                // The final switch-over pause of a live migration: nothing is served meanwhile.
                mu *= (1.0 - pause / dt).max(0.0);
            }
            vm.mu = mu;
            vm.dropped = 0.0;
            match vm.answer(now) {
                Answer::Serves if mu > 0.0 => {
                    let qmax = mu * qlimit;
                    vm.queue += (vm.lambda - mu) * dt;
                    if vm.queue > qmax {
                        vm.dropped = (vm.queue - qmax) / dt;
                        vm.queue = qmax;
                    }
                    vm.queue = vm.queue.max(0.0);
                    vm.util = (vm.lambda / mu)
                        .min(1.0)
                        .max(if vm.queue > 0.0 { 1.0 } else { 0.0 });
                }
                Answer::Serves => {
                    vm.dropped = vm.lambda;
                    vm.util = 1.0;
                }
                Answer::Refuses | Answer::Silent => {
                    vm.queue = 0.0;
                    // A hung process often spins; a dead one is idle.
                    vm.util = if vm.hung.is_some() && vm.is_up(now) {
                        1.0
                    } else {
                        0.0
                    };
                }
            }
            vm.cpu_seconds += vm.util * dt;
            host.busy_integral += vm.util * self.p.vcpus as f64 * dt;
        }
    }

    /// The latency distribution of a served request on `vm` right now: (shift, exponential rate).
    pub fn latency_params(&self, vm: &Vm) -> (f64, f64) {
        let spec = &self.p.spec;
        latency_params(vm, spec.service_floor.secs())
    }

    pub(super) fn next_name(&mut self) -> String {
        format!("{}-{:04}", self.p.prefix, self.seq + 1)
    }
}

/// (shift, rate) of a served request's time on `vm`: `floor + backlog/μ + Exp(μ(1−ρ))`, with the
/// rate kept above 5 % of μ because near saturation the backlog term takes over.
pub(super) fn latency_params(vm: &Vm, floor: f64) -> (f64, f64) {
    if vm.mu <= 0.0 {
        return (floor, 1.0);
    }
    let rho = vm.lambda / vm.mu;
    (floor + vm.queue / vm.mu, vm.mu * (1.0 - rho).max(0.05))
}
