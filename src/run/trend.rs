//! Recent history of one policy for the status page's charts: per objective the estimate of
//! each (location, family) series, the error budget left, and the group's size. Bounded by
//! time span (simulated time under `--cloud sim`) and by point count.

use crate::{
    decision::Decision,
    snapshot::{Instance, InstanceStatus, IpFamily, Time},
};
use std::collections::{BTreeMap, VecDeque};

/// How far back the charts reach.
pub const SPAN: f64 = 3.0 * 3600.0;
/// Points kept per series at most (one per pass; older ones are dropped first).
pub const MAX_POINTS: usize = 2400;

/// A time series.
pub type Line = VecDeque<(Time, f64)>;

/// Charts' data for one policy.
#[derive(Debug, Clone, Default)]
pub struct Trend {
    /// Per objective, per (location, family): the estimate (latency s, or error ratio).
    pub series: BTreeMap<String, BTreeMap<(String, IpFamily), Line>>,
    /// Per availability objective: share of the error budget left.
    pub budget: BTreeMap<String, Line>,
    /// Servers of the group.
    pub instances: Line,
    /// Servers in rotation (active, with a pool weight above 0 where there is a pool).
    pub serving: Line,
}

fn push(line: &mut Line, t: Time, v: f64) {
    if !v.is_finite() {
        return;
    }
    line.push_back((t, v));
    while line.len() > MAX_POINTS || line.front().is_some_and(|(t0, _)| *t0 < t - SPAN) {
        line.pop_front();
    }
}

impl Trend {
    /// Adds one pass.
    pub fn record(&mut self, t: Time, decision: &Decision, inventory: &[Instance]) {
        for v in &decision.verdicts {
            let per = self.series.entry(v.objective.clone()).or_default();
            for s in &v.per_series {
                if s.samples == 0 {
                    continue;
                }
                push(
                    per.entry((s.location.clone(), s.family)).or_default(),
                    t,
                    s.estimate,
                );
            }
            if let Some(b) = v.budget_remaining {
                push(self.budget.entry(v.objective.clone()).or_default(), t, b);
            }
        }
        let serving = inventory
            .iter()
            .filter(|i| i.status == InstanceStatus::Active && i.member.is_none_or(|m| m.weight > 0))
            .count();
        push(&mut self.instances, t, inventory.len() as f64);
        push(&mut self.serving, t, serving as f64);
    }

    /// The earliest time any line starts at.
    pub fn start(&self) -> Option<Time> {
        self.instances.front().map(|p| p.0)
    }

    /// The latest time recorded.
    pub fn end(&self) -> Option<Time> {
        self.instances.back().map(|p| p.0)
    }
}
