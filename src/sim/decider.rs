//! The decider seam of a rehearsal: what turns a snapshot into actions. sloop's own decision
//! core is one implementation; the peers' published algorithms (`sim::baseline`) are the
//! others, so every decider runs against the same world, load and faults and is scored by the
//! same ground truth.
//!
//! A decider sees only the snapshot (probes, telemetry, inventory), and each baseline reads only
//! the parts its real counterpart reads: Heat/Aodh the Ceilometer CPU as Gnocchi serves it,
//! Senlin the Nova status and a health URL, HPA the pods' CPU and readiness. The exception is
//! the oracle, which is told the future (the load curve) and the world's fault state through
//! [`Decider::peek`]: it is a lower bound, not a controller. Pure: no IO, no clock.

use super::{
    baseline::{heat_aodh::HeatAodh, hpa::Hpa, oracle::Oracle, senlin::SenlinHealth},
    scenario::Scenario,
    world::World,
};
use crate::{
    decide::decide,
    decision::Decision,
    history::{Failure, History},
    policy::Policy,
    snapshot::{Snapshot, Time},
};
use std::{fmt, str::FromStr};

/// A controller that can be rehearsed.
pub trait Decider {
    /// Short name (`sloop`, `heat-aodh`, …), as `--decider` spells it.
    fn name(&self) -> &'static str;

    /// Seconds between decision ticks.
    fn interval(&self) -> f64;

    /// Whether new probe evidence (an instance reaching the failure streak) wakes it early, as
    /// sloop's probe engine does. The baselines have no such signal.
    fn wakes_on_evidence(&self) -> bool {
        false
    }

    /// The policy as this decider's data sources see it: the simulated telemetry is sampled at
    /// the granularity the real counterpart reads (Gnocchi 300 s for Aodh, the metrics-server
    /// resolution for HPA). Only `spec.telemetry` may differ from `policy`.
    fn observed_policy(&self, policy: &Policy) -> Policy {
        policy.clone()
    }

    /// Looks at the world itself before a decision. Only the oracle does.
    fn peek(&mut self, _world: &World) {}

    /// One decision at `now` from what the snapshot shows.
    fn decide(&mut self, snapshot: &Snapshot, now: Time) -> Decision;

    /// Hears which of the last decision's actions took no effect, and why. sloop's history
    /// puts back their cooldowns and ladder rungs and backs them off; the baselines have no
    /// such memory.
    fn settle(&mut self, _failed: &[Failure]) {}
}

/// sloop's decision core behind the seam: `decide` with the history it carries between ticks,
/// exactly what the reconcile loop does.
pub struct SloopDecider {
    policy: Policy,
    history: History,
    interval: f64,
}

impl SloopDecider {
    /// sloop for `policy`, ticking at the reconcile loop's interval.
    pub fn new(policy: &Policy) -> Self {
        let interval = crate::reconcile::Reconciler::new(policy.clone()).interval();
        Self {
            policy: policy.clone(),
            history: History::default(),
            interval,
        }
    }
}

impl Decider for SloopDecider {
    fn name(&self) -> &'static str {
        "sloop"
    }

    fn interval(&self) -> f64 {
        self.interval
    }

    fn wakes_on_evidence(&self) -> bool {
        true
    }

    fn decide(&mut self, snapshot: &Snapshot, now: Time) -> Decision {
        let (decision, history) = decide(&self.policy, snapshot, &self.history, now);
        self.history = history;
        decision
    }

    fn settle(&mut self, failed: &[Failure]) {
        self.history.settle(failed);
    }
}

/// The deciders `rehearse --decider` and `sloop-bench deciders` know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeciderKind {
    /// sloop's decision core.
    Sloop,
    /// Heat AutoScalingGroup + ScalingPolicy driven by Aodh alarms on Gnocchi CPU, with Aodh's
    /// load-balancer member health autohealing.
    HeatAodh,
    /// Senlin's health policy (status and URL polling, RECREATE).
    SenlinHealth,
    /// The Kubernetes horizontal pod autoscaler with readiness and liveness probes.
    Hpa,
    /// Knows the future load and the faults: a lower bound.
    Oracle,
}

impl DeciderKind {
    /// Every decider, sloop first.
    pub const ALL: [DeciderKind; 5] = [
        DeciderKind::Sloop,
        DeciderKind::HeatAodh,
        DeciderKind::SenlinHealth,
        DeciderKind::Hpa,
        DeciderKind::Oracle,
    ];

    /// The name `--decider` takes.
    pub fn label(self) -> &'static str {
        match self {
            DeciderKind::Sloop => "sloop",
            DeciderKind::HeatAodh => "heat-aodh",
            DeciderKind::SenlinHealth => "senlin-health",
            DeciderKind::Hpa => "hpa",
            DeciderKind::Oracle => "oracle",
        }
    }

    /// Whether it is a peer's algorithm (the goal compares sloop with the best of these; the
    /// oracle is a bound, not a peer).
    pub fn is_peer(self) -> bool {
        matches!(
            self,
            DeciderKind::HeatAodh | DeciderKind::SenlinHealth | DeciderKind::Hpa
        )
    }

    /// A fresh decider of this kind for `policy` in `scenario`.
    pub fn build(self, policy: &Policy, scenario: &Scenario) -> Box<dyn Decider + Send> {
        match self {
            DeciderKind::Sloop => Box::new(SloopDecider::new(policy)),
            DeciderKind::HeatAodh => Box::new(HeatAodh::new(policy)),
            DeciderKind::SenlinHealth => Box::new(SenlinHealth::new(policy)),
            DeciderKind::Hpa => Box::new(Hpa::new(policy)),
            DeciderKind::Oracle => Box::new(Oracle::new(policy, scenario)),
        }
    }
}

impl fmt::Display for DeciderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for DeciderKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeciderKind::ALL
            .into_iter()
            .find(|k| k.label() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = DeciderKind::ALL.iter().map(|k| k.label()).collect();
                format!("unknown decider `{s}`; expected one of {}", names.join(", "))
            })
    }
}
