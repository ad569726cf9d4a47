//! Nova and Octavia as the world sees them: placement, the server lifecycle
//! (BUILD → ACTIVE → serving, reboot, rebuild, live migration, delete), action failures, and
//! pool membership. Pure: every duration and failure is drawn from the world's seeded generator.

use super::world::{Op, Vm, World};
use crate::{
    act::ActError,
    policy::AffinityPolicy,
    snapshot::{InstanceId, InstanceStatus},
};
use std::collections::BTreeMap;

impl World {
    /// Accepts a create request: places the server and starts building it. A request the
    /// scheduler cannot place still returns an ID, and the server goes to ERROR (as Nova does).
    pub fn create_server(
        &mut self,
        name: String,
        metadata: BTreeMap<String, String>,
    ) -> Result<InstanceId, ActError> {
        self.api_call()?;
        if self.faults.quota_exhausted > 0 {
            // Nova's wording, with the numbers an operator needs.
            let used = self
                .vms
                .iter()
                .filter(|v| v.status != InstanceStatus::Deleting)
                .count();
            return Err(ActError::Quota(format!(
                "Quota exceeded for instances: Requested 1, but already used {used} of {used} instances"
            )));
        }
        let delay = self.api_delay();
        self.place(name, metadata, Some(delay))
    }

    /// Creates a server record on the best host (or in ERROR when nothing fits). With `delay`
    /// set, the build starts after that API delay; without it the caller sets the state.
    pub(super) fn place(
        &mut self,
        name: String,
        metadata: BTreeMap<String, String>,
        delay: Option<f64>,
    ) -> Result<InstanceId, ActError> {
        self.seq += 1;
        let seq = self.seq;
        let id = format!("sim-{seq:05}");
        let host = self.schedule(None);
        let t = &self.p.spec.timings;
        let build = self.rng.lognormal(t.build.secs(), t.sigma);
        let fail = self.rng.bernoulli(self.p.spec.failures.create);
        let spread = self.p.spec.throughput_spread;
        let mu_base = self.p.spec.throughput * self.rng.normal(1.0, spread).clamp(0.5, 1.5);
        let now = self.now;
        let (status, op, until) = match host {
            Some(_) => (
                InstanceStatus::Building,
                Op::Build { fail },
                now + delay.unwrap_or(0.0) + build,
            ),
            None => (InstanceStatus::Error, Op::Idle, now),
        };
        let host = host.unwrap_or(0);
        if status == InstanceStatus::Building {
            self.claim(host, 1.0);
        }
        self.vms.push(Vm {
            id: id.clone(),
            name,
            seq,
            host,
            status,
            op,
            op_started: now,
            op_until: until,
            serving_at: f64::INFINITY,
            created_at: now,
            active_since: None,
            metadata,
            member: None,
            mu_base,
            crashed: None,
            hung: None,
            slow: None,
            lambda: 0.0,
            mu: 0.0,
            queue: 0.0,
            dropped: 0.0,
            util: 0.0,
            cpu_seconds: 0.0,
            minute: [0.0; 3],
            claimed: status == InstanceStatus::Building,
        });
        Ok(id)
    }

    /// Starts deleting a server.
    pub fn delete_server(&mut self, id: &str) -> Result<(), ActError> {
        self.api_call()?;
        let delay = self.api_delay() + self.p.spec.timings.delete.secs();
        let now = self.now;
        let vm = self.vm_mut(id).ok_or_else(|| not_found(id))?;
        if vm.op == Op::Delete {
            return Ok(());
        }
        if let Op::Migrate { to, .. } = vm.op {
            self.release(to, 1.0);
        }
        let vm = self.vm_mut(id).expect("checked");
        vm.status = InstanceStatus::Deleting;
        vm.op = Op::Delete;
        vm.op_started = now;
        vm.op_until = now + delay;
        vm.serving_at = f64::INFINITY;
        self.clear_instance_faults(id, true, "delete");
        Ok(())
    }

    /// Starts a soft or hard reboot. Soft reboots need a running VM; hard ones also start
    /// SHUTOFF and ERROR servers. Clears non-persistent crash, hang and slow faults.
    pub fn reboot_server(&mut self, id: &str, hard: bool) -> Result<(), ActError> {
        self.api_call()?;
        let vm = self.vm(id).ok_or_else(|| not_found(id))?;
        let allowed = match vm.status {
            InstanceStatus::Active => true,
            InstanceStatus::Shutoff | InstanceStatus::Error => hard,
            InstanceStatus::Rebooting => {
                hard && vm.op
                    == (Op::Reboot {
                        hard: false,
                        fail: false,
                    })
            }
            _ => false,
        };
        if !allowed {
            return Err(conflict(
                id,
                vm.status,
                if hard { "reboot --hard" } else { "reboot" },
            ));
        }
        if self.hosts[vm.host].down {
            return Err(ActError::Conflict(format!(
                "compute service of {} is down",
                self.hosts[vm.host].name
            )));
        }
        let t = &self.p.spec.timings;
        let median = if hard {
            t.reboot_hard.secs()
        } else {
            t.reboot_soft.secs()
        };
        let dur = self.api_delay() + self.rng.lognormal(median, t.sigma);
        let fail = self.rng.bernoulli(self.p.spec.failures.reboot);
        self.begin(id, InstanceStatus::Rebooting, Op::Reboot { hard, fail }, dur);
        self.clear_instance_faults(id, false, if hard { "reboot-hard" } else { "reboot-soft" });
        Ok(())
    }

    /// Starts a rebuild from the image (any image: the simulator has one). Clears every fault
    /// of the instance.
    pub fn rebuild_server(&mut self, id: &str) -> Result<(), ActError> {
        self.api_call()?;
        let vm = self.vm(id).ok_or_else(|| not_found(id))?;
        if !matches!(
            vm.status,
            InstanceStatus::Active | InstanceStatus::Shutoff | InstanceStatus::Error
        ) {
            return Err(conflict(id, vm.status, "rebuild"));
        }
        if self.hosts[vm.host].down {
            return Err(ActError::Conflict(format!(
                "compute service of {} is down",
                self.hosts[vm.host].name
            )));
        }
        let t = &self.p.spec.timings;
        let dur = self.api_delay() + self.rng.lognormal(t.rebuild.secs(), t.sigma);
        let fail = self.rng.bernoulli(self.p.spec.failures.rebuild);
        self.begin(id, InstanceStatus::Rebuilding, Op::Rebuild { fail }, dur);
        self.clear_instance_faults(id, true, "rebuild");
        Ok(())
    }

    /// Starts a live migration to the host the scheduler picks. The instance keeps serving,
    /// except for a short pause at the end.
    pub fn live_migrate(&mut self, id: &str) -> Result<(), ActError> {
        self.api_call()?;
        let vm = self.vm(id).ok_or_else(|| not_found(id))?;
        if vm.status != InstanceStatus::Active {
            return Err(conflict(id, vm.status, "os-migrateLive"));
        }
        let from = vm.host;
        let Some(to) = self.schedule(Some(from)) else {
            return Err(ActError::Conflict(
                "No valid host was found for the migration".into(),
            ));
        };
        self.claim(to, 1.0);
        let t = &self.p.spec.timings;
        let dur = self.api_delay() + t.migrate_base.secs() + t.migrate_per_gib.secs() * self.p.ram_gib;
        let fail = self.rng.bernoulli(self.p.spec.failures.migrate);
        let now = self.now;
        let vm = self.vm_mut(id).expect("checked");
        vm.status = InstanceStatus::Migrating;
        vm.op = Op::Migrate { to, fail };
        vm.op_started = now;
        vm.op_until = now + dur;
        Ok(())
    }

    /// Sets an instance's pool-member weight, creating the member when absent (Octavia).
    pub fn set_member_weight(&mut self, id: &str, weight: u16) -> Result<(), ActError> {
        let vm = self.vm_mut(id).ok_or_else(|| not_found(id))?;
        vm.member = Some(weight);
        Ok(())
    }

    /// Removes an instance's pool member (no-op when absent).
    pub fn remove_member(&mut self, id: &str) -> Result<(), ActError> {
        let vm = self.vm_mut(id).ok_or_else(|| not_found(id))?;
        vm.member = None;
        Ok(())
    }

    /// One Nova API call: fails with a transient error at the brownout's rate.
    pub(super) fn api_call(&mut self) -> Result<(), ActError> {
        let rate = self.faults.api_error_rate;
        if rate > 0.0 && self.faults.api_rng.bernoulli(rate) {
            return Err(ActError::Transient("503 Service Unavailable (nova-api)".into()));
        }
        Ok(())
    }

    fn api_delay(&self) -> f64 {
        self.p.spec.api_latency.secs() + self.faults.api_latency
    }

    fn begin(&mut self, id: &str, status: InstanceStatus, op: Op, dur: f64) {
        let now = self.now;
        let vm = self.vm_mut(id).expect("caller checked");
        vm.status = status;
        vm.op = op;
        vm.op_started = now;
        vm.op_until = now + dur;
        vm.serving_at = f64::INFINITY;
        vm.queue = 0.0;
    }

    /// Completes the operations whose time has come.
    pub(super) fn advance_lifecycles(&mut self) {
        let now = self.now;
        let mut gone = false;
        for i in 0..self.vms.len() {
            let vm = &self.vms[i];
            if vm.op == Op::Idle || vm.op_until > now {
                continue;
            }
            let (op, host) = (vm.op, vm.host);
            let boot = {
                let t = &self.p.spec.timings;
                self.rng.lognormal(t.boot_to_serve.secs(), t.sigma)
            };
            let vm = &mut self.vms[i];
            vm.op = Op::Idle;
            match op {
                Op::Build { fail: true } | Op::Reboot { fail: true, .. } | Op::Rebuild { fail: true } => {
                    vm.status = InstanceStatus::Error;
                }
                Op::Build { .. } | Op::Reboot { .. } | Op::Rebuild { .. } => {
                    vm.status = InstanceStatus::Active;
                    vm.active_since = Some(now);
                    vm.serving_at = now + boot;
                }
                Op::Migrate { to, fail } => {
                    vm.status = InstanceStatus::Active;
                    let (from, to) = if fail { (to, host) } else { (host, to) };
                    vm.host = to;
                    self.release(from, 1.0);
                }
                Op::Delete => {
                    if vm.claimed {
                        self.release(host, 1.0);
                    }
                    gone = true;
                }
                Op::Idle => {}
            }
        }
        if gone {
            let truth = &mut self.truth;
            self.vms.retain(|v| {
                let keep = !(v.status == InstanceStatus::Deleting && v.op == Op::Idle);
                if !keep {
                    truth.depart(v);
                }
                keep
            });
        }
    }

    /// The scheduler: hosts that are up and have room, by affinity preference, then the least
    /// loaded, then name. `exclude` is the source host of a migration.
    pub(super) fn schedule(&self, exclude: Option<usize>) -> Option<usize> {
        let (vcpus, ram) = (self.p.vcpus, self.p.ram_gib);
        let members = |h: usize| {
            self.vms
                .iter()
                .filter(|v| v.host == h && v.status != InstanceStatus::Error)
                .count()
        };
        let candidates = self.hosts.iter().enumerate().filter(|(i, h)| {
            Some(*i) != exclude
                && !h.down
                && h.used_vcpus + vcpus <= h.vcpus
                && h.used_ram_gib + ram <= h.ram_gib + 1e-9
        });
        let key = |(i, h): &(usize, &super::world::Host)| {
            let m = members(*i) as i64;
            let affinity = match self.p.affinity {
                AffinityPolicy::AntiAffinity | AffinityPolicy::SoftAntiAffinity => m,
                AffinityPolicy::Affinity | AffinityPolicy::SoftAffinity => -m,
            };
            (affinity, h.used_vcpus, *i)
        };
        let best = candidates.min_by_key(key)?;
        if self.p.affinity == AffinityPolicy::AntiAffinity && members(best.0) > 0 {
            return None;
        }
        Some(best.0)
    }

    fn claim(&mut self, host: usize, n: f64) {
        let h = &mut self.hosts[host];
        h.used_vcpus += (self.p.vcpus as f64 * n) as u32;
        h.used_ram_gib += self.p.ram_gib * n;
    }

    pub(super) fn release(&mut self, host: usize, n: f64) {
        let h = &mut self.hosts[host];
        h.used_vcpus = h.used_vcpus.saturating_sub((self.p.vcpus as f64 * n) as u32);
        h.used_ram_gib = (h.used_ram_gib - self.p.ram_gib * n).max(0.0);
    }
}

impl World {
    /// Merges `metadata` into the server's (Nova `POST /servers/{id}/metadata`). As Nova, only
    /// for a server that is ACTIVE or stopped with no task running: a server in ERROR, or
    /// rebooting, migrating, building, is refused with a conflict.
    pub fn stamp_server(&mut self, id: &str, metadata: &BTreeMap<String, String>) -> Result<(), ActError> {
        self.api_call()?;
        let vm = self.vm_mut(id).ok_or_else(|| not_found(id))?;
        let settled =
            matches!(vm.status, InstanceStatus::Active | InstanceStatus::Shutoff) && vm.op == Op::Idle;
        if !settled {
            return Err(conflict(id, vm.status, "update metadata"));
        }
        vm.metadata
            .extend(metadata.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(())
    }
}

fn not_found(id: &str) -> ActError {
    ActError::NotFound(format!("server {id} not found"))
}

fn conflict(id: &str, status: InstanceStatus, action: &str) -> ActError {
    ActError::Conflict(format!(
        "cannot '{action}' server {id} while it is in state {status:?}"
    ))
}
