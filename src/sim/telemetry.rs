//! Ceilometer-like telemetry from the world's counters: at the end of each granularity period
//! a metric reads the mean over that period, stamped with the period's end, as Gnocchi returns
//! it, and becomes readable only the scenario's `signals.metricdDelay` later (metricd's
//! processing delay). A policy reading a finer granularity than the archive keeps gets the
//! archive's (`signals.archiveGranularity`). `cpu` is Ceilometer's cumulative nanosecond counter
//! turned into utilisation by the same arithmetic as for Gnocchi (`observe::rates`). Readings
//! are missing (never zero) during a telemetry blackout, for servers that are not running and
//! for hosts that are down. Part of the driver: it reads the world, never changes it.
//!
//! Supported metrics — instance scope: `cpu` (utilisation 0..1), `cpu_util` (percent),
//! `memory.usage` (MiB), `network.incoming.bytes` and `network.outgoing.bytes` (bytes/s);
//! hypervisor scope: any name containing `steal` (percent), `compute.node.cpu.percent`,
//! `compute.node.cpu.idle.percent`. Other names always read as missing.

use super::{rng::Rng, scenario::Signals, world::World};
use crate::{
    observe::rates::cpu_utilisation,
    policy::{MetricScope, MetricSpec, Policy, TelemetrySource},
    snapshot::{InstanceStatus, Reading, TelemetryReadings, Time},
};
use std::collections::BTreeMap;

/// Telemetry state: the counters at the last period boundary of each granularity, and the
/// readings published then.
#[derive(Debug, Clone, Default)]
pub(super) struct Telemetry {
    metrics: Vec<MetricSpec>,
    /// Per granularity (s): the next boundary.
    next: Vec<(f64, Time)>,
    /// Per granularity: cpu seconds per instance at the previous boundary.
    vm_marks: BTreeMap<u64, BTreeMap<String, f64>>,
    /// Per granularity: (steal integral, busy integral) per host at the previous boundary.
    host_marks: BTreeMap<u64, Vec<(f64, f64)>>,
    readings: TelemetryReadings,
    /// The archive's finest granularity, when coarser than a metric asks for.
    archive: f64,
    /// Seconds from a period's end until its reading is visible.
    delay: f64,
    /// Readings measured but not yet processed: (visible at, scope, id, metric, reading).
    pending: Vec<(Time, MetricScope, String, String, Reading)>,
}

impl Telemetry {
    /// Telemetry for the metrics `policy` reads, with the first periods ending after `now`,
    /// lagging as `signals` says.
    pub(super) fn new(policy: &Policy, now: Time, signals: &Signals) -> Self {
        let metrics = policy
            .spec
            .telemetry
            .as_ref()
            .map(|t| t.metrics.clone())
            .unwrap_or_default();
        // metricd's processing delay is Gnocchi's; a scraped source (Prometheus, or the
        // metrics-server the HPA baseline reads) is readable at the scrape.
        let scraped = policy
            .spec
            .telemetry
            .as_ref()
            .is_some_and(|t| t.source == TelemetrySource::Prometheus);
        let mut t = Telemetry {
            metrics,
            archive: signals.archive_granularity.map_or(1.0, |g| g.secs()),
            delay: if scraped {
                0.0
            } else {
                signals.metricd_delay.secs().max(0.0)
            },
            ..Telemetry::default()
        };
        for m in &t.metrics {
            let g = t.granularity(m);
            if !t.next.iter().any(|(x, _)| *x == g) {
                t.next.push((g, ((now / g).floor() + 1.0) * g));
            }
        }
        t
    }

    /// The granularity `m` is read at: what it asks for, or the archive's when coarser.
    fn granularity(&self, m: &MetricSpec) -> f64 {
        m.granularity.secs().max(self.archive).max(1.0)
    }

    /// The readings published so far.
    pub(super) fn readings(&self) -> &TelemetryReadings {
        &self.readings
    }

    /// Publishes readings for every granularity whose period ended by the world's time.
    pub(super) fn sample(&mut self, world: &World, rng: &mut Rng) {
        let now = world.now();
        let blackout = world.telemetry_blackout();
        for k in 0..self.next.len() {
            let (g, due) = self.next[k];
            if due > now {
                continue;
            }
            self.next[k].1 = due + g;
            let gk = g as u64;
            let metrics: Vec<MetricSpec> = self
                .metrics
                .iter()
                .filter(|m| self.granularity(m) == g)
                .cloned()
                .collect();
            let vm_marks = self.vm_marks.remove(&gk).unwrap_or_default();
            let host_marks = self.host_marks.remove(&gk).unwrap_or_default();
            let visible = due + self.delay;
            let mut new_vm_marks = BTreeMap::new();
            let vcpus = world.p.vcpus;
            for vm in world.vms() {
                // Ceilometer's `cpu`: nanoseconds of CPU time over all the server's vCPUs.
                let cpu_ns = vm.cpu_seconds * f64::from(vcpus) * 1e9;
                new_vm_marks.insert(vm.id.clone(), cpu_ns);
                let util = vm_marks
                    .get(&vm.id)
                    .map(|prev| cpu_utilisation(cpu_ns - prev, g, vcpus).clamp(0.0, 1.0));
                let running = vm.status == InstanceStatus::Active || vm.status == InstanceStatus::Migrating;
                for m in metrics.iter().filter(|m| m.scope == MetricScope::Instance) {
                    let value = util
                        .filter(|_| running && !blackout)
                        .and_then(|u| instance_metric(&m.name, u, vm.mu));
                    let reading = Reading {
                        value,
                        at: value.map(|_| due),
                    };
                    self.pending.push((
                        visible,
                        MetricScope::Instance,
                        vm.id.clone(),
                        m.name.clone(),
                        reading,
                    ));
                }
            }
            let hosts = world.hosts();
            let new_host_marks: Vec<(f64, f64)> = hosts
                .iter()
                .map(|h| (h.steal_integral, h.busy_integral))
                .collect();
            for (i, h) in hosts.iter().enumerate() {
                let means = host_marks.get(i).map(|(s, b)| {
                    (
                        (h.steal_integral - s) / g,
                        (h.busy_integral - b) / g / h.vcpus.max(1) as f64,
                    )
                });
                for m in metrics.iter().filter(|m| m.scope == MetricScope::Hypervisor) {
                    let noise = rng.normal(0.0, 0.3);
                    let value = means
                        .filter(|_| !h.down && !blackout)
                        .and_then(|(steal, busy)| host_metric(&m.name, (steal + noise).max(0.0), busy));
                    let reading = Reading {
                        value,
                        at: value.map(|_| due),
                    };
                    self.pending.push((
                        visible,
                        MetricScope::Hypervisor,
                        h.name.clone(),
                        m.name.clone(),
                        reading,
                    ));
                }
            }
            self.vm_marks.insert(gk, new_vm_marks);
            self.host_marks.insert(gk, new_host_marks);
        }
        self.publish(world);
    }

    /// Makes the readings whose processing delay has passed visible, in the order measured.
    fn publish(&mut self, world: &World) {
        let now = world.now();
        let readings = &mut self.readings;
        readings.instances.retain(|id, _| world.vm(id).is_some());
        self.pending.retain(|(visible, scope, id, metric, reading)| {
            if *visible > now {
                return true;
            }
            let target = match scope {
                MetricScope::Instance if world.vm(id).is_none() => return false,
                MetricScope::Instance => &mut readings.instances,
                MetricScope::Hypervisor => &mut readings.hypervisors,
            };
            target
                .entry(id.clone())
                .or_default()
                .insert(metric.clone(), *reading);
            false
        });
    }
}

fn instance_metric(name: &str, util: f64, mu: f64) -> Option<f64> {
    match name {
        "cpu" => Some(util),
        "cpu_util" | "cpu.util" => Some(util * 100.0),
        "memory.usage" => Some(700.0 + 500.0 * util),
        "network.incoming.bytes" => Some(util * mu * 900.0),
        "network.outgoing.bytes" => Some(util * mu * 24_000.0),
        _ => None,
    }
}

fn host_metric(name: &str, steal: f64, busy: f64) -> Option<f64> {
    match name {
        n if n.contains("steal") => Some(steal),
        "compute.node.cpu.percent" => Some((busy * 100.0).min(100.0)),
        "compute.node.cpu.idle.percent" => Some((100.0 - busy * 100.0).max(0.0)),
        _ => None,
    }
}
