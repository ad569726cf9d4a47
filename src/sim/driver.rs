//! `SimCloud`: the simulated world behind the same capability traits as the real cloud
//! ([`Inventory`], [`TelemetrySource`], [`LoadSource`], [`ProbeSource`], [`Compute`] and
//! [`Traffic`]), so the one observe stage and the real reconcile loop run against it unchanged.
//!
//! Stepping the world to a time also runs the probes the policy defines — each series at its
//! interval with its own random phase and ±5 % jitter, so probes never fire in lockstep — into
//! the shared [`ProbeStore`], and samples Ceilometer-like telemetry at each metric's granularity
//! (the mean over the last period, stamped at the period's end; missing during a telemetry
//! blackout). The trait methods complete immediately. No real IO, no clock.

use super::{
    lb_stats::OctaviaStats,
    probe::Target,
    rng::Rng,
    scenario::Scenario,
    telemetry::Telemetry,
    world::{Op, World},
};
use crate::{
    act::{ActError, Compute, ServerAction, ServerRequest, Traffic},
    decision::ActionKind,
    observe::{
        Collector, Inventory, Listing, LoadSource, NoProbes, ObserveError, ProbeSource, TelemetrySource,
        load::{LoadDerivation, source_of},
        store::{ProbeStore, SeriesId},
    },
    policy::Policy,
    snapshot::{
        Hosts, InFlight, Instance, InstanceSeries, InstanceStatus, IpFamily, LbMember, LoadSignal, SeriesKey,
        ServiceSeries, Snapshot, TelemetryReadings, Time,
    },
};
use std::{
    collections::BTreeMap,
    future::{Future, ready},
};

/// One scheduled probe series.
#[derive(Debug, Clone)]
struct Schedule {
    series: SeriesId,
    loc: usize,
    family: IpFamily,
    interval: f64,
    timeout: f64,
    next: Time,
}

/// A per-instance probe as the policy defines it.
#[derive(Debug, Clone)]
struct InstanceProbe {
    name: String,
    interval: f64,
    timeout: f64,
    paths: Vec<(String, usize, IpFamily)>,
}

/// The simulated cloud.
#[derive(Debug, Clone)]
pub struct SimCloud {
    world: World,
    store: ProbeStore,
    rng: Rng,
    dt: f64,
    service: Vec<Schedule>,
    per_instance: Vec<InstanceProbe>,
    instance_sched: Vec<(String, Schedule)>,
    known_vms: (usize, u64),
    locations: Vec<(String, Option<usize>)>,
    last_seen: Vec<Option<Time>>,
    telemetry: Telemetry,
    collector: Collector,
    /// Whether a run loop walks the world's own time (else it ticks on the wall clock).
    walks: bool,
    /// What reached this cloud, per server, as Nova's `os-instance-actions` records it (the
    /// newest [`ACTION_MEMORY`]).
    actions: std::collections::VecDeque<(String, ServerAction)>,
    /// The balancer's statistics as Octavia's API answers them, when the policy reads them.
    octavia: Option<OctaviaStats>,
    /// The same counter-to-rate derivation a real cloud's load goes through.
    load: LoadDerivation,
    /// The policy's load source, once `auto` is resolved.
    load_source: Option<crate::snapshot::LoadSource>,
}

/// How many server actions the simulated cloud remembers.
const ACTION_MEMORY: usize = 4096;

impl SimCloud {
    /// A simulated cloud for `scenario`, observed and acted on as `policy` says, seeded by `seed`.
    pub fn new(scenario: &Scenario, policy: &Policy, seed: u64) -> Self {
        let world = World::new(scenario, policy, seed);
        let mut rng = Rng::stream(seed, 2);
        let net = world.network();
        let mut locations: Vec<(String, Option<usize>)> = Vec::new();
        let mut service = Vec::new();
        let mut per_instance = Vec::new();
        for p in &policy.spec.probes {
            let (interval, timeout) = (p.interval.secs(), p.timeout.secs());
            let mut paths = Vec::new();
            for loc in &p.locations {
                if !locations.iter().any(|(n, _)| n == loc) {
                    locations.push((loc.clone(), net.index(loc)));
                }
                let Some(l) = net.index(loc) else { continue };
                for &family in IpFamily::expand(p.family) {
                    paths.push((loc.clone(), l, family));
                }
            }
            if p.per_instance {
                per_instance.push(InstanceProbe {
                    name: p.name.clone(),
                    interval,
                    timeout,
                    paths,
                });
                continue;
            }
            for (loc, l, family) in paths {
                let key = SeriesKey {
                    probe: p.name.as_str().into(),
                    location: loc.as_str().into(),
                    family,
                };
                let next = world.now() + rng.uniform() * interval;
                service.push(Schedule {
                    series: SeriesId::Service(key),
                    loc: l,
                    family,
                    interval,
                    timeout,
                    next,
                });
            }
        }
        let signals = &scenario.world.signals;
        let telemetry = Telemetry::new(policy, world.now(), signals);
        let octavia =
            source_of(policy).map(|_| OctaviaStats::new(signals.octavia_stats_interval.secs(), world.now()));
        let mut cloud = Self {
            store: ProbeStore::for_policy(policy),
            dt: scenario.resolution.secs(),
            last_seen: vec![None; locations.len()],
            locations,
            service,
            per_instance,
            instance_sched: Vec::new(),
            known_vms: (usize::MAX, 0),
            telemetry,
            collector: Collector::new(policy),
            walks: true,
            actions: std::collections::VecDeque::new(),
            octavia,
            load: LoadDerivation::new(policy),
            load_source: source_of(policy),
            rng,
            world,
        };
        cloud.sync_instances();
        cloud
    }

    /// Puts the world on the wall clock for a run loop: it ticks at `now` like a real cloud, and
    /// each observation steps the world up to it (the ingest benches).
    pub fn on_wall_clock(mut self) -> Self {
        self.walks = false;
        self
    }

    /// Whether a run loop walks the world's own time (`sloop run --cloud sim`).
    pub fn walks_own_time(&self) -> bool {
        self.walks
    }

    /// The world (read-only: change it through the traits).
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The world, for tests that poke at it directly.
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// The ground truth recorded so far (completed minutes).
    pub fn truth(&self) -> &super::truth::Truth {
        self.world.truth()
    }

    /// The faults injected so far.
    pub fn faults(&self) -> &[super::faults::InjectedFault] {
        self.world.faults()
    }

    /// The current simulated time.
    pub fn now(&self) -> Time {
        self.world.now()
    }

    /// The probe store.
    pub fn store(&self) -> &ProbeStore {
        &self.store
    }

    /// Steps the world (and probes and telemetry) until its time reaches `t`.
    pub fn advance_to(&mut self, t: Time) {
        while self.world.now() + self.dt * 0.5 <= t {
            self.world.step(self.dt);
            self.sync_instances();
            self.run_probes();
            self.telemetry.sample(&self.world, &mut self.rng);
            if let Some(o) = &mut self.octavia {
                o.sample(self.world.lb_counters(), self.world.now());
            }
        }
    }

    /// The snapshot at the world's current time (after stepping to `now` if it lies ahead),
    /// through the one observe stage.
    pub fn snapshot(&mut self, now: Time) -> Snapshot {
        let collector = self.collector.clone();
        super::rehearse::run_ready(collector.collect(self, &NoProbes, now))
            .unwrap_or_else(|e| unreachable!("the simulated inventory never fails: {e}"))
    }

    fn inventory(&self) -> Vec<Instance> {
        let now = self.world.now();
        let (v6, v4) = self.world.families();
        self.world
            .vms()
            .iter()
            .map(|vm| {
                let mut addresses = Vec::new();
                if v6 {
                    addresses.push((IpFamily::V6, format!("2001:db8:5100::{:x}", vm.seq)));
                }
                if v4 {
                    addresses.push((IpFamily::V4, format!("10.20.{}.{}", vm.seq / 256, vm.seq % 256)));
                }
                Instance {
                    id: vm.id.clone(),
                    name: vm.name.clone(),
                    status: vm.status,
                    host: Some(self.world.hosts()[vm.host].name.clone()),
                    addresses,
                    created_at: vm.created_at,
                    active_since: vm.active_since,
                    member: vm.member.map(|weight| LbMember {
                        weight,
                        admin_up: true,
                        online: vm.answer(now) == super::world::Answer::Serves,
                        error: false,
                    }),
                    created_by: vm.metadata.get("sloop.action").cloned(),
                    stamps: crate::act::stamp::read(&vm.metadata),
                    // Nova's message for a server the scheduler found no room for.
                    fault: (vm.status == InstanceStatus::Error && !vm.claimed && vm.active_since.is_none())
                        .then(|| "No valid host was found. There are not enough hosts available.".to_owned()),
                    replaces: vm.metadata.get(crate::act::stamp::REPLACES_KEY).cloned(),
                }
            })
            .collect()
    }

    fn in_flight(&self) -> Vec<InFlight> {
        self.world
            .vms()
            .iter()
            .filter_map(|vm| {
                let kind = match vm.op {
                    Op::Idle => return None,
                    Op::Build { .. } => ActionKind::ScaleOut,
                    Op::Reboot { hard: false, .. } => ActionKind::RebootSoft,
                    Op::Reboot { hard: true, .. } => ActionKind::RebootHard,
                    Op::Rebuild { .. } => ActionKind::Rebuild,
                    Op::Migrate { .. } => ActionKind::Migrate,
                    Op::Delete => ActionKind::ScaleIn,
                };
                let id = match (vm.op, vm.metadata.get("sloop.action")) {
                    (Op::Build { .. }, Some(key)) => key.clone(),
                    _ => format!("{}:{}:{}", kind.label(), vm.id, vm.op_started),
                };
                Some(InFlight {
                    id,
                    kind,
                    instance: Some(vm.id.clone()),
                    started_at: vm.op_started,
                })
            })
            .collect()
    }

    /// Keeps one schedule per (instance, per-instance probe, location, family) in step with the
    /// world's servers.
    fn sync_instances(&mut self) {
        let vms = self.world.vms();
        let signature = (vms.len(), vms.iter().map(|v| v.seq).sum::<u64>());
        if signature == self.known_vms {
            return;
        }
        self.known_vms = signature;
        self.instance_sched
            .retain(|(id, _)| vms.iter().any(|v| &v.id == id));
        let now = self.world.now();
        for vm in vms {
            if self.instance_sched.iter().any(|(id, _)| id == &vm.id) {
                continue;
            }
            for p in &self.per_instance {
                for (loc, l, family) in &p.paths {
                    let key = SeriesKey {
                        probe: p.name.as_str().into(),
                        location: loc.as_str().into(),
                        family: *family,
                    };
                    let next = now + self.rng.uniform() * p.interval;
                    let sched = Schedule {
                        series: SeriesId::Instance(vm.id.clone(), key),
                        loc: *l,
                        family: *family,
                        interval: p.interval,
                        timeout: p.timeout,
                        next,
                    };
                    self.instance_sched.push((vm.id.clone(), sched));
                }
            }
        }
        self.store.retain_instances(|id| vms.iter().any(|v| v.id == id));
    }

    fn run_probes(&mut self) {
        let now = self.world.now();
        let all = self
            .service
            .iter_mut()
            .chain(self.instance_sched.iter_mut().map(|(_, s)| s));
        for s in all {
            if s.next > now {
                continue;
            }
            let target = match &s.series {
                SeriesId::Service(_) => Target::Service,
                SeriesId::Instance(id, _) => Target::Instance(id),
            };
            if let Some(mut sample) = self
                .world
                .probe(target, s.loc, s.family, s.timeout, &mut self.rng)
            {
                sample.at = s.next;
                self.store.record(&s.series, sample);
                if let Some(i) = self.locations.iter().position(|(_, l)| *l == Some(s.loc)) {
                    self.last_seen[i] = Some(now);
                }
            }
            s.next = (s.next + s.interval * self.rng.range(0.95, 1.05)).max(now);
        }
    }
}

// === impl Inventory, TelemetrySource, LoadSource, ProbeSource ===

impl Inventory for SimCloud {
    /// Steps the world to `now` first; the listing describes the world's own time.
    fn list(&mut self, now: Time) -> impl Future<Output = Result<Listing, ObserveError>> + Send {
        self.advance_to(now);
        ready(Ok(Listing {
            at: self.world.now(),
            instances: self.inventory(),
            in_flight: self.in_flight(),
            vcpus: BTreeMap::new(),
            // Members live and die with their servers in the simulated pool.
            orphan_members: Vec::new(),
        }))
    }

    fn hosts(&mut self, _now: Time) -> impl Future<Output = Hosts> + Send {
        ready(super::listing::hypervisors(&self.world))
    }
}

impl TelemetrySource for SimCloud {
    /// Each metric's latest period mean; a blackout is a source error, never zero.
    fn readings(&mut self, _: &Listing, _now: Time) -> impl Future<Output = TelemetryReadings> + Send {
        let mut telemetry = self.telemetry.readings().clone();
        if self.world.telemetry_blackout() {
            telemetry.source_error = Some("telemetry backend unavailable (simulated blackout)".into());
        }
        ready(telemetry)
    }
}

/// What a load balancer's statistics say, through the same derivation as a real cloud's: the
/// world's true load never reaches the snapshot.
/// The balancer's counters as a real one reports them. A policy reading its request rate from
/// Prometheus gets the same counters, as a Prometheus scraping the balancer would see them.
impl LoadSource for SimCloud {
    fn load(&mut self, now: Time) -> impl Future<Output = Option<LoadSignal>> + Send {
        let stats = self.octavia.as_ref().map(OctaviaStats::read);
        let signal = stats.and_then(|stats| self.load.octavia(Some(stats), now));
        ready(signal.map(|mut s| {
            s.source = self.load_source.unwrap_or(s.source);
            s
        }))
    }
}

/// The simulated probe locations are part of the world: each speaks when one of its probes
/// draws a sample (a silent agent draws none).
impl ProbeSource for SimCloud {
    fn summaries(
        &self,
        latency_windows: &[f64],
        count_windows: &[f64],
        now: Time,
    ) -> (Vec<ServiceSeries>, Vec<InstanceSeries>) {
        self.store.summaries(now, latency_windows, count_windows)
    }

    fn heartbeat(&self, location: &str, _now: Time) -> Option<Time> {
        let i = self.locations.iter().position(|(name, _)| name == location)?;
        self.last_seen[i]
    }

    fn evidence_since(&self, t: Time) -> bool {
        self.store.streak_reached_since(t)
    }
}

// === impl Compute, Traffic ===

impl SimCloud {
    /// Remembers an accepted call as Nova would list it.
    fn recorded<T>(&mut self, id: &str, action: &str, r: Result<T, ActError>) -> Result<T, ActError> {
        if r.is_ok() {
            if self.actions.len() == ACTION_MEMORY {
                self.actions.pop_front();
            }
            let n = self.actions.len();
            self.actions.push_back((
                id.to_owned(),
                ServerAction {
                    action: action.to_owned(),
                    started: self.world.now(),
                    request_id: Some(format!("req-sim-{n}")),
                },
            ));
        }
        r
    }
}

impl Compute for SimCloud {
    fn create_server(
        &mut self,
        req: &ServerRequest,
    ) -> impl Future<Output = Result<String, ActError>> + Send {
        let mut metadata = req.template.metadata.clone();
        metadata.extend(req.metadata.iter().map(|(k, v)| (k.clone(), v.clone())));
        let r = self.world.create_server(req.name.clone(), metadata);
        if let Ok(id) = &r {
            let id = id.clone();
            let _ = self.recorded(&id, "create", Ok(()));
        }
        ready(r)
    }

    fn delete_server(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        let r = self.world.delete_server(id);
        ready(self.recorded(id, "delete", r))
    }

    fn reboot_server(&mut self, id: &str, hard: bool) -> impl Future<Output = Result<(), ActError>> + Send {
        let r = self.world.reboot_server(id, hard);
        ready(self.recorded(id, crate::act::NOVA_REBOOT, r))
    }

    fn rebuild_server(
        &mut self,
        id: &str,
        _image: &str,
    ) -> impl Future<Output = Result<(), ActError>> + Send {
        let r = self.world.rebuild_server(id);
        ready(self.recorded(id, crate::act::NOVA_REBUILD, r))
    }

    fn live_migrate(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        let r = self.world.live_migrate(id);
        ready(self.recorded(id, crate::act::NOVA_LIVE_MIGRATION, r))
    }

    fn stamp_server(
        &mut self,
        id: &str,
        metadata: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), ActError>> + Send {
        ready(self.world.stamp_server(id, metadata))
    }

    fn server_actions(
        &mut self,
        id: &str,
        since: Time,
    ) -> impl Future<Output = Result<Vec<ServerAction>, ActError>> + Send {
        let found = self
            .actions
            .iter()
            .filter(|(server, a)| server == id && a.started >= since)
            .map(|(_, a)| a.clone())
            .collect();
        ready(Ok(found))
    }
}

impl Traffic for SimCloud {
    fn set_member_weight(
        &mut self,
        id: &str,
        weight: u16,
    ) -> impl Future<Output = Result<(), ActError>> + Send {
        ready(self.world.set_member_weight(id, weight))
    }

    fn remove_member(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        ready(self.world.remove_member(id))
    }
}
