//! How long this group's new servers take from the create call to taking traffic, learned from
//! the servers sloop sees being built: the forecast's horizon. Pure.

use crate::{
    judge::diagnose::in_rotation,
    policy::Policy,
    snapshot::{InstanceId, InstanceStatus, Snapshot, Time},
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Boot times remembered, newest last.
const KEEP: usize = 16;
/// Fewest boot times the estimate needs.
const MIN_SAMPLES: usize = 3;
/// A server not serving this long after its create never counts (a failed or held boot).
const GIVE_UP: f64 = 3600.0;

/// Boot-to-serve times of the group's new servers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BootTimes {
    /// Servers seen building, with their creation time, until they first take traffic.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub waiting: BTreeMap<InstanceId, Time>,
    /// Seconds from the create to first taking traffic, newest last, at most [`KEEP`].
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub samples: VecDeque<f64>,
}

impl BootTimes {
    /// Whether nothing was learned.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty() && self.samples.is_empty()
    }

    /// Follows the servers being built until they take traffic.
    pub fn observe(&mut self, policy: &Policy, snap: &Snapshot, now: Time) {
        for inst in &snap.inventory {
            if inst.status == InstanceStatus::Building {
                self.waiting.entry(inst.id.clone()).or_insert(inst.created_at);
            } else if in_rotation(policy, inst)
                && let Some(created) = self.waiting.remove(&inst.id)
            {
                self.record(now - created);
            }
        }
        self.waiting.retain(|id, created| {
            now - *created < GIVE_UP
                && snap.inventory.iter().any(|i| {
                    &i.id == id && !matches!(i.status, InstanceStatus::Deleting | InstanceStatus::Error)
                })
        });
    }

    /// Remembers one boot time, forgetting the oldest past [`KEEP`].
    fn record(&mut self, secs: f64) {
        self.samples.push_back(secs.max(0.0));
        if self.samples.len() > KEEP {
            self.samples.pop_front();
        }
    }

    /// The 90th percentile of the remembered boot times (nearest rank), with how many there
    /// are, once there are [`MIN_SAMPLES`].
    pub fn estimate(&self) -> Option<(f64, usize)> {
        if self.samples.len() < MIN_SAMPLES {
            return None;
        }
        let mut s: Vec<f64> = self.samples.iter().copied().collect();
        s.sort_by(f64::total_cmp);
        let rank = (0.9 * s.len() as f64).ceil() as usize;
        Some((s[rank.saturating_sub(1)], s.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_is_the_ninetieth_percentile_of_the_last_sixteen() {
        let mut b = BootTimes::default();
        assert_eq!(b.estimate(), None);
        for k in 0..40 {
            b.record(100.0 + f64::from(k));
        }
        assert_eq!(b.samples.len(), KEEP);
        // 124..=139: rank ceil(14.4) = 15 → 138.
        assert_eq!(b.estimate(), Some((138.0, KEEP)));
    }
}
