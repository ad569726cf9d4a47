//! Probe samples drawn from the world: one HTTPS request through the load balancer (service
//! probes) or straight to an instance (per-instance probes), from a location over a family.
//! Pure: the caller passes the generator, so probe draws never disturb the world's own stream.
//!
//! A request is DNS (about 1 ms, cached), then `roundTrips` exchanges on the path — connect,
//! TLS, and the request whose last exchange also waits for the server — and a short transfer.
//! A refused connection fails after one round trip; a silent target fails at the timeout.

use super::{
    rng::Rng,
    world::{Answer, Vm, World, latency_params},
};
use crate::snapshot::{IpFamily, Phases, Sample};

/// Where a probe goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// The service address (the load balancer).
    Service,
    /// One instance's own address.
    Instance(&'a str),
}

impl World {
    /// One probe from location index `loc` over `family`, started now, failing after `timeout`
    /// seconds. `None` when the location's agent is silent (no sample reaches the controller).
    pub fn probe(
        &self,
        target: Target<'_>,
        loc: usize,
        family: IpFamily,
        timeout: f64,
        rng: &mut Rng,
    ) -> Option<Sample> {
        if self.network.is_silent(loc) {
            return None;
        }
        let at = self.now;
        let path = *self.network.path(loc, family);
        let fail = |latency: f64, phases: Option<Phases>| Sample {
            at,
            latency: latency.min(timeout),
            ok: false,
            phases,
        };
        let dns = 0.0005 + rng.exponential(2000.0);
        let mut phases = Phases {
            dns,
            ..Phases::default()
        };
        // The server side first: which instance answers, and how.
        let server = match target {
            Target::Service => match self.pick_member(rng) {
                Some(vm) => self.server_time(vm, rng),
                // An empty pool: the load balancer answers 503 itself.
                None => ServerTime::Error(0.0005),
            },
            Target::Instance(id) => match self.vm(id) {
                Some(vm) => self.server_time(vm, rng),
                None => ServerTime::Silent,
            },
        };
        let Some(connect) = path.exchange(rng) else {
            return Some(fail(timeout, None));
        };
        phases.connect = connect;
        // Straight to an instance, a refusal shows at connect; through the LB, the TCP and TLS
        // sessions end at the load balancer, which then answers 502/503 after its own attempt.
        if matches!(target, Target::Instance(_)) {
            match server {
                ServerTime::Refused => return Some(fail(dns + connect, Some(phases))),
                ServerTime::Silent => return Some(fail(timeout, Some(phases))),
                _ => {}
            }
        }
        let mut total = dns + connect;
        for _ in 2..self.p.spec.round_trips.max(2) {
            let Some(tls) = path.exchange(rng) else {
                return Some(fail(timeout, Some(phases)));
            };
            phases.tls += tls;
            total += tls;
        }
        let Some(request) = path.exchange(rng) else {
            return Some(fail(timeout, Some(phases)));
        };
        let (server_secs, ok) = match server {
            ServerTime::Served(s) => (s, true),
            ServerTime::Error(s) => (s, false),
            ServerTime::Refused => (0.001, false),
            ServerTime::Silent => return Some(fail(timeout, Some(phases))),
        };
        phases.ttfb = request + server_secs;
        phases.transfer = 0.0005 + path.median_rtt() * 0.1;
        total += phases.ttfb + phases.transfer;
        if total > timeout {
            return Some(fail(timeout, Some(phases)));
        }
        Some(Sample {
            at,
            latency: total,
            ok,
            phases: Some(phases),
        })
    }

    /// A pool member chosen by weight, as the load balancer would.
    fn pick_member(&self, rng: &mut Rng) -> Option<&Vm> {
        let total: u64 = self
            .vms
            .iter()
            .filter(|v| v.in_rotation())
            .map(|v| v.member.unwrap_or(0) as u64)
            .sum();
        if total == 0 {
            return None;
        }
        let mut x = rng.uniform() * total as f64;
        for vm in self.vms.iter().filter(|v| v.in_rotation()) {
            x -= vm.member.unwrap_or(0) as f64;
            if x < 0.0 {
                return Some(vm);
            }
        }
        self.vms.iter().rev().find(|v| v.in_rotation())
    }

    fn server_time(&self, vm: &Vm, rng: &mut Rng) -> ServerTime {
        match vm.answer(self.now) {
            Answer::Serves => {
                // A share of arrivals is dropped with a fast 503 while the queue is full.
                if vm.lambda > 0.0 && rng.bernoulli(vm.dropped / vm.lambda) {
                    return ServerTime::Error(self.p.spec.service_floor.secs());
                }
                let (shift, rate) = latency_params(vm, self.p.spec.service_floor.secs());
                ServerTime::Served(shift + rng.exponential(rate))
            }
            Answer::Refuses => ServerTime::Refused,
            Answer::Silent => ServerTime::Silent,
        }
    }
}

enum ServerTime {
    Served(f64),
    Error(f64),
    Refused,
    Silent,
}
