//! Whether a server fails where its peers under the same load do not. Pure.
//!
//! Overload makes every server of a group drop and time out together: the balancer gives each
//! the same share, so the failures spread over all of them. A fault makes one server fail while
//! the others, under the same load, answer. The evidence is the per-instance probes a real
//! prober records (one request straight to each server, from each location): the share of its
//! recent probes that failed, against the pooled share of its peers' over the same window.

use super::super::health::healing_probe;
use crate::{
    judge::stats::binomial_bounds,
    policy::Policy,
    snapshot::{InstanceStatus, Snapshot},
};

/// Confidence of the contrast's bounds (it gates healing, so the exact interval is used).
const CONFIDENCE: f64 = 0.99;
/// Confidence of the streak's contrast: a failure streak is the newest samples only, chosen
/// because they failed, so it must clear a stricter bar than the whole window.
const STREAK_CONFIDENCE: f64 = 0.999;

/// A server failing less than half its probes is serving; whatever is wrong with it is not
/// what the ladder repairs.
const FAILS_MOSTLY: f64 = 0.5;

/// Failed and total recent probes of one server, and of its peers pooled.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Contrast {
    /// Failed probes of the server.
    pub own_failed: u64,
    /// Its probes.
    pub own_total: u64,
    /// Its current failure streaks, summed over locations and families: a server that just
    /// broke has a short window of failures, all of them at the end.
    pub own_streak: u64,
    /// Failed probes of its peers, pooled.
    pub peers_failed: u64,
    /// Their probes.
    pub peers_total: u64,
}

impl Contrast {
    /// The server fails mostly, and its failure share is above its peers' beyond doubt: the
    /// lower bound of its own share exceeds the upper bound of theirs. `None` when the peers
    /// have no samples (a group of one, or no peer judged yet): nothing to compare with.
    pub fn fails_alone(&self) -> Option<bool> {
        if self.peers_total == 0 || self.own_total == 0 {
            return None;
        }
        let own = self.own_failed as f64 / self.own_total as f64;
        let (own_low, _) = binomial_bounds(self.own_failed, self.own_total, CONFIDENCE);
        let (_, peers_high) = binomial_bounds(self.peers_failed, self.peers_total, CONFIDENCE);
        let window = own >= FAILS_MOSTLY && own_low > peers_high;
        // The streak alone: all of its samples failed, against the peers' whole window.
        let streak = self.own_streak > 0 && {
            let (streak_low, _) = binomial_bounds(self.own_streak, self.own_streak, STREAK_CONFIDENCE);
            let (_, peers_high) = binomial_bounds(self.peers_failed, self.peers_total, STREAK_CONFIDENCE);
            streak_low > peers_high
        };
        Some(window || streak)
    }

    /// One sentence of evidence.
    pub fn describe(&self) -> String {
        format!(
            "{} of its {} recent probes failed; {} of {} on its peers under the same load",
            self.own_failed, self.own_total, self.peers_failed, self.peers_total
        )
    }
}

/// The contrast of `id` against the other ACTIVE servers of the group that are past their
/// grace, from the healing probe's fresh series (every location and family pooled).
pub fn contrast(policy: &Policy, snap: &Snapshot, id: &str, judged: &dyn Fn(&str) -> bool) -> Contrast {
    let Some(probe) = healing_probe(policy) else {
        return Contrast::default();
    };
    let fresh = |loc: &str| {
        snap.locations
            .iter()
            .find(|l| l.name == loc)
            .is_none_or(|l| l.fresh)
    };
    let peers: std::collections::HashSet<&str> = snap
        .inventory
        .iter()
        .filter(|i| i.id != id && i.status == InstanceStatus::Active && judged(&i.id))
        .map(|i| i.id.as_str())
        .collect();
    let mut c = Contrast::default();
    for s in snap
        .instances_probed
        .iter()
        .filter(|s| *s.key.probe == *probe && fresh(&s.key.location))
    {
        let failed = s.recent.iter().filter(|x| !x.ok).count() as u64;
        let total = s.recent.len() as u64;
        if s.instance == id {
            c.own_failed += failed;
            c.own_total += total;
            c.own_streak += u64::from(s.consecutive_failures).min(total);
        } else if peers.contains(s.instance.as_str()) {
            c.peers_failed += failed;
            c.peers_total += total;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::Contrast;

    fn c(own_failed: u64, own_total: u64, peers_failed: u64, peers_total: u64) -> Contrast {
        Contrast {
            own_failed,
            own_total,
            own_streak: 0,
            peers_failed,
            peers_total,
        }
    }
    fn streak(own_streak: u64, peers_failed: u64) -> Contrast {
        Contrast {
            own_failed: own_streak,
            own_total: 24,
            own_streak,
            peers_failed,
            peers_total: 120,
        }
    }

    #[test]
    fn a_server_that_just_broke_fails_alone_by_its_streak() {
        // Three in a row from two locations, 15 s after a crash, while the peers answer.
        assert_eq!(streak(6, 0).fails_alone(), Some(true));
        // The same streak in a group that drops one probe in five is the load's doing.
        assert_eq!(streak(6, 24).fails_alone(), Some(false));
    }

    #[test]
    fn a_crashed_server_among_answering_peers_fails_alone() {
        assert_eq!(c(12, 12, 0, 60).fails_alone(), Some(true));
        // Two crashed of six: each still fails beyond the other five pooled.
        assert_eq!(c(12, 12, 12, 60).fails_alone(), Some(true));
    }

    #[test]
    fn overload_spread_over_the_group_is_not_a_fault() {
        // The same drop rate everywhere: one server's unlucky streak is within its peers' share.
        assert_eq!(c(8, 12, 25, 60).fails_alone(), Some(false));
        assert_eq!(c(12, 12, 40, 60).fails_alone(), Some(false));
    }

    #[test]
    fn a_server_that_mostly_answers_is_not_failing() {
        assert_eq!(c(5, 12, 0, 60).fails_alone(), Some(false));
    }

    #[test]
    fn without_peers_there_is_no_contrast() {
        assert_eq!(c(12, 12, 0, 0).fails_alone(), None);
    }
}
