//! `hpa`: the Kubernetes HorizontalPodAutoscaler (autoscaling/v2, CPU utilisation target) over
//! the group's servers as pods, with the kubelet's readiness and liveness probes in front.
//!
//! Algorithm and defaults from kubernetes/website
//! `content/en/docs/concepts/workloads/autoscaling/horizontal-pod-autoscale.md` and
//! kubernetes/kubernetes `pkg/controller/podautoscaler/{replica_calculator.go,horizontal.go}`:
//! - sync every 15 s (`--horizontal-pod-autoscaler-sync-period`);
//! - `desired = ceil(ready × utilisation / target)`, nothing when `|ratio − 1| ≤ 0.1`
//!   (`--horizontal-pod-autoscaler-tolerance`);
//! - pods without metrics are assumed at 100 % of target on a scale-down and 0 % on a scale-up;
//!   not-yet-ready pods are set aside, and assumed at 0 % on a scale-up; if the recomputed ratio
//!   flips direction or falls within tolerance, nothing changes (`calcPlainMetricReplicas`);
//! - a pod within `--horizontal-pod-autoscaler-cpu-initialization-period` (5 min) of its start
//!   counts only when Ready and its sample was taken after it became Ready; after that, an
//!   unready pod that never turned Ready within `--horizontal-pod-autoscaler-initial-readiness-
//!   delay` (30 s) of starting is set aside (`groupPods`);
//! - stabilisation: scale-down uses the maximum recommendation of the last 300 s, scale-up the
//!   minimum of a 0 s window; rate limits (default `behavior`, k8s.io/api autoscaling/v2
//!   `HPAScalingRules`): up by max(100 %, 4 pods) per 15 s, down by 100 % per 15 s.
//! - The pod metric is metrics-server's CPU usage at its default `--metric-resolution` 15 s
//!   (kubernetes-sigs/metrics-server), so the simulator samples `cpu` at 15 s.
//! - CPU target 60 %: the same target the policy gives sloop (`targetUtilization`), 60 % when it
//!   has none.
//! - Readiness and liveness probes at the `v1.Probe` defaults (`periodSeconds` 10,
//!   `successThreshold` 1, `failureThreshold` 3; kubernetes-client `docs/V1Probe.md`): an
//!   unready pod leaves the Service endpoints, a failing live one is restarted (modelled as a
//!   soft reboot). Liveness is only applied to a pod that has been Ready since its last start,
//!   as a `startupProbe` would arrange; otherwise every boot would end in a restart loop.

use super::{Group, HealthMonitor, MemberHealth, Planner, cpu, live, with_cpu_granularity};
use crate::{
    decision::{Action, Cause, Decision, Diagnosis},
    policy::Policy,
    sim::decider::Decider,
    snapshot::{Instance, InstanceStatus, Snapshot, Time},
};
use std::collections::{BTreeMap, VecDeque};

/// HPA sync period, s.
pub const SYNC_PERIOD: f64 = 15.0;
/// Tolerance around a ratio of 1.
pub const TOLERANCE: f64 = 0.1;
/// Scale-down stabilisation window, s.
pub const DOWNSCALE_STABILIZATION: f64 = 300.0;
/// Rate-limit period, s.
pub const RATE_PERIOD: f64 = 15.0;
/// Scale-up limit: at least this many pods per period …
pub const SCALE_UP_PODS: u32 = 4;
/// … or this share of the replicas at the period's start, whichever is more.
pub const SCALE_UP_PERCENT: f64 = 1.0;
/// CPU initialisation period, s.
pub const CPU_INITIALIZATION_PERIOD: f64 = 300.0;
/// Initial readiness delay, s.
pub const INITIAL_READINESS_DELAY: f64 = 30.0;
/// metrics-server resolution, s.
pub const METRIC_RESOLUTION: f64 = 15.0;
/// Default CPU target when the policy has none.
pub const DEFAULT_TARGET: f64 = 0.6;
/// Probe defaults: period (s), success threshold, failure threshold.
pub const PROBE: (f64, u32, u32) = (10.0, 1, 3);

/// One pod as the replica calculator sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PodSample {
    /// CPU utilisation of its request, when metrics-server has a sample.
    pub util: Option<f64>,
    /// Counts as ready for CPU (see `groupPods`).
    pub ready: bool,
}

/// The replica count the metric asks for (`calcPlainMetricReplicas`), or `current` when it
/// asks for no change.
pub fn desired_replicas(pods: &[PodSample], target: f64, tolerance: f64, current: u32) -> u32 {
    let ready: Vec<f64> = pods.iter().filter(|p| p.ready).filter_map(|p| p.util).collect();
    if ready.is_empty() || target <= 0.0 {
        return current;
    }
    let missing = pods.iter().filter(|p| p.util.is_none()).count();
    let unready = pods.iter().filter(|p| !p.ready && p.util.is_some()).count();
    let ratio = ready.iter().sum::<f64>() / ready.len() as f64 / target;
    let scale_up_with_unready = unready > 0 && ratio > 1.0;
    if !scale_up_with_unready && missing == 0 {
        if (ratio - 1.0).abs() <= tolerance {
            return current;
        }
        return (ratio * ready.len() as f64).ceil() as u32;
    }
    let mut values = ready.clone();
    if missing > 0 {
        let assumed = if ratio < 1.0 { target } else { 0.0 };
        values.extend(std::iter::repeat_n(assumed, missing));
    }
    if scale_up_with_unready {
        values.extend(std::iter::repeat_n(0.0, unready));
    }
    let new_ratio = values.iter().sum::<f64>() / values.len() as f64 / target;
    if (new_ratio - 1.0).abs() <= tolerance
        || (ratio > 1.0 && new_ratio < 1.0)
        || (ratio < 1.0 && new_ratio > 1.0)
    {
        return current;
    }
    let new = (new_ratio * values.len() as f64).ceil() as u32;
    if (new_ratio < 1.0 && new > current) || (new_ratio > 1.0 && new < current) {
        return current;
    }
    new
}

/// Stabilisation and rate limits (`normalizeDesiredReplicasWithBehaviors`).
#[derive(Debug, Clone, Default)]
pub struct Behavior {
    recommendations: VecDeque<(Time, u32)>,
    events: VecDeque<(Time, i64)>,
}

impl Behavior {
    /// The replica count to set now, given the calculator's recommendation.
    pub fn normalize(&mut self, now: Time, recommended: u32, current: u32, min: u32, max: u32) -> u32 {
        self.recommendations
            .retain(|(t, _)| now - t < DOWNSCALE_STABILIZATION.max(RATE_PERIOD));
        let down = self
            .recommendations
            .iter()
            .filter(|(t, _)| now - t < DOWNSCALE_STABILIZATION)
            .map(|(_, r)| *r)
            .fold(recommended, u32::max);
        self.recommendations.push_back((now, recommended));
        let mut desired = current;
        if recommended > desired {
            desired = recommended; // scale-up window 0: the newest recommendation
        }
        if down < desired {
            desired = down;
        }
        self.events.retain(|(t, _)| now - t < RATE_PERIOD);
        let added: i64 = self.events.iter().map(|(_, d)| *d).filter(|d| *d > 0).sum();
        if desired > current {
            let start = (current as i64 - added).max(0) as f64;
            let limit = (start + SCALE_UP_PODS as f64).max(start * (1.0 + SCALE_UP_PERCENT));
            desired = desired.min(limit.max(current as f64) as u32);
        }
        // Scale-down: 100 % per period, so only the bounds limit it.
        let desired = desired.clamp(min, max);
        if desired != current {
            self.events.push_back((now, desired as i64 - current as i64));
        }
        desired
    }
}

/// The HPA deployment.
pub struct Hpa {
    group: Group,
    target: f64,
    planner: Planner,
    readiness: HealthMonitor,
    behavior: Behavior,
    next_sync: Time,
    restarted: BTreeMap<String, Time>,
}

impl Hpa {
    /// The HPA for `policy`'s group.
    pub fn new(policy: &Policy) -> Self {
        Self {
            group: Group::of(policy),
            target: policy
                .spec
                .scaling
                .target_utilization
                .map_or(DEFAULT_TARGET, |p| p.fraction()),
            planner: Planner::new("hpa"),
            readiness: HealthMonitor::new(PROBE.0, PROBE.1, PROBE.2),
            behavior: Behavior::default(),
            next_sync: f64::NEG_INFINITY,
            restarted: BTreeMap::new(),
        }
    }

    fn sample(&self, snap: &Snapshot, inst: &Instance, now: Time) -> PodSample {
        let health = self.readiness.health(&inst.id);
        let ready_now = health.is_some_and(|h| h.up);
        let start = inst.active_since.unwrap_or(inst.created_at);
        let reading = cpu(snap, &inst.id).filter(|(_, at)| now - at <= 2.0 * METRIC_RESOLUTION);
        let ready = match health {
            _ if now - start < CPU_INITIALIZATION_PERIOD => {
                ready_now
                    && reading.is_some_and(|(_, at)| {
                        at - METRIC_RESOLUTION >= health.map_or(f64::INFINITY, |h: MemberHealth| h.since)
                    })
            }
            Some(h) => h.up || h.since - start >= INITIAL_READINESS_DELAY,
            None => false,
        };
        PodSample {
            util: reading.map(|(v, _)| v),
            ready,
        }
    }
}

impl Decider for Hpa {
    fn name(&self) -> &'static str {
        "hpa"
    }

    fn interval(&self) -> f64 {
        5.0
    }

    fn observed_policy(&self, policy: &Policy) -> Policy {
        // metrics-server is scraped (no Gnocchi processing delay): a scraped source.
        let mut p = with_cpu_granularity(policy, METRIC_RESOLUTION);
        if let Some(t) = &mut p.spec.telemetry {
            t.source = crate::policy::TelemetrySource::Prometheus;
        }
        p
    }

    fn decide(&mut self, snap: &Snapshot, now: Time) -> Decision {
        let mut decision = Decision {
            now,
            ..Decision::default()
        };
        self.readiness.check(snap, now);
        decision
            .actions
            .extend(self.readiness.pool_actions(snap, &mut self.planner, now));
        let live = live(snap);
        self.restarted.retain(|id, _| live.iter().any(|i| &i.id == id));
        // Liveness: a pod that was Ready since its last start and has failed three probes.
        for inst in &live {
            let Some(h) = self.readiness.health(&inst.id) else {
                continue;
            };
            let last = self.restarted.get(&inst.id).copied().unwrap_or(f64::NEG_INFINITY);
            if !h.up && h.first_up.is_some() && h.since > last && inst.status == InstanceStatus::Active {
                self.restarted.insert(inst.id.clone(), now);
                decision.diagnoses.push(Diagnosis::InstanceFault {
                    instance: inst.id.clone(),
                    detail: "kubelet: liveness probe failed 3 times".into(),
                });
                decision.actions.push(self.planner.plan(
                    now,
                    Action::Reboot {
                        instance: inst.id.clone(),
                        hard: false,
                    },
                    Cause::InstanceFault,
                    format!("kubelet restarts {}", inst.name),
                ));
            }
        }
        if now + 1e-9 < self.next_sync {
            return decision;
        }
        self.next_sync = if self.next_sync.is_finite() {
            self.next_sync + SYNC_PERIOD
        } else {
            now + SYNC_PERIOD
        };
        let current = live.len() as u32;
        let pods: Vec<PodSample> = live
            .iter()
            .filter(|i| i.status != InstanceStatus::Error)
            .map(|i| self.sample(snap, i, now))
            .collect();
        let recommended = desired_replicas(&pods, self.target, TOLERANCE, current);
        let desired = self
            .behavior
            .normalize(now, recommended, current, self.group.min, self.group.max);
        if desired > current {
            decision.diagnoses.push(Diagnosis::Capacity {
                needed: desired,
                serving: current,
                detail: format!("hpa: cpu above {:.0}% target", self.target * 100.0),
            });
            decision.actions.push(self.planner.plan(
                now,
                Action::ScaleOut {
                    count: desired - current,
                },
                Cause::Capacity,
                format!("hpa: {current} → {desired} replicas"),
            ));
        } else if desired < current {
            // ReplicaSet victims: not ready first, then the most recently started.
            let mut order: Vec<&&Instance> = live.iter().collect();
            order.sort_by(|a, b| {
                let ra = self.readiness.is_up(&a.id);
                let rb = self.readiness.is_up(&b.id);
                ra.cmp(&rb).then(b.created_at.total_cmp(&a.created_at))
            });
            let victims: Vec<String> = order
                .iter()
                .take((current - desired) as usize)
                .map(|i| i.id.clone())
                .collect();
            decision.actions.push(self.planner.plan(
                now,
                Action::ScaleIn { instances: victims },
                Cause::OverProvisioned,
                format!("hpa: {current} → {desired} replicas"),
            ));
        }
        decision
    }
}
