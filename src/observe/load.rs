//! The snapshot's load figure from what a cloud emits: Octavia's cumulative load-balancer
//! statistics read at each poll (the simulator emits the same counters), turned into rates by
//! [`rates`](super::rates), or the answer of a PromQL rate expression the policy names
//! (Prometheus has made the rate; its newest sample's time is the figure's age). One derivation for every backend, so the simulator's core sees the
//! same lag and gaps a real one does. Pure: readings and `now` come in as arguments.
//!
//! Freshness: a rate whose span ended more than the policy's `scaling.load.maxAge` before
//! `now` is left out of the snapshot (missing, never a stale figure taken for the present).

use super::rates::{Counter, Rates};
use crate::{
    policy::{LoadSourceKind, Policy},
    snapshot::{LoadSignal, LoadSource, Time},
};
use serde::{Deserialize, Serialize};

/// Octavia's statistics of a load balancer (`GET /v2/lbaas/loadbalancers/{id}/stats`, the sum
/// over its listeners) or of one listener: cumulative since the amphora started, reported every
/// heartbeat, zero again after a failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LbStats {
    /// Connections accepted (HTTP: one per request without keep-alive; sloop's figure for
    /// requests).
    #[serde(default)]
    pub total_connections: u64,
    /// Connections open at the report (a gauge, not a counter).
    #[serde(default)]
    pub active_connections: u64,
    /// Requests that ended in an error at the balancer.
    #[serde(default)]
    pub request_errors: u64,
    /// Bytes received.
    #[serde(default)]
    pub bytes_in: u64,
    /// Bytes sent.
    #[serde(default)]
    pub bytes_out: u64,
}

impl LbStats {
    /// Reads the `stats` object of Octavia's answer.
    pub fn parse(body: &serde_json::Value) -> Result<Self, String> {
        let stats = body
            .get("stats")
            .ok_or_else(|| "the answer has no `stats` object".to_owned())?;
        serde_json::from_value(stats.clone()).map_err(|e| format!("`stats`: {e}"))
    }
}

/// The load source a policy uses, once `auto` is resolved: Octavia when the policy routes
/// traffic through a load balancer, none otherwise.
pub fn source_of(policy: &Policy) -> Option<LoadSource> {
    match policy.spec.scaling.load.source {
        LoadSourceKind::Auto => policy.spec.traffic.is_some().then_some(LoadSource::Octavia),
        LoadSourceKind::Octavia => Some(LoadSource::Octavia),
        LoadSourceKind::Prometheus => Some(LoadSource::Prometheus),
        LoadSourceKind::None => None,
    }
}

/// One instant-query answer of a Prometheus load expression: the sum of its series' values,
/// and the newest sample's time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstantSum {
    /// The sum of the values.
    pub value: f64,
    /// The newest sample's time.
    pub at: Time,
}

/// Keeps the previous counters of one policy's load source and derives the snapshot's load.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadDerivation {
    rates: Rates,
    max_age: f64,
    report_interval: f64,
    last: Option<LoadSignal>,
}

impl LoadDerivation {
    /// A derivation with the report interval and freshness limit `policy` sets.
    pub fn new(policy: &Policy) -> Self {
        let spec = &policy.spec.scaling.load;
        Self {
            rates: Rates::new(spec.report_interval.secs()),
            max_age: spec.max_age.secs(),
            report_interval: spec.report_interval.secs(),
            last: None,
        }
    }

    /// Feeds the Octavia statistics read at `now` (`None`: unreadable this poll) and returns the
    /// load the snapshot carries.
    pub fn octavia(&mut self, stats: Option<LbStats>, now: Time) -> Option<LoadSignal> {
        if let Some(s) = stats {
            let mut feed = |series: &str, v: u64| {
                self.rates.observe(
                    series,
                    Counter {
                        value: v as f64,
                        at: now,
                    },
                )
            };
            let requests = feed("total_connections", s.total_connections);
            let errors = feed("request_errors", s.request_errors);
            let bytes_in = feed("bytes_in", s.bytes_in);
            let bytes_out = feed("bytes_out", s.bytes_out);
            if let Some(r) = requests {
                self.last = Some(LoadSignal {
                    requests: r.per_sec,
                    errors: errors.map(|e| e.per_sec),
                    bytes_in: bytes_in.map(|b| b.per_sec),
                    bytes_out: bytes_out.map(|b| b.per_sec),
                    source: LoadSource::Octavia,
                    at: r.at,
                    covers: r.covers,
                });
            }
        }
        self.fresh(now)
    }

    /// Feeds the answers of the policy's Prometheus expressions read at `now` (`requests`
    /// `None`: no answer or no series this pass) and returns the load the snapshot carries.
    /// Prometheus has already made the rate; its sample time is the figure's age, and it covers
    /// one report interval (the scrape interval the policy states).
    pub fn prometheus(
        &mut self,
        requests: Option<InstantSum>,
        errors: Option<InstantSum>,
        now: Time,
    ) -> Option<LoadSignal> {
        if let Some(r) = requests.filter(|r| r.value.is_finite() && r.value >= 0.0) {
            self.last = Some(LoadSignal {
                requests: r.value,
                errors: errors.map(|e| e.value),
                bytes_in: None,
                bytes_out: None,
                source: LoadSource::Prometheus,
                at: r.at.min(now),
                covers: self.report_interval,
            });
        }
        self.fresh(now)
    }

    fn fresh(&self, now: Time) -> Option<LoadSignal> {
        self.last.filter(|l| l.age(now) <= self.max_age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        crate::policy::parse(
            "election-web.yaml",
            include_bytes!("../../policies/election-web.yaml"),
        )
        .unwrap()
    }

    fn stats(requests: u64, errors: u64) -> Option<LbStats> {
        Some(LbStats {
            total_connections: requests,
            request_errors: errors,
            bytes_in: requests * 500,
            bytes_out: requests * 20_000,
            active_connections: 3,
        })
    }

    #[test]
    fn octavia_counters_become_request_error_and_byte_rates_with_their_span() {
        let mut d = LoadDerivation::new(&policy());
        assert_eq!(d.octavia(stats(1_000, 0), 100.0), None, "one reading is no rate");
        let load = d.octavia(stats(4_000, 30), 110.0).unwrap();
        assert_eq!(load.requests, 300.0);
        assert_eq!(load.errors, Some(3.0));
        assert_eq!(load.bytes_out, Some(6e6));
        assert_eq!(
            (load.source, load.at, load.covers),
            (LoadSource::Octavia, 110.0, 10.0)
        );
    }

    #[test]
    fn an_unreadable_source_keeps_the_last_rate_until_it_is_too_old() {
        let p = policy();
        let max_age = p.spec.scaling.load.max_age.secs();
        let mut d = LoadDerivation::new(&p);
        d.octavia(stats(0, 0), 0.0);
        d.octavia(stats(1_000, 0), 10.0);
        assert!(d.octavia(None, 10.0 + max_age).is_some());
        assert_eq!(d.octavia(None, 10.0 + max_age + 1.0), None, "stale is missing");
    }

    #[test]
    fn auto_means_octavia_exactly_when_traffic_goes_through_a_load_balancer() {
        let mut p = policy();
        assert_eq!(source_of(&p), Some(LoadSource::Octavia));
        p.spec.traffic = None;
        assert_eq!(source_of(&p), None);
    }

    #[test]
    fn a_prometheus_rate_is_taken_as_is_with_its_sample_time_and_goes_missing_when_old() {
        let mut p = policy();
        p.spec.scaling.load.source = LoadSourceKind::Prometheus;
        assert_eq!(source_of(&p), Some(LoadSource::Prometheus));
        let max_age = p.spec.scaling.load.max_age.secs();
        let mut d = LoadDerivation::new(&p);
        let sum = |value, at| Some(InstantSum { value, at });
        let load = d
            .prometheus(sum(250.0, 98.0), sum(2.5, 98.0), 100.0)
            .expect("a rate");
        assert_eq!(
            (load.requests, load.errors, load.source, load.at),
            (250.0, Some(2.5), LoadSource::Prometheus, 98.0),
            "one answer is a rate already: no second reading needed"
        );
        assert_eq!(
            d.prometheus(sum(f64::NAN, 99.0), None, 100.0),
            Some(load),
            "NaN is no answer"
        );
        assert_eq!(d.prometheus(None, None, 98.0 + max_age), Some(load));
        assert_eq!(
            d.prometheus(None, None, 98.0 + max_age + 1.0),
            None,
            "a sample older than maxAge is missing, not the last figure"
        );
        let old = d.prometheus(sum(300.0, 10.0), None, 20.0 + max_age);
        assert_eq!(
            old, None,
            "an answer whose newest sample is already too old is missing"
        );
    }

    #[test]
    fn octavia_stats_parse_from_the_api_answer() {
        let body = serde_json::json!({"stats": {"bytes_in": 10, "bytes_out": 20, "active_connections": 1,
            "total_connections": 7, "request_errors": 0}});
        assert_eq!(LbStats::parse(&body).unwrap().total_connections, 7);
        assert!(LbStats::parse(&serde_json::json!({})).is_err());
    }
}
