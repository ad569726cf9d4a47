//! Fault injection: the scenario's faults start and end at their times, and each one that
//! started is recorded as an [`InjectedFault`] (target, start, when it stopped affecting the
//! service and what ended it), so the report can compute time to detect and to mitigate. Pure.
//!
//! Targets are resolved when a fault starts. An instance `Index(n)` is the n-th *serving*
//! instance in creation order (wrapping around), `busiest` the serving instance with the most
//! traffic, `random` a draw from the scenario seed; hosts likewise (`hv-01` is index 0,
//! `busiest` = most serving instances of the group).

use super::{
    rng::Rng,
    scenario::{CrashMode, Fault, FaultSpec, HostPick, InstancePick, PickRule},
    world::{VmFault, World},
};
use crate::snapshot::{InstanceId, InstanceStatus, IpFamily, Time};
use serde::Serialize;

/// A fault that started, with its target and outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InjectedFault {
    /// Position in the scenario's `faults` list.
    pub index: usize,
    /// Kind, as in the scenario (`instance-crash`, …).
    pub kind: &'static str,
    /// When it started.
    pub start: Time,
    /// When its `duration` ends it, if it has one.
    pub scheduled_end: Option<Time>,
    /// When it stopped affecting the service: its end, a remedy that cleared it, or (host
    /// faults) the moment no instance of the group was left on the host.
    pub resolved_at: Option<Time>,
    /// What ended it: `duration`, `reboot-soft`, `reboot-hard`, `rebuild`, `delete`, `moved`.
    pub resolved_by: Option<String>,
    /// The instance hit (instance faults).
    pub instance: Option<InstanceId>,
    /// The hypervisor hit (host faults).
    pub host: Option<String>,
    /// The location hit (network and agent faults).
    pub location: Option<String>,
    /// The family hit, when only one is.
    pub family: Option<IpFamily>,
    /// Instances affected when it started (the instance, or those on the host).
    pub instances: Vec<InstanceId>,
}

/// Schedule and effects of the scenario's faults.
#[derive(Debug, Clone)]
pub(super) struct FaultState {
    specs: Vec<FaultSpec>,
    /// (time, spec index, is start), sorted by time.
    events: Vec<(Time, usize, bool)>,
    next: usize,
    pub records: Vec<InjectedFault>,
    pub telemetry_blackout: u32,
    pub quota_exhausted: u32,
    pub api_error_rate: f64,
    pub api_latency: f64,
    pub api_rng: Rng,
    pick_rng: Rng,
}

impl FaultState {
    pub fn new(specs: &[FaultSpec], start: Time, seed: u64) -> Self {
        let mut events = Vec::new();
        for (i, f) in specs.iter().enumerate() {
            events.push((start + f.at.secs(), i, true));
            if let Some(d) = f.duration {
                events.push((start + f.at.secs() + d.secs(), i, false));
            }
        }
        // Stable order: by time, then ends before starts, then by index.
        events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.cmp(&b.2)).then(a.1.cmp(&b.1)));
        Self {
            specs: specs.to_vec(),
            events,
            next: 0,
            records: Vec::new(),
            telemetry_blackout: 0,
            quota_exhausted: 0,
            api_error_rate: 0.0,
            api_latency: 0.0,
            api_rng: Rng::stream(seed, 3),
            pick_rng: Rng::stream(seed, 4),
        }
    }

    fn record(&mut self, spec: usize) -> Option<&mut InjectedFault> {
        self.records.iter_mut().find(|r| r.index == spec)
    }
}

impl World {
    /// Faults injected so far.
    pub fn faults(&self) -> &[InjectedFault] {
        &self.faults.records
    }

    /// Starts and ends the faults whose time has come.
    pub(super) fn apply_faults(&mut self) {
        while let Some(&(t, i, start)) = self.faults.events.get(self.faults.next) {
            if t > self.now {
                break;
            }
            self.faults.next += 1;
            if start {
                self.start_fault(i);
            } else {
                self.end_fault(i);
            }
        }
    }

    fn start_fault(&mut self, i: usize) {
        let spec = self.faults.specs[i].clone();
        let mut rec = InjectedFault {
            index: i,
            kind: spec.fault.label(),
            start: self.now,
            scheduled_end: spec.duration.map(|d| self.now + d.secs()),
            resolved_at: None,
            resolved_by: None,
            instance: None,
            host: None,
            location: None,
            family: None,
            instances: Vec::new(),
        };
        let marker = VmFault {
            fault: i,
            persistent: false,
        };
        match &spec.fault {
            Fault::InstanceCrash {
                instance,
                mode,
                persistent,
            } => {
                if let Some(v) = self.pick_instance(instance) {
                    let vm = &mut self.vms[v];
                    vm.crashed = Some(VmFault {
                        persistent: *persistent,
                        ..marker
                    });
                    match mode {
                        CrashMode::Process => {}
                        CrashMode::Shutoff | CrashMode::Error => {
                            vm.status = if *mode == CrashMode::Shutoff {
                                InstanceStatus::Shutoff
                            } else {
                                InstanceStatus::Error
                            };
                            vm.serving_at = f64::INFINITY;
                            // A powered-off VM cannot finish a live migration: drop its claim.
                            if let super::world::Op::Migrate { to, .. } = vm.op {
                                vm.op = super::world::Op::Idle;
                                self.release(to, 1.0);
                            }
                        }
                    }
                    let vm = &self.vms[v];
                    rec.instance = Some(vm.id.clone());
                }
            }
            Fault::InstanceHang { instance, persistent } => {
                if let Some(v) = self.pick_instance(instance) {
                    self.vms[v].hung = Some(VmFault {
                        persistent: *persistent,
                        ..marker
                    });
                    rec.instance = Some(self.vms[v].id.clone());
                }
            }
            Fault::InstanceSlow {
                instance,
                factor,
                persistent,
                ramp,
            } => {
                if let Some(v) = self.pick_instance(instance) {
                    self.vms[v].slow = Some((
                        VmFault {
                            persistent: *persistent,
                            ..marker
                        },
                        super::world::Slowdown {
                            factor: *factor,
                            from: self.now,
                            ramp: ramp.map_or(0.0, |r| r.secs()),
                        },
                    ));
                    rec.instance = Some(self.vms[v].id.clone());
                }
            }
            Fault::HostDegraded { host, factor, steal } => {
                let h = self.pick_host(host);
                self.hosts[h].degradation = *factor;
                self.hosts[h].steal = *steal;
                rec.host = Some(self.hosts[h].name.clone());
            }
            Fault::HostDown { host } => {
                let h = self.pick_host(host);
                self.hosts[h].down = true;
                rec.host = Some(self.hosts[h].name.clone());
                for vm in self
                    .vms
                    .iter_mut()
                    .filter(|v| v.host == h && v.status != InstanceStatus::Deleting)
                {
                    vm.status = InstanceStatus::Error;
                    vm.serving_at = f64::INFINITY;
                    vm.op = super::world::Op::Idle;
                }
            }
            Fault::NetworkDegraded {
                location,
                family,
                delay,
                loss,
            } => {
                if let Some(l) = self.network.index(location) {
                    self.network
                        .degrade(l, one_family(*family), delay.secs(), loss.fraction(), true);
                }
                rec.location = Some(location.clone());
                rec.family = one_family(*family);
            }
            Fault::AgentSilent { location } => {
                if let Some(l) = self.network.index(location) {
                    self.network.set_silent(l, true);
                }
                rec.location = Some(location.clone());
            }
            Fault::ApiBrownout { error_rate, latency } => {
                self.faults.api_error_rate = (self.faults.api_error_rate + error_rate.fraction()).min(1.0);
                self.faults.api_latency += latency.secs();
            }
            Fault::QuotaExhausted => self.faults.quota_exhausted += 1,
            Fault::TelemetryBlackout => self.faults.telemetry_blackout += 1,
        }
        if let Some(h) = &rec.host {
            rec.instances = self
                .vms
                .iter()
                .filter(|v| &self.hosts[v.host].name == h)
                .map(|v| v.id.clone())
                .collect();
        } else if let Some(id) = &rec.instance {
            rec.instances = vec![id.clone()];
        }
        self.faults.records.push(rec);
    }

    fn end_fault(&mut self, i: usize) {
        let spec = self.faults.specs[i].clone();
        let Some(rec) = self.faults.records.iter().find(|r| r.index == i).cloned() else {
            return;
        };
        match &spec.fault {
            Fault::InstanceCrash { .. } | Fault::InstanceHang { .. } | Fault::InstanceSlow { .. } => {
                if let Some(id) = &rec.instance {
                    self.clear_fault_marks(id, |f| f.fault == i);
                }
            }
            Fault::HostDegraded { .. } | Fault::HostDown { .. } => {
                if let Some(h) = self.hosts.iter_mut().find(|h| Some(&h.name) == rec.host.as_ref()) {
                    h.degradation = 1.0;
                    h.steal = h.base_steal;
                    h.down = false;
                }
            }
            Fault::NetworkDegraded {
                location,
                family,
                delay,
                loss,
            } => {
                if let Some(l) = self.network.index(location) {
                    self.network
                        .degrade(l, one_family(*family), delay.secs(), loss.fraction(), false);
                }
            }
            Fault::AgentSilent { location } => {
                if let Some(l) = self.network.index(location) {
                    self.network.set_silent(l, false);
                }
            }
            Fault::ApiBrownout { error_rate, latency } => {
                self.faults.api_error_rate = (self.faults.api_error_rate - error_rate.fraction()).max(0.0);
                self.faults.api_latency = (self.faults.api_latency - latency.secs()).max(0.0);
            }
            Fault::QuotaExhausted => {
                self.faults.quota_exhausted = self.faults.quota_exhausted.saturating_sub(1)
            }
            Fault::TelemetryBlackout => {
                self.faults.telemetry_blackout = self.faults.telemetry_blackout.saturating_sub(1)
            }
        }
        self.resolve(i, "duration");
    }

    /// Clears an instance's crash, hang and slow faults: all of them (`all`: rebuild, delete),
    /// or only the non-persistent ones (reboots).
    pub(super) fn clear_instance_faults(&mut self, id: &str, all: bool, by: &str) {
        let cleared = self.clear_fault_marks(id, |f| all || !f.persistent);
        for i in cleared {
            self.resolve(i, by);
        }
    }

    /// Removes the fault marks of `id` that match; returns their fault indices.
    fn clear_fault_marks(&mut self, id: &str, matches: impl Fn(&VmFault) -> bool) -> Vec<usize> {
        let mut out = Vec::new();
        if let Some(vm) = self.vm_mut(id) {
            if let Some(f) = vm.crashed.filter(|f| matches(f)) {
                vm.crashed = None;
                out.push(f.fault);
            }
            if let Some(f) = vm.hung.filter(|f| matches(f)) {
                vm.hung = None;
                out.push(f.fault);
            }
            if let Some((f, _)) = vm.slow.filter(|(f, _)| matches(f)) {
                vm.slow = None;
                out.push(f.fault);
            }
        }
        out
    }

    fn resolve(&mut self, i: usize, by: &str) {
        let now = self.now;
        if let Some(rec) = self.faults.record(i)
            && rec.resolved_at.is_none()
        {
            rec.resolved_at = Some(now);
            rec.resolved_by = Some(by.to_owned());
        }
    }

    /// Resolves host faults once no instance of the group is left on the host.
    pub(super) fn update_host_faults(&mut self) {
        let now = self.now;
        let hosts = &self.hosts;
        let vms = &self.vms;
        for rec in self.faults.records.iter_mut().filter(|r| r.resolved_at.is_none()) {
            let Some(h) = &rec.host else { continue };
            let occupied = vms
                .iter()
                .any(|v| &hosts[v.host].name == h && v.status != InstanceStatus::Deleting);
            if !occupied {
                rec.resolved_at = Some(now);
                rec.resolved_by = Some("moved".into());
            }
        }
    }

    fn pick_instance(&mut self, pick: &InstancePick) -> Option<usize> {
        let now = self.now;
        let serving: Vec<usize> = (0..self.vms.len()).filter(|&i| self.vms[i].is_up(now)).collect();
        if serving.is_empty() {
            return None;
        }
        Some(match pick {
            InstancePick::Index(n) => serving[*n as usize % serving.len()],
            InstancePick::Rule(PickRule::Busiest) => *serving
                .iter()
                .max_by(|&&a, &&b| self.vms[a].lambda.total_cmp(&self.vms[b].lambda).then(b.cmp(&a)))?,
            InstancePick::Rule(PickRule::Random) => serving[self.faults.pick_rng.below(serving.len())],
        })
    }

    fn pick_host(&mut self, pick: &HostPick) -> usize {
        let n = self.hosts.len();
        match pick {
            HostPick::Index(i) => *i as usize % n,
            HostPick::Rule(PickRule::Busiest) => {
                let now = self.now;
                let count = |h: usize| self.vms.iter().filter(|v| v.host == h && v.is_up(now)).count();
                (0..n)
                    .max_by(|&a, &b| count(a).cmp(&count(b)).then(b.cmp(&a)))
                    .unwrap_or(0)
            }
            HostPick::Rule(PickRule::Random) => self.faults.pick_rng.below(n),
        }
    }
}

/// The single family a fault is limited to, if any.
fn one_family(f: crate::policy::Family) -> Option<IpFamily> {
    match f {
        crate::policy::Family::V6 => Some(IpFamily::V6),
        crate::policy::Family::V4 => Some(IpFamily::V4),
        crate::policy::Family::Both => None,
    }
}
