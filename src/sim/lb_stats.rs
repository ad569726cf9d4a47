//! The simulated load balancer's statistics, kept the way Octavia keeps them: cumulative
//! counters in the amphora ([`LbCounters`], part of the pure world), reported to the API every
//! heartbeat ([`OctaviaStats`], part of the driver). The driver reads them at each poll and the
//! shared derivation (`observe::load`) turns them into the snapshot's load, exactly as for a
//! real cloud; the true offered load stays in the world for the report.

use super::world::{Answer, Vm};
use crate::{observe::load::LbStats, snapshot::Time};

/// Request size the byte counters assume, in and out (an HTML page with its headers).
const BYTES_IN_PER_REQUEST: f64 = 900.0;
const BYTES_OUT_PER_REQUEST: f64 = 24_000.0;

/// Cumulative counters of the balancer since the scenario started.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LbCounters {
    /// Requests (connections) accepted.
    pub requests: f64,
    /// Requests that ended in an error: dropped by a full queue, sent to a member that refuses
    /// or hangs, or arriving while no member is in rotation.
    pub errors: f64,
    /// Bytes received.
    pub bytes_in: f64,
    /// Bytes sent.
    pub bytes_out: f64,
}

impl LbCounters {
    /// Adds one step of `dt` seconds in which `offered` requests/s arrived and were split over
    /// `vms` as their `lambda` says.
    pub(super) fn record(&mut self, offered: f64, vms: &[Vm], now: Time, dt: f64) {
        let routed: f64 = vms.iter().map(|v| v.lambda).sum();
        let failed: f64 = vms
            .iter()
            .map(|v| {
                if v.answer(now) == Answer::Serves {
                    v.dropped
                } else {
                    v.lambda
                }
            })
            .sum();
        let errors = failed + (offered - routed).max(0.0);
        self.requests += offered * dt;
        self.errors += errors * dt;
        self.bytes_in += offered * dt * BYTES_IN_PER_REQUEST;
        self.bytes_out += (offered - errors).max(0.0) * dt * BYTES_OUT_PER_REQUEST;
    }
}

/// What Octavia's statistics API answers: the counters as of the last heartbeat.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct OctaviaStats {
    interval: f64,
    next: Time,
    reported: LbStats,
}

impl OctaviaStats {
    /// Statistics reported every `interval` seconds, the first report after `now`.
    pub(super) fn new(interval: f64, now: Time) -> Self {
        let interval = interval.max(1.0);
        Self {
            interval,
            next: now + interval,
            reported: LbStats::default(),
        }
    }

    /// Takes a heartbeat's report when one is due at `now`.
    pub(super) fn sample(&mut self, counters: &LbCounters, now: Time) {
        if now < self.next {
            return;
        }
        while self.next <= now {
            self.next += self.interval;
        }
        self.reported = LbStats {
            total_connections: counters.requests as u64,
            active_connections: 0,
            request_errors: counters.errors as u64,
            bytes_in: counters.bytes_in as u64,
            bytes_out: counters.bytes_out as u64,
        };
    }

    /// The statistics as the API returns them now.
    pub(super) fn read(&self) -> LbStats {
        self.reported
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_answers_the_last_heartbeat_not_the_live_counters() {
        let mut counters = LbCounters::default();
        let mut stats = OctaviaStats::new(10.0, 0.0);
        counters.requests = 500.0;
        stats.sample(&counters, 5.0);
        assert_eq!(stats.read().total_connections, 0, "no heartbeat yet");
        stats.sample(&counters, 10.0);
        counters.requests = 900.0;
        stats.sample(&counters, 15.0);
        assert_eq!(stats.read().total_connections, 500);
        stats.sample(&counters, 21.0);
        assert_eq!(stats.read().total_connections, 900);
    }
}
