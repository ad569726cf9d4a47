//! Refused agent requests: a per-source budget checked before any work is done, and a
//! rate-limited summary log. A stranger who floods the agent routes with wrong tokens must not
//! be able to fill the disk through the log or burn the CPU on token hashing: each refusal
//! costs one map update, and the log gets at most [`SUMMARY_LINES`] + 1 bounded lines per
//! [`SUMMARY_INTERVAL`] however many requests arrive. Pure: the caller passes `now`.

use crate::snapshot::Time;
use std::{collections::BTreeMap, net::IpAddr};

/// Why a request was refused; the `reason` label of `sloop_agent_refusals_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Refusal {
    /// No `Authorization: Bearer …` or no `X-Sloop-Agent` header.
    MissingCredentials,
    /// The agent name is not one an agent could have (too long, odd characters).
    BadAgentName,
    /// The token is not the named agent's, or no agent has that name.
    WrongToken,
    /// The source sent too many refused requests lately; answered 429 without checking.
    SourceThrottled,
    /// An authenticated agent spent its request budget.
    AgentRate,
}

impl Refusal {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::MissingCredentials => "missing-credentials",
            Refusal::BadAgentName => "bad-agent-name",
            Refusal::WrongToken => "wrong-token",
            Refusal::SourceThrottled => "source-throttled",
            Refusal::AgentRate => "agent-rate",
        }
    }
}

/// Seconds between two summaries.
pub const SUMMARY_INTERVAL: f64 = 10.0;
/// Most (reason, source) lines per summary; the rest are folded into one line.
pub const SUMMARY_LINES: usize = 8;
/// Most sources tracked at once (budgets and summary counts each); a flood from more sources
/// than that is still refused, and counted under "other sources".
pub const MAX_SOURCES: usize = 4096;

/// Per-source budget for refused requests: `burst` refusals at once, refilled at
/// `per_second`. A source that spent it gets 429 before its token is even looked at. Requests
/// that authenticate spend nothing, so a working agent is never throttled by this.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceLimit {
    /// Refill rate.
    pub per_second: f64,
    /// Bucket size.
    pub burst: f64,
}

impl Default for SourceLimit {
    fn default() -> Self {
        Self {
            per_second: 1.0,
            burst: 20.0,
        }
    }
}

/// The refusal side of the ingest state.
#[derive(Debug)]
pub struct Refusals {
    limit: SourceLimit,
    budgets: BTreeMap<IpAddr, (f64, Time)>,
    counts: BTreeMap<(Refusal, Option<IpAddr>), u64>,
    since: Option<Time>,
}

/// One summary line: a reason, a source (`None`: sources past the tracking limit) and a count.
pub type SummaryLine = (Refusal, Option<IpAddr>, u64);

impl Refusals {
    /// Refusals budgeted by `limit`.
    pub fn new(limit: SourceLimit) -> Self {
        Self {
            limit,
            budgets: BTreeMap::new(),
            counts: BTreeMap::new(),
            since: None,
        }
    }

    fn refill(&self, (tokens, at): (f64, Time), now: Time) -> f64 {
        (tokens + (now - at).max(0.0) * self.limit.per_second).min(self.limit.burst)
    }

    /// Whether `source` may still be heard (its refusal budget is not spent).
    pub fn may_try(&self, source: Option<IpAddr>, now: Time) -> bool {
        let Some(ip) = source else { return true };
        self.budgets.get(&ip).is_none_or(|b| self.refill(*b, now) >= 1.0)
    }

    /// Counts one refusal of `source`; all but [`Refusal::SourceThrottled`] and
    /// [`Refusal::AgentRate`] spend the source's budget.
    pub fn refuse(&mut self, reason: Refusal, source: Option<IpAddr>, now: Time) {
        self.since.get_or_insert(now);
        if let Some(ip) = source
            && !matches!(reason, Refusal::SourceThrottled | Refusal::AgentRate)
        {
            if !self.budgets.contains_key(&ip) && self.budgets.len() >= MAX_SOURCES {
                // Forget the sources that have recovered their whole budget first.
                let limit = self.limit;
                self.budgets
                    .retain(|_, b| (b.0 + (now - b.1).max(0.0) * limit.per_second) < limit.burst);
            }
            if self.budgets.contains_key(&ip) || self.budgets.len() < MAX_SOURCES {
                let current = self.budgets.get(&ip).copied().unwrap_or((self.limit.burst, now));
                let tokens = self.refill(current, now);
                self.budgets.insert(ip, ((tokens - 1.0).max(0.0), now));
            }
        }
        let tracked = source
            .filter(|ip| self.counts.len() < MAX_SOURCES || self.counts.contains_key(&(reason, Some(*ip))));
        *self.counts.entry((reason, tracked)).or_default() += 1;
    }

    /// The summary of the refusals since the last one, once [`SUMMARY_INTERVAL`] has passed
    /// since the first of them (and the counts start over); `None` before that or when there
    /// were none. Most frequent first, at most [`SUMMARY_LINES`] lines, plus the number of
    /// requests folded away.
    pub fn summary_due(&mut self, now: Time) -> Option<(Vec<SummaryLine>, u64)> {
        let since = self.since?;
        if now - since < SUMMARY_INTERVAL {
            return None;
        }
        self.since = None;
        let mut lines: Vec<SummaryLine> = std::mem::take(&mut self.counts)
            .into_iter()
            .map(|((r, ip), n)| (r, ip, n))
            .collect();
        lines.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
        let folded = lines.iter().skip(SUMMARY_LINES).map(|l| l.2).sum();
        lines.truncate(SUMMARY_LINES);
        Some((lines, folded))
    }
}

/// `text` cut to at most `max` characters, control characters replaced, for a log field:
/// anything a client sent is bounded before it reaches a log line.
pub fn bounded(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn a_source_is_throttled_after_its_burst_of_refusals_and_recovers() {
        let mut r = Refusals::new(SourceLimit {
            per_second: 1.0,
            burst: 3.0,
        });
        for _ in 0..3 {
            assert!(r.may_try(ip(1), 0.0));
            r.refuse(Refusal::WrongToken, ip(1), 0.0);
        }
        assert!(!r.may_try(ip(1), 0.0), "budget spent");
        assert!(r.may_try(ip(2), 0.0), "other sources are not affected");
        assert!(r.may_try(ip(1), 1.0), "one refill per second");
        r.refuse(Refusal::SourceThrottled, ip(1), 0.5);
        assert!(r.may_try(ip(1), 1.0), "a throttled answer spends nothing");
    }

    #[test]
    fn summaries_come_once_per_interval_with_bounded_lines() {
        let mut r = Refusals::new(SourceLimit::default());
        for i in 0..100u8 {
            for _ in 0..=i {
                r.refuse(Refusal::WrongToken, ip(i), 1.0);
            }
        }
        assert_eq!(r.summary_due(5.0), None, "not before the interval");
        let (lines, folded) = r.summary_due(11.0).expect("due");
        assert_eq!(lines.len(), SUMMARY_LINES);
        assert_eq!(lines[0], (Refusal::WrongToken, ip(99), 100));
        let shown: u64 = lines.iter().map(|l| l.2).sum();
        assert_eq!(shown + folded, (1..=100).sum::<u64>(), "every refusal is counted");
        assert_eq!(r.summary_due(200.0), None, "nothing new, nothing logged");
    }

    #[test]
    fn the_tracked_sources_are_bounded() {
        let mut r = Refusals::new(SourceLimit::default());
        for i in 0..(MAX_SOURCES as u32 + 500) {
            let ip = Some(IpAddr::from(i.to_be_bytes()));
            r.refuse(Refusal::WrongToken, ip, 0.0);
        }
        assert!(r.budgets.len() <= MAX_SOURCES);
        assert!(r.counts.len() <= MAX_SOURCES + 1);
        let (_, folded) = r.summary_due(100.0).expect("due");
        assert!(folded > 0);
    }

    #[test]
    fn bounded_cuts_and_cleans() {
        assert_eq!(bounded("fra", 64), "fra");
        assert_eq!(bounded(&"x".repeat(8192), 8).len(), 8 + '…'.len_utf8());
        assert_eq!(bounded("a\nb\x1b", 8), "a?b?");
    }
}
