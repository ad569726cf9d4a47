//! Ground truth: what users experienced, minute by minute, integrated from the same queueing
//! model the probes sample. The rehearsal report computes SLO-violation minutes from this, not
//! from what the controller saw. Pure.
//!
//! Per minute, each instance's served requests are summarised as one shifted exponential
//! (request-weighted mean shift, mean-matched rate); latency percentiles are quantiles of the
//! mixture over instances. A path (location, family) adds `roundTrips ×` its median round-trip
//! time, and every request that meets any packet loss on the path counts as failed (a lost
//! round trip costs a 1 s retransmission, beyond any sensible objective).

use super::{
    network::Network,
    scenario::{LocationSpec, WorldSpec},
    world::{Answer, Vm, latency_params},
};
use crate::snapshot::{IpFamily, Time};
use serde::Serialize;

/// The ground-truth timeline of a run.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Truth {
    /// Location names, in scenario order.
    pub locations: Vec<String>,
    /// One entry per completed minute.
    pub minutes: Vec<MinuteTruth>,
}

/// What users experienced in one minute. Rates are means over the minute.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MinuteTruth {
    /// Start of the minute.
    pub start: Time,
    /// Requests/s offered at the load balancer.
    pub offered: f64,
    /// Requests/s answered in time.
    pub served: f64,
    /// Requests/s refused, dropped (503) or timed out, at the service.
    pub errors: f64,
    /// errors / offered (0 without load).
    pub error_ratio: f64,
    /// Server-side median latency of served requests, seconds.
    pub p50: Option<f64>,
    /// Server-side 95th percentile, seconds.
    pub p95: Option<f64>,
    /// Server-side 99th percentile, seconds.
    pub p99: Option<f64>,
    /// Per location and family.
    pub paths: Vec<PathTruth>,
    /// Mean number of instances that served and were in rotation.
    pub serving: f64,
    /// Most servers in existence (any state) during the minute.
    pub instances: u32,
    /// Server-seconds billed in the minute.
    pub vm_seconds: f64,
    /// Mean utilisation of the serving instances, 0..1.
    pub utilization: f64,
    /// Mean capacity of the serving instances (Σ μ), requests/s.
    pub capacity: f64,
    /// The latency mixture: (weight, shift s, rate) per instance.
    #[serde(skip)]
    pub mixture: Vec<[f64; 3]>,
}

/// What users at one location over one family experienced.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PathTruth {
    /// Location name.
    pub location: String,
    /// Family.
    pub family: IpFamily,
    /// Network time added to each request (round trips × median RTT), seconds.
    pub network: f64,
    /// Share of requests that failed (at the service or on the path).
    pub error_ratio: f64,
    /// Median latency, seconds.
    pub p50: Option<f64>,
    /// 95th percentile, seconds.
    pub p95: Option<f64>,
    /// 99th percentile, seconds.
    pub p99: Option<f64>,
}

impl MinuteTruth {
    /// The `p`-th percentile (0..100) of server-side latency, from the mixture.
    pub fn server_quantile(&self, p: f64) -> Option<f64> {
        mixture_quantile(&self.mixture, p / 100.0)
    }

    /// The `p`-th percentile of latency seen from a location over a family.
    pub fn path_quantile(&self, location: &str, family: IpFamily, p: f64) -> Option<f64> {
        let path = self
            .paths
            .iter()
            .find(|x| x.location == location && x.family == family)?;
        Some(self.server_quantile(p)? + path.network)
    }
}

/// Inverts the CDF of a mixture of shifted exponentials by bisection.
fn mixture_quantile(mix: &[[f64; 3]], q: f64) -> Option<f64> {
    let total: f64 = mix.iter().map(|c| c[0]).sum();
    if total <= 0.0 {
        return None;
    }
    let cdf = |x: f64| {
        mix.iter()
            .map(|c| {
                if x > c[1] {
                    c[0] * (1.0 - (-c[2] * (x - c[1])).exp())
                } else {
                    0.0
                }
            })
            .sum::<f64>()
    };
    let mut lo = mix.iter().map(|c| c[1]).fold(f64::INFINITY, f64::min);
    let mut hi = mix.iter().map(|c| c[1] + 40.0 / c[2]).fold(0.0, f64::max);
    for _ in 0..50 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid) < q * total { lo = mid } else { hi = mid }
    }
    Some(hi)
}

/// Accumulates one minute at a time.
#[derive(Debug, Clone)]
pub(super) struct TruthRecorder {
    truth: Truth,
    families: Vec<(usize, IpFamily)>,
    minute_start: Time,
    offered: f64,
    good: f64,
    errors: f64,
    path_good: Vec<f64>,
    path_net: Vec<f64>,
    serving: f64,
    capacity: f64,
    util: f64,
    vm_seconds: f64,
    instances: u32,
    elapsed: f64,
    departed: Vec<[f64; 3]>,
}

impl TruthRecorder {
    pub fn new(start: Time, locations: &[LocationSpec]) -> Self {
        let families: Vec<(usize, IpFamily)> = (0..locations.len())
            .flat_map(|l| [(l, IpFamily::V6), (l, IpFamily::V4)])
            .collect();
        Self {
            truth: Truth {
                locations: locations.iter().map(|l| l.name.clone()).collect(),
                minutes: Vec::new(),
            },
            path_good: vec![0.0; families.len()],
            path_net: vec![0.0; families.len()],
            families,
            minute_start: start,
            offered: 0.0,
            good: 0.0,
            errors: 0.0,
            serving: 0.0,
            capacity: 0.0,
            util: 0.0,
            vm_seconds: 0.0,
            instances: 0,
            elapsed: 0.0,
            departed: Vec::new(),
        }
    }

    pub fn truth(&self) -> &Truth {
        &self.truth
    }

    /// Keeps the minute's contribution of a server that is going away.
    pub fn depart(&mut self, vm: &Vm) {
        if let Some(c) = component(&vm.minute) {
            self.departed.push(c);
        }
    }

    /// Adds one step ending at `now`.
    pub fn record_step(
        &mut self,
        now: Time,
        dt: f64,
        offered: f64,
        vms: &mut [Vm],
        net: &Network,
        spec: &WorldSpec,
    ) {
        let (floor, timeout) = (spec.service_floor.secs(), spec.request_timeout.secs());
        let (mut good, mut errors, mut routed) = (0.0, 0.0, 0.0);
        let (mut serving, mut capacity, mut util) = (0.0, 0.0, 0.0);
        for vm in vms.iter_mut() {
            routed += vm.lambda;
            match vm.answer(now) {
                Answer::Serves => {
                    let (shift, rate) = latency_params(vm, floor);
                    let served = (vm.lambda - vm.dropped).max(0.0);
                    // Beyond e^-40 the share of late requests is nil; skip the exp on the hot path.
                    let x = rate * (timeout - shift);
                    let late = if x > 40.0 {
                        0.0
                    } else if x > 0.0 {
                        (-x).exp()
                    } else {
                        1.0
                    };
                    let ok = served * (1.0 - late);
                    good += ok;
                    errors += vm.dropped + served * late;
                    vm.minute[0] += ok * dt;
                    vm.minute[1] += ok * dt * shift;
                    vm.minute[2] += ok * dt / rate;
                    if vm.in_rotation() {
                        serving += 1.0;
                        capacity += vm.mu;
                        util += vm.util;
                    }
                }
                Answer::Refuses | Answer::Silent => errors += vm.lambda,
            }
        }
        // Nothing in the pool: the load balancer answers 503 to everything.
        errors += (offered - routed).max(0.0);
        self.offered += offered * dt;
        self.good += good * dt;
        self.errors += errors * dt;
        let rt = spec.round_trips;
        for (k, &(l, f)) in self.families.iter().enumerate() {
            let path = net.path(l, f);
            self.path_good[k] += good * path.clean_probability(rt) * dt;
            self.path_net[k] += rt as f64 * path.median_rtt() * dt;
        }
        self.serving += serving * dt;
        self.capacity += capacity * dt;
        if serving > 0.0 {
            self.util += util / serving * dt;
        }
        self.vm_seconds += vms.len() as f64 * dt;
        self.instances = self.instances.max(vms.len() as u32);
        self.elapsed += dt;
        if now - self.minute_start >= 60.0 - 1e-6 {
            self.finish_minute(vms);
        }
    }

    fn finish_minute(&mut self, vms: &mut [Vm]) {
        let mut mixture = std::mem::take(&mut self.departed);
        for vm in vms.iter_mut() {
            mixture.extend(component(&vm.minute));
            vm.minute = [0.0; 3];
        }
        let e = self.elapsed.max(1e-9);
        let q = |p: f64| mixture_quantile(&mixture, p);
        let (p50, p95, p99) = (q(0.5), q(0.95), q(0.99));
        let offered = self.offered / e;
        let ratio = |good: f64| {
            if self.offered > 0.0 {
                (1.0 - good / self.offered).clamp(0.0, 1.0)
            } else {
                0.0
            }
        };
        let paths = self
            .families
            .iter()
            .enumerate()
            .map(|(k, &(l, family))| {
                let network = self.path_net[k] / e;
                PathTruth {
                    location: self.truth.locations[l].clone(),
                    family,
                    network,
                    error_ratio: ratio(self.path_good[k]),
                    p50: p50.map(|x| x + network),
                    p95: p95.map(|x| x + network),
                    p99: p99.map(|x| x + network),
                }
            })
            .collect();
        self.truth.minutes.push(MinuteTruth {
            start: self.minute_start,
            offered,
            served: self.good / e,
            errors: self.errors / e,
            error_ratio: ratio(self.good),
            p50,
            p95,
            p99,
            paths,
            serving: self.serving / e,
            instances: self.instances,
            vm_seconds: self.vm_seconds,
            utilization: self.util / e,
            capacity: self.capacity / e,
            mixture,
        });
        self.minute_start += 60.0;
        self.offered = 0.0;
        self.good = 0.0;
        self.errors = 0.0;
        self.path_good.iter_mut().for_each(|x| *x = 0.0);
        self.path_net.iter_mut().for_each(|x| *x = 0.0);
        self.serving = 0.0;
        self.capacity = 0.0;
        self.util = 0.0;
        self.vm_seconds = 0.0;
        self.instances = vms.len() as u32;
        self.elapsed = 0.0;
    }
}

/// One instance's minute as (weight, mean shift, mean-matched rate).
fn component(m: &[f64; 3]) -> Option<[f64; 3]> {
    (m[0] > 0.0 && m[2] > 0.0).then(|| [m[0], m[1] / m[0], m[0] / m[2]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_exponential_has_its_textbook_quantiles() {
        // Shift 0.03 s, rate 50/s: p95 = 0.03 + ln(20)/50.
        let q = mixture_quantile(&[[1.0, 0.03, 50.0]], 0.95).unwrap();
        assert!((q - (0.03 + 20f64.ln() / 50.0)).abs() < 1e-6);
        assert_eq!(mixture_quantile(&[], 0.5), None);
    }

    #[test]
    fn a_slow_sixth_of_the_traffic_sets_the_p95() {
        let fast = [5.0, 0.03, 50.0];
        let slow = [1.0, 0.5, 5.0];
        assert!(mixture_quantile(&[fast, slow], 0.95).unwrap() > 0.5);
        assert!(mixture_quantile(&[fast, slow], 0.5).unwrap() < 0.1);
    }
}
