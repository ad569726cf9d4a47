//! Which windows a policy needs the collectors to summarise. Pure.

use crate::policy::{Indicator, Policy};

/// The trailing windows the snapshot must carry for a policy.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RequiredWindows {
    /// Per probe name: the longest latency window over that probe (raw samples are kept for it).
    pub latency: Vec<(String, f64)>,
    /// Per probe name: good/total count windows (burn-rate rows, long and short).
    pub counts: Vec<(String, Vec<f64>)>,
}

impl RequiredWindows {
    /// Raw-sample window for a probe (0 when the probe has no latency objective).
    pub fn latency_window(&self, probe: &str) -> f64 {
        self.latency
            .iter()
            .find(|(p, _)| p == probe)
            .map_or(0.0, |(_, w)| *w)
    }

    /// Count windows for a probe.
    pub fn count_windows(&self, probe: &str) -> &[f64] {
        self.counts
            .iter()
            .find(|(p, _)| p == probe)
            .map_or(&[], |(_, w)| w.as_slice())
    }
}

/// Collects the windows each probe's objectives read.
pub fn required_windows(policy: &Policy) -> RequiredWindows {
    let mut out = RequiredWindows::default();
    for objective in &policy.spec.objectives {
        match objective.indicator() {
            Some(Indicator::Latency(l)) => {
                let w = l.window.secs();
                match out.latency.iter_mut().find(|(p, _)| *p == l.probe) {
                    Some((_, existing)) => *existing = existing.max(w),
                    None => out.latency.push((l.probe.clone(), w)),
                }
            }
            Some(Indicator::Availability(a)) => {
                let windows: Vec<f64> = a
                    .burn_rate_alerts
                    .iter()
                    .flat_map(|r| [r.long.secs(), r.short.secs()])
                    .collect();
                let entry = match out.counts.iter_mut().position(|(p, _)| *p == a.probe) {
                    Some(i) => &mut out.counts[i].1,
                    None => {
                        out.counts.push((a.probe.clone(), Vec::new()));
                        &mut out.counts.last_mut().expect("just pushed").1
                    }
                };
                for w in windows {
                    if !entry.iter().any(|e| (e - w).abs() < 0.5) {
                        entry.push(w);
                    }
                }
                entry.sort_by(f64::total_cmp);
            }
            None => {}
        }
    }
    out
}
