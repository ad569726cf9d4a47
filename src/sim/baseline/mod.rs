//! The peers' published algorithms as rehearsal deciders, so sloop can be measured against what
//! users already run, on the same world, load and faults (issue 8).
//!
//! - [`heat_aodh`]: Heat AutoScalingGroup + ScalingPolicy signalled by Aodh threshold alarms on
//!   Ceilometer CPU as Gnocchi serves it, plus Aodh's load-balancer member-health autohealing.
//! - [`senlin`]: Senlin's health policy (node status and URL polling, RECREATE).
//! - [`hpa`]: the Kubernetes horizontal pod autoscaler, with readiness and liveness probes.
//! - [`oracle`]: knows the future load and the faults; a lower bound, not a peer.
//!
//! Each file's header cites the source of every constant it uses. Shared here: the load
//! balancer's health monitor that every peer deployment has in front of its servers (Octavia's
//! health monitor, or Kubernetes readiness), and the plumbing that turns a baseline's choices
//! into [`PlannedAction`]s.
//!
//! The simulated pool has no health monitor of its own (policies/scenarios/README.md: members
//! get traffic whatever their health), so a baseline emulates its deployment's monitor with
//! `admit` and `drain` actions. Those show up as drains in the report; they are the load
//! balancer's doing, and a baseline only *diagnoses* a fault when its controller (Aodh, Senlin,
//! kubelet) decides something is wrong.
//!
//! Pure: no IO, no clock.

pub mod heat_aodh;
pub mod hpa;
pub mod oracle;
pub mod senlin;

use crate::{
    decision::{Action, Cause, Decision, Evidence, PlannedAction},
    policy::{MetricScope, MetricSpec, Policy, Telemetry, TelemetrySource, units::Duration},
    snapshot::{Instance, InstanceStatus, Snapshot, Time},
};
use std::collections::BTreeMap;

/// How long an ACTIVE server that no per-instance probe covers is assumed to need before it
/// answers a health check (only used when the policy has no per-instance probe): the
/// simulator's default median build plus boot-to-serve, rounded up.
const UNPROBED_BOOT_GUESS: f64 = 60.0;

/// Numbers every baseline builds its decisions from.
#[derive(Debug, Clone)]
pub struct Group {
    /// Smallest group size (the ASG's `min_size`, the HPA's `minReplicas`).
    pub min: u32,
    /// Largest group size.
    pub max: u32,
}

impl Group {
    /// The size bounds of `policy`'s group, including its resource-exhaustion guard, which a
    /// real deployment would express as `max_size` or quota.
    pub fn of(policy: &Policy) -> Self {
        let size = &policy.spec.group.size;
        let mut max = size.max;
        if let Some(m) = policy.spec.limits.max_instances {
            max = max.min(m);
        }
        let vcpus = policy.spec.group.template.vcpus.unwrap_or(2).max(1);
        if let Some(v) = policy.spec.limits.max_vcpus {
            max = max.min(v / vcpus);
        }
        Self {
            min: size.min.min(max),
            max,
        }
    }
}

/// The group's servers that are not being deleted, in creation order.
pub fn live(snap: &Snapshot) -> Vec<&Instance> {
    let mut v: Vec<&Instance> = snap
        .inventory
        .iter()
        .filter(|i| i.status != InstanceStatus::Deleting)
        .collect();
    v.sort_by(|a, b| a.created_at.total_cmp(&b.created_at).then(a.id.cmp(&b.id)));
    v
}

/// Whether the load balancer sends the instance traffic.
pub fn in_rotation(i: &Instance) -> bool {
    i.member.as_ref().is_some_and(|m| m.weight > 0 && m.admin_up)
}

/// `policy` with its instance `cpu` metric read at `granularity` (added when missing), for a
/// baseline whose real data source has that resolution. Nothing else changes.
pub fn with_cpu_granularity(policy: &Policy, granularity: f64) -> Policy {
    let mut p = policy.clone();
    let spec = MetricSpec {
        name: "cpu".into(),
        aggregation: Default::default(),
        granularity: Duration::from_secs(granularity),
        scope: MetricScope::Instance,
    };
    match &mut p.spec.telemetry {
        Some(t) => match t.metrics.iter_mut().find(|m| m.name == "cpu") {
            Some(m) => m.granularity = spec.granularity,
            None => t.metrics.push(spec),
        },
        None => {
            p.spec.telemetry = Some(Telemetry {
                source: TelemetrySource::Gnocchi,
                prometheus_url: None,
                metrics: vec![spec],
                max_staleness: Duration::from_secs(granularity * 2.0),
            })
        }
    }
    p
}

/// The latest `cpu` reading (utilisation 0..1) of an instance and when it was measured.
pub fn cpu(snap: &Snapshot, id: &str) -> Option<(f64, Time)> {
    let r = snap.telemetry.instances.get(id)?.get("cpu")?;
    Some((r.value?, r.at?))
}

/// Makes [`PlannedAction`]s with unique idempotency keys. The executor names servers after the
/// key's last `-` segment, so that segment carries the uniqueness.
#[derive(Debug, Clone)]
pub struct Planner {
    name: &'static str,
    seq: u64,
}

impl Planner {
    /// A planner for the decider called `name`.
    pub fn new(name: &'static str) -> Self {
        Self { name, seq: 0 }
    }

    /// One action with its evidence sentence.
    pub fn plan(&mut self, now: Time, action: Action, cause: Cause, summary: String) -> PlannedAction {
        self.seq += 1;
        PlannedAction {
            id: format!("{}-{}-{:.0}x{}", self.name, action.kind().label(), now, self.seq),
            action,
            cause,
            evidence: Evidence {
                summary,
                ..Evidence::default()
            },
        }
    }
}

/// One member's health as a monitor sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemberHealth {
    /// Healthy (ONLINE / Ready).
    pub up: bool,
    /// Checks passed in a row.
    pub passes: u32,
    /// Checks failed in a row.
    pub fails: u32,
    /// When `up` last changed (the server's creation before the first change).
    pub since: Time,
    /// When it first became healthy.
    pub first_up: Option<Time>,
}

/// A load-balancer health monitor (Octavia `delay`, `max_retries` = rise, `max_retries_down` =
/// fall) or a Kubernetes readiness probe (`periodSeconds`, `successThreshold`,
/// `failureThreshold`): a member turns healthy after `rise` passing checks in a row and unhealthy
/// after `fall` failing ones. Each check reads what a check from the load balancer would see:
/// the member's own answer (the snapshot's `online`), or for a server not yet in the pool, the
/// latest sample of the per-instance probe from the nearest location.
#[derive(Debug, Clone)]
pub struct HealthMonitor {
    delay: f64,
    rise: u32,
    fall: u32,
    next: Time,
    members: BTreeMap<String, MemberHealth>,
}

impl HealthMonitor {
    /// A monitor checking every `delay` seconds.
    pub fn new(delay: f64, rise: u32, fall: u32) -> Self {
        Self {
            delay,
            rise: rise.max(1),
            fall: fall.max(1),
            next: f64::NEG_INFINITY,
            members: BTreeMap::new(),
        }
    }

    /// Runs the checks when they are due. Pre-existing servers start healthy, new ones not.
    pub fn check(&mut self, snap: &Snapshot, now: Time) {
        if now + 1e-9 < self.next {
            return;
        }
        self.next = if self.next.is_finite() {
            self.next + self.delay
        } else {
            now + self.delay
        };
        let live = live(snap);
        self.members.retain(|id, _| live.iter().any(|i| &i.id == id));
        for inst in live {
            let ok = passes(snap, inst, now);
            let h = self.members.entry(inst.id.clone()).or_insert_with(|| {
                let serving = in_rotation(inst) && ok;
                MemberHealth {
                    up: serving,
                    passes: 0,
                    fails: 0,
                    since: inst.created_at,
                    first_up: serving.then_some(inst.created_at),
                }
            });
            if ok {
                h.passes += 1;
                h.fails = 0;
            } else {
                h.fails += 1;
                h.passes = 0;
            }
            if !h.up && h.passes >= self.rise {
                h.up = true;
                h.since = now;
                h.first_up.get_or_insert(now);
            } else if h.up && h.fails >= self.fall {
                h.up = false;
                h.since = now;
            }
        }
    }

    /// The monitor's view of one member.
    pub fn health(&self, id: &str) -> Option<MemberHealth> {
        self.members.get(id).copied()
    }

    /// Whether the monitor calls the member healthy.
    pub fn is_up(&self, id: &str) -> bool {
        self.members.get(id).is_some_and(|h| h.up)
    }

    /// One health-monitor pass as both Octavia-based baselines run it before their own logic:
    /// probe every member, then admit or drain by the result. Returns the decision so far.
    pub fn pass(&mut self, snap: &Snapshot, planner: &mut Planner, now: Time) -> Decision {
        self.check(snap, now);
        Decision {
            now,
            actions: self.pool_actions(snap, planner, now),
            ..Decision::default()
        }
    }

    /// What the load balancer does with the monitor's view: healthy servers take traffic,
    /// unhealthy ones none.
    pub fn pool_actions(&self, snap: &Snapshot, planner: &mut Planner, now: Time) -> Vec<PlannedAction> {
        let mut out = Vec::new();
        for inst in live(snap) {
            let up = self.is_up(&inst.id);
            let active = matches!(inst.status, InstanceStatus::Active | InstanceStatus::Migrating);
            if up && active && !in_rotation(inst) {
                out.push(planner.plan(
                    now,
                    Action::Admit {
                        instance: inst.id.clone(),
                    },
                    Cause::Serving,
                    format!("health monitor: {} is ONLINE", inst.name),
                ));
            } else if !up && in_rotation(inst) {
                out.push(planner.plan(
                    now,
                    Action::Drain {
                        instance: inst.id.clone(),
                    },
                    Cause::InstanceFault,
                    format!("health monitor: {} is ERROR", inst.name),
                ));
            }
        }
        out
    }
}

/// Whether a health check of `inst` passes now.
fn passes(snap: &Snapshot, inst: &Instance, now: Time) -> bool {
    if !matches!(inst.status, InstanceStatus::Active | InstanceStatus::Migrating) {
        return false;
    }
    if let Some(m) = &inst.member
        && m.weight > 0
    {
        return m.online;
    }
    match nearest_probe(snap, &inst.id) {
        Some(ok) => ok,
        None => inst.active_since.is_some_and(|t| now - t >= UNPROBED_BOOT_GUESS),
    }
}

/// The latest per-instance probe result from the location closest to the load balancer
/// (`local` when the policy probes from there, else the first location that has data).
pub fn nearest_probe(snap: &Snapshot, id: &str) -> Option<bool> {
    let series: Vec<_> = snap
        .instances_probed
        .iter()
        .filter(|s| s.instance == id && !s.recent.is_empty())
        .collect();
    let pick = series
        .iter()
        .find(|s| &*s.key.location == "local")
        .or_else(|| series.first())?;
    pick.recent.last().map(|s| s.ok)
}

/// The last `n` per-instance probe results from the nearest location, oldest first.
pub fn nearest_recent(snap: &Snapshot, id: &str, n: usize) -> Vec<bool> {
    let series: Vec<_> = snap
        .instances_probed
        .iter()
        .filter(|s| s.instance == id && !s.recent.is_empty())
        .collect();
    let Some(pick) = series
        .iter()
        .find(|s| &*s.key.location == "local")
        .or_else(|| series.first())
    else {
        return Vec::new();
    };
    let k = pick.recent.len().saturating_sub(n);
    pick.recent[k..].iter().map(|s| s.ok).collect()
}
