//! `heat-aodh`: a Heat `OS::Heat::AutoScalingGroup` behind Octavia, scaled by two
//! `OS::Heat::ScalingPolicy` resources (ChangeInCapacity ±1) that Aodh threshold alarms on
//! Ceilometer CPU signal, and healed by an Aodh `loadbalancer_member_health` alarm with the
//! `trust+heat` notifier.
//!
//! Data path, as the real one runs:
//! - Ceilometer polls the cumulative `cpu` counter every 300 s (`interval: 300`,
//!   openstack/ceilometer `etc/ceilometer/polling.yaml`) into Gnocchi, whose archive policy
//!   `ceilometer-low` keeps 300 s granularity (the granularity in the Aodh docs' examples,
//!   `aodh alarm create … --granularity 300 --aggregation-method rate:mean`). The simulator's
//!   telemetry is therefore sampled at 300 s ([`with_cpu_granularity`]): each value is the mean
//!   utilisation over the 300 s before the poll, stamped at the poll.
//! - Gnocchi's metricd aggregates new measures every `metric_processing_delay` = 60 s (gnocchi
//!   `[metricd]` default, as in gnocchi's own docs and deployment guides), so a value becomes
//!   visible up to 60 s after the poll.
//! - Aodh evaluates every `evaluation_interval` = 60 s (openstack/aodh `aodh/service.py`). The
//!   threshold evaluator (`aodh/evaluator/threshold.py`, `gnocchi.py`) queries
//!   `granularity × (evaluation_periods + 1)` back (`look_back = 1`, `additional_ingestion_lag`
//!   0), keeps the last `evaluation_periods` points, and goes to ALARM only if **all** breach,
//!   OK only if **none** do, and otherwise keeps its state (trending). Fewer points than
//!   `evaluation_periods` is insufficient data (UNKNOWN).
//! - Heat's alarm resources default to `repeat_actions: true`
//!   (`heat/engine/resources/alarm_base.py`), and Aodh re-notifies on every evaluation while
//!   the state holds (`aodh/evaluator/__init__.py` `_refresh`), so the scaling policy is
//!   signalled every 60 s while the alarm is in ALARM.
//!
//! Template values (openstack/heat-templates `hot/autoscaling.yaml`): scale up when mean CPU is
//! above 50 %, scale down when it is below 15 % over 10 minutes (two 300 s periods here), policies
//! `adjustment_type: change_in_capacity`, `scaling_adjustment: ±1`, `cooldown: 60`, and a pool
//! health monitor with `delay: 5`, `max_retries: 5` (Octavia's `max_retries_down` defaults to
//! 3, openstack/octavia `octavia/api/v2/types/health_monitor.py`).
//!
//! Cooldown (`heat/scaling/cooldown.py`): a signal is ignored while a scaling action is in
//! progress (the ASG update waits for the new servers to be CREATE_COMPLETE, i.e. ACTIVE) and
//! for `cooldown` seconds after it finished. Scale-down removes the oldest member first (the
//! group keeps the newest `num_instances`, `heat/engine/resources/openstack/heat/
//! instance_group.py` `_create_template`).
//!
//! Autohealing: the `loadbalancer_member_health` evaluator (`aodh/evaluator/loadbalancer.py`)
//! counts members whose `operating_status` is ERROR, ignoring members created less than
//! `member_creation_time` = 120 s ago; the `trust+heat` notifier (`aodh/notifier/heat.py`)
//! marks them unhealthy and updates the stack, which replaces them.

use super::{Group, HealthMonitor, Planner, cpu, live, with_cpu_granularity};
use crate::{
    decision::{Action, Cause, Decision, Diagnosis},
    policy::Policy,
    sim::decider::Decider,
    snapshot::{Snapshot, Time},
};
use std::collections::{BTreeMap, BTreeSet};

/// Ceilometer polling interval and Gnocchi granularity, s.
pub const GRANULARITY: f64 = 300.0;
/// Gnocchi metricd processing delay, s.
pub const PROCESSING_DELAY: f64 = 60.0;
/// Aodh evaluation interval, s.
pub const EVALUATION_INTERVAL: f64 = 60.0;
/// Scale-up alarm: mean CPU above this share.
pub const HIGH_THRESHOLD: f64 = 0.50;
/// Scale-up alarm evaluation periods.
pub const HIGH_PERIODS: usize = 1;
/// Scale-down alarm: mean CPU below this share.
pub const LOW_THRESHOLD: f64 = 0.15;
/// Scale-down alarm evaluation periods (10 minutes at 300 s).
pub const LOW_PERIODS: usize = 2;
/// ScalingPolicy cooldown, s.
pub const COOLDOWN: f64 = 60.0;
/// Octavia health monitor: delay (s), rise, fall.
pub const HM: (f64, u32, u32) = (5.0, 5, 3);
/// Aodh `member_creation_time`, s.
pub const MEMBER_CREATION_TIME: f64 = 120.0;

/// An Aodh alarm state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmState {
    /// Insufficient data.
    Unknown,
    /// Not breaching.
    Ok,
    /// Breaching.
    Alarm,
}

/// A Gnocchi threshold alarm on the group's mean CPU.
#[derive(Debug, Clone)]
pub struct ThresholdAlarm {
    /// Breach when the value is above (true) or below (false) the threshold.
    pub above: bool,
    /// Threshold (utilisation share).
    pub threshold: f64,
    /// `evaluation_periods`.
    pub periods: usize,
    /// Current state.
    pub state: AlarmState,
}

impl ThresholdAlarm {
    /// A new alarm, in insufficient data until evaluated.
    pub fn new(above: bool, threshold: f64, periods: usize) -> Self {
        Self {
            above,
            threshold,
            periods: periods.max(1),
            state: AlarmState::Unknown,
        }
    }

    /// One Aodh evaluation over the datapoints the query returned (oldest first): all breach →
    /// ALARM, none → OK, mixed → unchanged (or the trend of the last point when UNKNOWN).
    pub fn evaluate(&mut self, points: &[f64]) -> AlarmState {
        if points.len() < self.periods {
            self.state = AlarmState::Unknown;
            return self.state;
        }
        let last = &points[points.len() - self.periods..];
        let breach: Vec<bool> = last
            .iter()
            .map(|v| {
                if self.above {
                    *v > self.threshold
                } else {
                    *v < self.threshold
                }
            })
            .collect();
        if breach.iter().all(|b| *b) {
            self.state = AlarmState::Alarm;
        } else if !breach.iter().any(|b| *b) {
            self.state = AlarmState::Ok;
        } else if self.state == AlarmState::Unknown {
            self.state = if breach[breach.len() - 1] {
                AlarmState::Alarm
            } else {
                AlarmState::Ok
            };
        }
        self.state
    }
}

/// A scaling action Heat is carrying out: the ids it waits for.
#[derive(Debug, Clone)]
struct InProgress {
    /// Action key of a scale-out (its servers carry it in `created_by`).
    created_by: Option<String>,
    /// Servers being removed.
    removing: Vec<String>,
}

/// The Heat + Aodh deployment.
pub struct HeatAodh {
    group: Group,
    planner: Planner,
    monitor: HealthMonitor,
    /// Gnocchi: per poll time, the value per instance.
    gnocchi: BTreeMap<i64, BTreeMap<String, f64>>,
    high: ThresholdAlarm,
    low: ThresholdAlarm,
    next_eval: Time,
    in_progress: Option<InProgress>,
    last_scaled: Option<Time>,
    healed: BTreeSet<String>,
}

impl HeatAodh {
    /// The deployment for `policy`'s group.
    pub fn new(policy: &Policy) -> Self {
        Self {
            group: Group::of(policy),
            planner: Planner::new("heat-aodh"),
            monitor: HealthMonitor::new(HM.0, HM.1, HM.2),
            gnocchi: BTreeMap::new(),
            high: ThresholdAlarm::new(true, HIGH_THRESHOLD, HIGH_PERIODS),
            low: ThresholdAlarm::new(false, LOW_THRESHOLD, LOW_PERIODS),
            next_eval: f64::NEG_INFINITY,
            in_progress: None,
            last_scaled: None,
            healed: BTreeSet::new(),
        }
    }

    /// Stores new Ceilometer measures as Gnocchi would.
    fn ingest(&mut self, snap: &Snapshot) {
        for inst in &snap.inventory {
            if let Some((v, at)) = cpu(snap, &inst.id) {
                self.gnocchi
                    .entry(at.round() as i64)
                    .or_default()
                    .insert(inst.id.clone(), v);
            }
        }
    }

    /// The group aggregate (mean over resources) per 300 s point the Aodh query returns now.
    fn points(&self, now: Time, periods: usize) -> Vec<f64> {
        let from = now - GRANULARITY * (periods as f64 + 1.0);
        self.gnocchi
            .range((from.ceil() as i64)..)
            .filter(|(at, _)| **at as f64 + PROCESSING_DELAY <= now)
            .filter(|(_, v)| !v.is_empty())
            .map(|(_, v)| v.values().sum::<f64>() / v.len() as f64)
            .collect()
    }

    /// Whether the ASG's last adjustment has completed; records the cooldown start when it has.
    fn settle(&mut self, snap: &Snapshot, now: Time) {
        let Some(p) = &self.in_progress else { return };
        let building = p.created_by.as_ref().is_some_and(|key| {
            snap.inventory.iter().any(|i| {
                i.created_by
                    .as_deref()
                    .is_some_and(|c| c.starts_with(key.as_str()))
                    && i.status == crate::snapshot::InstanceStatus::Building
            })
        });
        let removing = p
            .removing
            .iter()
            .any(|id| snap.inventory.iter().any(|i| &i.id == id));
        if !building && !removing {
            self.in_progress = None;
            self.last_scaled = Some(now);
        }
    }

    fn cooling(&self, now: Time) -> bool {
        self.in_progress.is_some() || self.last_scaled.is_some_and(|t| now - t < COOLDOWN)
    }
}

impl Decider for HeatAodh {
    fn name(&self) -> &'static str {
        "heat-aodh"
    }

    fn interval(&self) -> f64 {
        HM.0
    }

    fn observed_policy(&self, policy: &Policy) -> Policy {
        with_cpu_granularity(policy, GRANULARITY)
    }

    fn decide(&mut self, snap: &Snapshot, now: Time) -> Decision {
        let mut decision = self.monitor.pass(snap, &mut self.planner, now);
        self.ingest(snap);
        self.settle(snap, now);
        if now + 1e-9 < self.next_eval {
            return decision;
        }
        self.next_eval = if self.next_eval.is_finite() {
            self.next_eval + EVALUATION_INTERVAL
        } else {
            now + EVALUATION_INTERVAL
        };
        let keep = now - GRANULARITY * (LOW_PERIODS.max(HIGH_PERIODS) as f64 + 2.0);
        self.gnocchi.retain(|at, _| *at as f64 >= keep);

        // Autohealing: members in ERROR, older than member_creation_time.
        let live = live(snap);
        for inst in &live {
            let down = self.monitor.health(&inst.id).is_some_and(|h| !h.up);
            if down && now - inst.created_at >= MEMBER_CREATION_TIME && !self.healed.contains(&inst.id) {
                self.healed.insert(inst.id.clone());
                decision.diagnoses.push(Diagnosis::InstanceFault {
                    instance: inst.id.clone(),
                    detail: "aodh loadbalancer_member_health: member operating_status ERROR".into(),
                });
                decision.actions.push(self.planner.plan(
                    now,
                    Action::Replace {
                        instance: inst.id.clone(),
                        delete_old: true,
                    },
                    Cause::InstanceFault,
                    format!(
                        "trust+heat: {} marked unhealthy, stack update replaces it",
                        inst.name
                    ),
                ));
            }
        }

        let size = live.len() as u32;
        let high = self.high.evaluate(&self.points(now, HIGH_PERIODS));
        let low = self.low.evaluate(&self.points(now, LOW_PERIODS));
        // repeat_actions: every evaluation in ALARM signals its policy.
        let signal = match (high, low) {
            (AlarmState::Alarm, _) => Some(1i64),
            (_, AlarmState::Alarm) => Some(-1),
            _ => None,
        };
        if let Some(step) = signal
            && !self.cooling(now)
        {
            let target = (size as i64 + step).clamp(self.group.min as i64, self.group.max as i64) as u32;
            if target > size {
                let action = self.planner.plan(
                    now,
                    Action::ScaleOut { count: target - size },
                    Cause::Capacity,
                    format!("aodh cpu_alarm_high: mean CPU > {:.0}%", HIGH_THRESHOLD * 100.0),
                );
                decision.diagnoses.push(Diagnosis::Capacity {
                    needed: target,
                    serving: size,
                    detail: "aodh cpu_alarm_high in ALARM".into(),
                });
                self.in_progress = Some(InProgress {
                    created_by: Some(action.id.clone()),
                    removing: Vec::new(),
                });
                decision.actions.push(action);
            } else if target < size {
                let victims: Vec<String> = live
                    .iter()
                    .filter(|i| !self.healed.contains(&i.id))
                    .take((size - target) as usize)
                    .map(|i| i.id.clone())
                    .collect();
                if !victims.is_empty() {
                    self.in_progress = Some(InProgress {
                        created_by: None,
                        removing: victims.clone(),
                    });
                    decision.actions.push(self.planner.plan(
                        now,
                        Action::ScaleIn { instances: victims },
                        Cause::OverProvisioned,
                        format!("aodh cpu_alarm_low: mean CPU < {:.0}%", LOW_THRESHOLD * 100.0),
                    ));
                }
            }
        }
        decision
    }
}
