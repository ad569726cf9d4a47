//! `oracle`: a controller that cannot exist. It reads the scenario's load curve ahead of time
//! and the world's fault state directly (which server crashed, hung or slowed, which host
//! degraded), so it needs no detection. A lower bound on violation minutes for the scenario's
//! boot times, not a peer: the goal compares sloop with the peers, and with the oracle only to
//! show how much room is left.
//!
//! Its rules, each the best available given the simulator's physics (`sim/world.rs`,
//! `sim/lifecycle.rs`, policies/scenarios/README.md), not a published algorithm:
//! - capacity: enough servers for the highest expected load (`LoadModel::expected`, noise
//!   excluded, plus two noise deviations) over the next boot time (`timings.build +
//!   timings.bootToServe` at their 95th percentile) at the policy's target utilisation (60 %
//!   without one); it scales out that far ahead and scales in once the load a boot time plus
//!   10 minutes ahead allows it;
//! - the pool: servers take traffic the moment they serve and lose it the moment a fault hits;
//! - faults: a soft reboot clears a non-persistent crash, hang or slow-down, a replacement a
//!   persistent one; servers on a degraded host are live-migrated, those on a down host
//!   replaced; network faults need no server change.
//!
//! It ticks every 5 s, so it reacts to a fault within 5 s.

use super::{Group, Planner};
use crate::{
    decision::{Action, Cause, Decision, Diagnosis},
    policy::Policy,
    sim::{
        decider::Decider,
        load::LoadModel,
        scenario::Scenario,
        world::{Answer, World},
    },
    snapshot::{InstanceStatus, Snapshot, Time},
};
use std::collections::BTreeSet;

/// Tick, s.
pub const INTERVAL: f64 = 5.0;
/// Extra look-ahead for scale-in, s.
pub const SCALE_IN_MARGIN: f64 = 600.0;

/// What the oracle saw of one server when it peeked.
#[derive(Debug, Clone)]
struct Seen {
    id: String,
    status: InstanceStatus,
    serves: bool,
    in_rotation: bool,
    faulty: Option<bool>,
    host_degraded: bool,
    host_down: bool,
    host: String,
    created_at: Time,
}

/// The oracle.
pub struct Oracle {
    group: Group,
    target: f64,
    planner: Planner,
    load: LoadModel,
    lead: f64,
    noise: f64,
    throughput: f64,
    seen: Vec<Seen>,
    acted: BTreeSet<String>,
}

impl Oracle {
    /// The oracle for `policy` in `scenario`.
    pub fn new(policy: &Policy, scenario: &Scenario) -> Self {
        let t = &scenario.world.timings;
        let lead = (t.build.secs() + t.boot_to_serve.secs()) * (1.645 * t.sigma).exp();
        Self {
            group: Group::of(policy),
            target: policy
                .spec
                .scaling
                .target_utilization
                .map_or(0.6, |p| p.fraction()),
            planner: Planner::new("oracle"),
            load: LoadModel::new(scenario),
            lead,
            noise: scenario.load.noise.as_ref().map_or(0.0, |n| n.sigma),
            throughput: scenario.world.throughput,
            seen: Vec::new(),
            acted: BTreeSet::new(),
        }
    }

    /// Servers needed for the highest expected load in `[now, now + ahead]`.
    fn needed(&self, now: Time, ahead: f64) -> u32 {
        let mut peak: f64 = 0.0;
        let mut s = now;
        while s <= now + ahead {
            peak = peak.max(self.load.expected(s));
            s += 30.0;
        }
        let per = self.throughput * self.target;
        ((peak * (1.0 + 2.0 * self.noise)) / per.max(1e-9)).ceil() as u32
    }
}

impl Decider for Oracle {
    fn name(&self) -> &'static str {
        "oracle"
    }

    fn interval(&self) -> f64 {
        INTERVAL
    }

    fn peek(&mut self, world: &World) {
        let now = world.now();
        if let Some(m) = mean_mu(world) {
            self.throughput = m;
        }
        self.seen = world
            .vms()
            .iter()
            .map(|vm| {
                let fault = vm.crashed.or(vm.hung).or(vm.slow.map(|s| s.0));
                let host = &world.hosts()[vm.host];
                Seen {
                    id: vm.id.clone(),
                    status: vm.status,
                    serves: vm.answer(now) == Answer::Serves && vm.slow.is_none(),
                    in_rotation: vm.in_rotation(),
                    faulty: fault.map(|f| f.persistent),
                    host_degraded: host.degradation < 0.999,
                    host_down: host.down,
                    host: host.name.clone(),
                    created_at: vm.created_at,
                }
            })
            .collect();
    }

    fn decide(&mut self, _snap: &Snapshot, now: Time) -> Decision {
        let mut d = Decision {
            now,
            ..Decision::default()
        };
        let seen = std::mem::take(&mut self.seen);
        let live: Vec<&Seen> = seen
            .iter()
            .filter(|s| s.status != InstanceStatus::Deleting)
            .collect();
        self.acted.retain(|id| {
            live.iter()
                .any(|s| &s.id == id && (s.faulty.is_some() || s.host_degraded || s.host_down))
        });
        let want = self.needed(now, self.lead).clamp(self.group.min, self.group.max);
        let keep = self
            .needed(now, self.lead + SCALE_IN_MARGIN)
            .clamp(self.group.min, self.group.max);
        let max = self.group.max;
        let mut plan = |a: Action, c: Cause, why: &str| self.planner.plan(now, a, c, why.into());
        let mut replaced = 0u32;
        for s in &live {
            let id = s.id.clone();
            let troubled = s.faulty.is_some() || s.host_down;
            if s.in_rotation && (!s.serves || troubled) {
                d.actions.push(plan(
                    Action::Drain { instance: id.clone() },
                    Cause::InstanceFault,
                    "oracle: fault",
                ));
            } else if !s.in_rotation && s.serves && !troubled && s.status == InstanceStatus::Active {
                d.actions.push(plan(
                    Action::Admit { instance: id.clone() },
                    Cause::Serving,
                    "oracle: serves",
                ));
            }
            if self.acted.contains(&id) || s.status != InstanceStatus::Active && !s.host_down {
                continue;
            }
            let action = match (s.faulty, s.host_down, s.host_degraded) {
                (Some(true), _, _) | (_, true, _) => Action::Replace {
                    instance: id.clone(),
                    delete_old: true,
                },
                (Some(false), _, _) => Action::Reboot {
                    instance: id.clone(),
                    hard: false,
                },
                (None, false, true) => Action::Migrate {
                    instance: id.clone(),
                    from_host: s.host.clone(),
                },
                _ => continue,
            };
            if matches!(action, Action::Replace { .. }) {
                replaced += 1;
            }
            self.acted.insert(id.clone());
            d.diagnoses.push(Diagnosis::InstanceFault {
                instance: id.clone(),
                detail: "oracle: knows the fault".into(),
            });
            d.actions
                .push(plan(action, Cause::InstanceFault, "oracle: fault"));
        }
        // Capacity: healthy servers (serving or on their way) against the load a boot ahead.
        let healthy: Vec<&&Seen> = live
            .iter()
            .filter(|s| s.faulty.is_none() && !s.host_down)
            .collect();
        let have = healthy.len() as u32 + replaced;
        if have < want && (live.len() as u32) < max {
            let count = (want - have).min(max - live.len() as u32);
            d.diagnoses.push(Diagnosis::Capacity {
                needed: want,
                serving: have,
                detail: "oracle: expected load".into(),
            });
            d.actions.push(plan(
                Action::ScaleOut { count },
                Cause::Capacity,
                "oracle: load ahead",
            ));
        } else if have > keep {
            let mut order: Vec<&&Seen> = healthy.clone();
            order.sort_by(|a, b| {
                a.serves
                    .cmp(&b.serves)
                    .then(b.created_at.total_cmp(&a.created_at))
            });
            let instances: Vec<String> = order
                .iter()
                .take((have - keep) as usize)
                .map(|s| s.id.clone())
                .collect();
            if !instances.is_empty() {
                d.actions.push(plan(
                    Action::ScaleIn { instances },
                    Cause::OverProvisioned,
                    "oracle: load falls",
                ));
            }
        }
        d
    }
}

/// Mean healthy service rate of the servers that exist.
fn mean_mu(world: &World) -> Option<f64> {
    let v: Vec<f64> = world.vms().iter().map(|vm| vm.mu_base).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}
