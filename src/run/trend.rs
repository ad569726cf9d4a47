//! Recent history of one policy for the status page's charts: per objective the estimate of
//! each (location, family) series, the error budget left, the group's size, and the load
//! against the capacity in rotation. Bounded by time span (simulated time under `--cloud sim`)
//! and by point count: a full line keeps every pass of its newer half and every other point of
//! its older half, so a day fits in [`MAX_POINTS`] at a resolution that falls with age.

use crate::{
    decision::Decision,
    judge::diagnose::takes_traffic,
    snapshot::{Instance, IpFamily, LoadSignal, Time},
};
use std::collections::{BTreeMap, VecDeque};

/// How far back the charts reach (the page's longest window).
pub const SPAN: f64 = 24.0 * 3600.0;
/// Points kept per series at most.
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
    /// Requests per second arriving, as the load source reports them.
    pub load: Line,
    /// Errors per second, where the load source counts them.
    pub errors: Line,
    /// Requests per second the servers in rotation can take: their count times the learned
    /// per-server rate (once one is learned).
    pub capacity: Line,
    /// Servers the load needs: the load over the learned per-server rate at the target
    /// utilisation (100 % without one), once a rate is learned.
    pub needed: Line,
}

fn push(line: &mut Line, t: Time, v: f64) {
    if !v.is_finite() {
        return;
    }
    line.push_back((t, v));
    while line.front().is_some_and(|(t0, _)| *t0 < t - SPAN) {
        line.pop_front();
    }
    if line.len() > MAX_POINTS {
        thin(line);
    }
}

/// Drops every other point of the older half of `line`.
fn thin(line: &mut Line) {
    let half = line.len() / 2;
    let kept: Line = line
        .iter()
        .enumerate()
        .filter(|(k, _)| *k >= half || k % 2 == 0)
        .map(|(_, p)| *p)
        .collect();
    *line = kept;
}

impl Trend {
    /// Adds one pass. `pooled`: the group has a load-balancer pool; `service_rate`: the
    /// learned requests per second one server takes; `target`: the policy's target utilisation.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        t: Time,
        decision: &Decision,
        inventory: &[Instance],
        pooled: bool,
        load: Option<&LoadSignal>,
        service_rate: Option<f64>,
        target: Option<f64>,
    ) {
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
        let serving = inventory.iter().filter(|i| takes_traffic(pooled, i)).count();
        push(&mut self.instances, t, inventory.len() as f64);
        push(&mut self.serving, t, serving as f64);
        if let Some(l) = load {
            push(&mut self.load, t, l.requests);
            if let Some(e) = l.errors {
                push(&mut self.errors, t, e);
            }
        }
        if let Some(rate) = service_rate.filter(|r| *r > 0.0) {
            push(&mut self.capacity, t, rate * serving as f64);
            if let Some(l) = load {
                let per = rate * target.unwrap_or(1.0).max(0.01);
                push(&mut self.needed, t, (l.requests / per).ceil());
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_at_ten_seconds_fits_with_its_newest_passes_whole() {
        let mut line = Line::new();
        for k in 0..8640 {
            push(&mut line, f64::from(k) * 10.0, 1.0);
        }
        assert!(line.len() <= MAX_POINTS, "{}", line.len());
        assert_eq!(
            line.front().map(|p| p.0),
            Some(0.0),
            "the day's first pass is still there"
        );
        let newest: Vec<f64> = line.iter().rev().take(100).map(|p| p.0).collect();
        assert!(
            newest.windows(2).all(|w| w[0] - w[1] == 10.0),
            "the newest passes are all kept"
        );
        push(&mut line, SPAN + 20.0, 1.0);
        assert!(
            line.front().is_some_and(|p| p.0 >= 20.0),
            "older than a day is dropped"
        );
    }

    #[test]
    fn the_servers_the_load_needs_follow_the_learned_rate_and_the_target() {
        let mut trend = Trend::default();
        let load = LoadSignal {
            requests: 300.0,
            errors: None,
            bytes_in: None,
            bytes_out: None,
            source: crate::snapshot::LoadSource::Octavia,
            at: 0.0,
            covers: 10.0,
        };
        let d = Decision::default();
        trend.record(0.0, &d, &[], true, Some(&load), None, Some(0.6));
        assert!(trend.needed.is_empty(), "no learned rate, no figure");
        trend.record(10.0, &d, &[], true, Some(&load), Some(100.0), Some(0.6));
        assert_eq!(
            trend.needed.back(),
            Some(&(10.0, 5.0)),
            "300 req/s at 60 % of 100 per server"
        );
    }
}
