//! What the controller knows about each agent: when it last reported, its clock offset, what it
//! sent, dropped and had rejected, and a request budget (token bucket). Pure: the caller passes
//! `now` (the controller's clock).
//!
//! A location whose agent has not reported within `stale_after` is stale: the snapshot lists it
//! as not fresh and leaves its series out, so a silent agent never reads as "the service is
//! down" and never counts towards a quorum.

use crate::snapshot::{LocationStatus, Time};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One agent as the controller sees it (the `/api/v1/agents` status).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStatus {
    /// The agent's location name.
    pub name: String,
    /// Whether it reported within the staleness limit.
    pub fresh: bool,
    /// When its last batch arrived (controller clock).
    pub last_seen: Option<Time>,
    /// Its clock offset measured on the last batch (controller minus agent, seconds).
    pub offset_s: Option<f64>,
    /// Batches accepted.
    pub batches: u64,
    /// Samples stored.
    pub samples: u64,
    /// Samples of series not assigned to it.
    pub rejected: u64,
    /// Samples it reported dropping from its buffer (cumulative, as the agent counts them).
    pub dropped_total: u64,
}

#[derive(Debug, Clone, Default)]
struct Agent {
    last_seen: Option<Time>,
    offset: Option<f64>,
    batches: u64,
    samples: u64,
    rejected: u64,
    dropped_total: u64,
    bucket: Option<(f64, Time)>,
}

/// Per-agent request budget: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Refill rate.
    pub per_second: f64,
    /// Bucket size.
    pub burst: f64,
}

/// Freshness and counters of every agent.
#[derive(Debug, Clone)]
pub struct Freshness {
    agents: BTreeMap<String, Agent>,
    stale_after: f64,
}

impl Freshness {
    /// Tracks `agents` (the tokens file's names); an agent is stale after `stale_after`
    /// seconds of silence, and is stale until its first batch.
    pub fn new<'a>(agents: impl IntoIterator<Item = &'a str>, stale_after: f64) -> Self {
        Self {
            agents: agents
                .into_iter()
                .map(|a| (a.to_owned(), Agent::default()))
                .collect(),
            stale_after,
        }
    }

    /// Takes one request from `agent`'s budget; false when it is spent (answer 429).
    pub fn admit(&mut self, agent: &str, now: Time, limit: RateLimit) -> bool {
        let a = self.agents.entry(agent.to_owned()).or_default();
        let (tokens, at) = a.bucket.unwrap_or((limit.burst, now));
        let tokens = (tokens + (now - at).max(0.0) * limit.per_second).min(limit.burst);
        if tokens < 1.0 {
            a.bucket = Some((tokens, now));
            return false;
        }
        a.bucket = Some((tokens - 1.0, now));
        true
    }

    /// Records an accepted batch.
    pub fn batch(
        &mut self,
        agent: &str,
        received: Time,
        offset: f64,
        accepted: u64,
        rejected: u64,
        dropped_total: u64,
    ) {
        let a = self.agents.entry(agent.to_owned()).or_default();
        a.last_seen = Some(received);
        a.offset = Some(offset);
        a.batches += 1;
        a.samples += accepted;
        a.rejected += rejected;
        a.dropped_total = dropped_total;
    }

    /// When `agent`'s last batch arrived.
    pub fn last_batch(&self, agent: &str) -> Option<Time> {
        self.agents.get(agent).and_then(|a| a.last_seen)
    }

    /// Whether `agent` reported within the staleness limit.
    pub fn is_fresh(&self, agent: &str, now: Time) -> bool {
        self.agents
            .get(agent)
            .and_then(|a| a.last_seen)
            .is_some_and(|t| now - t <= self.stale_after)
    }

    /// The freshness of `location` for a snapshot (`local` is always fresh).
    pub fn location(&self, location: &str, now: Time) -> LocationStatus {
        if location == crate::observe::probe::schedule::LOCAL {
            return LocationStatus {
                name: location.to_owned(),
                fresh: true,
                last_seen: Some(now),
            };
        }
        LocationStatus {
            name: location.to_owned(),
            fresh: self.is_fresh(location, now),
            last_seen: self.last_batch(location),
        }
    }

    /// Every agent's status.
    pub fn statuses(&self, now: Time) -> Vec<AgentStatus> {
        self.agents
            .iter()
            .map(|(name, a)| AgentStatus {
                name: name.clone(),
                fresh: self.is_fresh(name, now),
                last_seen: a.last_seen,
                offset_s: a.offset,
                batches: a.batches,
                samples: a.samples,
                rejected: a.rejected,
                dropped_total: a.dropped_total,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_are_stale_until_they_report_and_after_going_silent() {
        let mut f = Freshness::new(["fra"], 30.0);
        assert!(!f.location("fra", 100.0).fresh);
        assert!(f.location("local", 100.0).fresh);
        f.batch("fra", 100.0, -2.0, 10, 0, 0);
        assert!(f.location("fra", 130.0).fresh);
        assert!(!f.location("fra", 130.5).fresh);
        assert_eq!(f.location("fra", 130.5).last_seen, Some(100.0));
        assert!(!f.location("nyc", 100.0).fresh, "unknown agents are never fresh");
    }

    #[test]
    fn the_rate_limit_allows_a_burst_then_the_refill_rate() {
        let mut f = Freshness::new(["fra"], 30.0);
        let limit = RateLimit {
            per_second: 2.0,
            burst: 3.0,
        };
        let admitted = (0..5).filter(|_| f.admit("fra", 10.0, limit)).count();
        assert_eq!(admitted, 3);
        assert!(!f.admit("fra", 10.2, limit));
        assert!(f.admit("fra", 10.6, limit));
        assert!(f.admit("nyc", 10.6, limit), "budgets are per agent");
    }
}
