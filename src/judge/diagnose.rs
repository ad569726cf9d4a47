//! From verdicts and instance health to a diagnosis, and the capacity the load needs. Pure.
//!
//! | observations                                   | diagnosis        |
//! |------------------------------------------------|------------------|
//! | one instance bad from everywhere, peers fine   | instance fault   |
//! | a host's metric rule holds, or ≥2 of its VMs bad| host fault       |
//! | slow from ≥ quorum locations, busy             | capacity         |
//! | bad from fewer than quorum locations / 1 family| network path     |
//! | needed capacity beyond every guard             | flood            |
//! | needed well below serving, SLO comfortable     | over-provisioned |

use super::{
    health::{Health, InstanceHealth},
    sizing,
};
use crate::{
    decision::{Diagnosis, SizingSignal, SloState, Verdict},
    history::History,
    policy::{Indicator, Policy},
    snapshot::{Instance, InstanceStatus, IpFamily, Snapshot, Time},
};
use serde::{Deserialize, Serialize};

/// Utilisation below which a zero request rate is believable (an idle service).
const IDLE_UTILIZATION: f64 = 0.05;

/// Relative band around the utilisation target inside which the size is left alone.
pub const UTILIZATION_TOLERANCE: f64 = 0.1;

/// What the judge knows about capacity this tick.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Capacity {
    /// Instances taking traffic and healthy.
    pub serving: u32,
    /// Instances booting or not yet admitted (capacity on its way).
    pub pending: u32,
    /// All instances of the group that are not being deleted.
    pub total: u32,
    /// Offered load (requests/s), measured or estimated.
    pub load: Option<f64>,
    /// Mean CPU utilisation of serving instances (0..1), when telemetry has it (it lags).
    pub utilization: Option<f64>,
    /// Utilisation implied by the current load and the learned service rate (does not lag).
    pub load_utilization: Option<f64>,
    /// This tick's observation of one instance's service rate, for the history to smooth.
    pub observed_service_rate: Option<f64>,
    /// Instances the load needs by the utilisation target and the latency model.
    pub needed: Option<u32>,
    /// Instances the guards allow.
    pub allowed: u32,
    /// True when required telemetry is missing.
    pub telemetry_missing: bool,
    /// The signal `needed` came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sizing: Option<SizingSignal>,
    /// Instances the load forecast one horizon ahead needs, when more than `needed` (the
    /// present load's figure): the share of the size a forecast asks for, which scale-in may
    /// release once the forecast no longer asks for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast_servers: Option<u32>,
    /// The forecast behind `forecast_servers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast: Option<super::forecast::Forecast>,
}

impl Capacity {
    /// Instances the present load needs (`needed`), without the forecast.
    pub fn present_servers(&self) -> Option<u32> {
        self.needed
    }

    /// Instances to size for: the present load's figure or the forecast's, whichever is higher.
    pub fn sized_for(&self) -> Option<u32> {
        match (self.needed, self.forecast_servers) {
            (Some(n), Some(f)) => Some(n.max(f)),
            (n, f) => n.or(f),
        }
    }
}

/// Whether an instance takes traffic.
pub fn in_rotation(policy: &Policy, inst: &Instance) -> bool {
    takes_traffic(policy.spec.traffic.is_some(), inst)
}

/// Whether an instance takes traffic, `pooled` saying whether its group has a load-balancer
/// pool (the status page applies the same rule as the judge).
pub fn takes_traffic(pooled: bool, inst: &Instance) -> bool {
    inst.status == InstanceStatus::Active
        && match (pooled, inst.member) {
            (false, _) => true,
            (true, Some(m)) => m.weight > 0 && m.admin_up && !m.error,
            (true, None) => false,
        }
}

/// Granularity of the `cpu` metric the policy reads (60 s when unspecified).
fn cpu_granularity(policy: &Policy) -> f64 {
    policy
        .spec
        .telemetry
        .as_ref()
        .and_then(|t| t.metrics.iter().find(|m| m.name == "cpu"))
        .map_or(60.0, |m| m.granularity.secs())
}

/// The mean load over `[from, to]` from the loads the history remembers, if it was steady
/// (within ±10 %) and seen at least twice.
fn stable_load(history: &History, from: f64, to: f64) -> Option<f64> {
    let seen: Vec<f64> = history
        .loads
        .iter()
        .filter(|(t, _)| *t >= from && *t <= to)
        .map(|(_, l)| *l)
        .collect();
    if seen.len() < 2 {
        return None;
    }
    let mean = seen.iter().sum::<f64>() / seen.len() as f64;
    seen.iter().all(|l| (l / mean - 1.0).abs() <= 0.1).then_some(mean)
}

/// No capacity is on its way or under repair, so the serving set is the one the load was on.
fn cap_stable(snap: &Snapshot, history: &History) -> bool {
    history.ladders.is_empty()
        && !snap.inventory.iter().any(|i| {
            matches!(
                i.status,
                InstanceStatus::Building | InstanceStatus::Rebooting | InstanceStatus::Migrating
            )
        })
}

/// The largest group the guards allow (size, instances, vCPUs, RAM).
pub fn allowed_instances(policy: &Policy) -> u32 {
    let s = &policy.spec;
    let mut allowed = s.group.size.max;
    if let Some(m) = s.limits.max_instances {
        allowed = allowed.min(m);
    }
    if let (Some(cap), Some(v)) = (s.limits.max_vcpus, s.group.template.vcpus)
        && v > 0
    {
        allowed = allowed.min(cap / v);
    }
    if let (Some(cap), Some(r)) = (s.limits.max_ram, s.group.template.ram)
        && r.bytes() > 0
    {
        allowed = allowed.min((cap.bytes() / r.bytes()) as u32);
    }
    allowed
}

fn cpu_of(snap: &Snapshot, id: &str) -> Option<f64> {
    snap.telemetry
        .instances
        .get(id)
        .and_then(|m| m.get("cpu"))
        .and_then(|r| r.value)
}

/// Estimates load, utilisation and the capacity needed.
pub fn capacity(
    policy: &Policy,
    snap: &Snapshot,
    health: &[InstanceHealth],
    history: &History,
    now: Time,
) -> Capacity {
    // When more of the group looks unhealthy than the freeze threshold, the per-instance verdicts
    // are not trusted (a probe or network fault is likelier), so they do not remove capacity.
    let judged = health.iter().filter(|h| h.health != Health::Starting).count();
    let bad = health
        .iter()
        .filter(|h| matches!(h.health, Health::Unhealthy))
        .count();
    let distrust =
        judged > 0 && bad as f64 > policy.spec.limits.freeze_when_unhealthy_above.fraction() * judged as f64;
    // `health` is in inventory order (see `health::judge_instances`), so they zip.
    let health_of = |k: usize| health.get(k).map_or(Health::Unknown, |h| h.health);
    // In rotation and not judged unhealthy serves (a new instance in its grace period included).
    let healthy = |k: usize| distrust || !matches!(health_of(k), Health::Unhealthy);
    // Booting instances are `Starting`, not unhealthy: they are capacity on its way.
    let judged_bad = |k: usize| matches!(health_of(k), Health::Unhealthy | Health::Slow);
    let live: Vec<(usize, &Instance)> = snap
        .inventory
        .iter()
        .enumerate()
        .filter(|(_, i)| i.status != InstanceStatus::Deleting)
        .collect();
    let serving: Vec<&Instance> = live
        .iter()
        .filter(|(k, i)| in_rotation(policy, i) && healthy(*k))
        .map(|(_, i)| *i)
        .collect();
    let pending = live
        .iter()
        .filter(|(k, i)| {
            matches!(i.status, InstanceStatus::Building | InstanceStatus::Rebooting | InstanceStatus::Rebuilding)
                || (i.status == InstanceStatus::Active && !in_rotation(policy, i) && !judged_bad(*k))
                // Capacity under repair is on its way back: do not buy more for it.
                || (history.ladders.contains_key(&i.id) && !in_rotation(policy, i))
        })
        .count() as u32;
    let wants_cpu = policy.spec.scaling.target_utilization.is_some()
        && policy
            .spec
            .telemetry
            .as_ref()
            .is_some_and(|t| t.metrics.iter().any(|m| m.name == "cpu"));
    let cpus: Vec<f64> = serving.iter().filter_map(|i| cpu_of(snap, &i.id)).collect();
    let utilization = (!cpus.is_empty()).then(|| cpus.iter().sum::<f64>() / cpus.len() as f64);
    let telemetry_missing = wants_cpu && !serving.is_empty() && cpus.len() * 2 < serving.len();

    // A balancer that counts nothing while its servers are busy is not counting (Octavia's noop
    // driver and some providers keep zeros): the rate is then no evidence of an idle service.
    let measured = snap
        .load
        .filter(|l| l.requests > 0.0 || utilization.is_none_or(|u| u < IDLE_UTILIZATION))
        .map(|l| (l.requests, l.source));
    let mut load = measured.map(|(r, _)| r);
    // Learn one instance's service rate from utilisation, but only against the load of the same
    // period: a Ceilometer reading is the mean over its granularity and lags a surge by up to a
    // minute, so dividing today's load by it would invent capacity that is not there.
    let observed_service_rate = match utilization {
        Some(u) if (0.05..=0.95).contains(&u) && !cpus.is_empty() && cap_stable(snap, history) => {
            let reading_at = serving
                .iter()
                .filter_map(|i| snap.telemetry.instances.get(&i.id)?.get("cpu")?.at)
                .fold(f64::NEG_INFINITY, f64::max);
            let granularity = cpu_granularity(policy);
            stable_load(history, reading_at - granularity, reading_at)
                .map(|l| l / (cpus.len() as f64 * u))
                .filter(|mu| *mu > 0.0)
        }
        _ => None,
    };
    let service_rate = history
        .service_rate
        .or(observed_service_rate)
        .filter(|mu| *mu > 0.0);
    let mut sizing = measured.map(|(_, source)| SizingSignal::RequestRate(source));
    if load.is_none()
        && let (Some(mu), false) = (service_rate, cpus.is_empty())
    {
        load = Some(cpus.iter().sum::<f64>() * mu);
        sizing = Some(SizingSignal::EstimatedLoad);
    }
    // Utilisation as the load says it is now (telemetry lags; the balancer's count does not).
    let load_utilization = match (load, service_rate) {
        (Some(l), Some(mu)) if !serving.is_empty() && mu > 0.0 => Some(l / (serving.len() as f64 * mu)),
        _ => utilization,
    };

    let mut needed: Option<u32> = None;
    if let (Some(l), Some(mu), Some(target)) = (load, service_rate, policy.spec.scaling.target_utilization) {
        let target = target.fraction().max(0.01);
        // Within the tolerance band around the target (HPA's 10 %) the current size stands, so
        // small wobbles (or one instance out for repair) do not buy or sell capacity.
        let within = load_utilization.is_some_and(|u| (u / target - 1.0).abs() <= UTILIZATION_TOLERANCE);
        needed = Some(if within {
            serving.len() as u32
        } else {
            (l / (mu * target)).ceil() as u32
        });
    }
    if let (Some(l), Some(mu), Some(name)) = (load, service_rate, &policy.spec.scaling.latency_objective)
        && let Some(n) = latency_needed(policy, snap, name, l, mu)
    {
        needed = Some(needed.map_or(n, |x| x.max(n)));
    }
    if needed.is_none() {
        // No request rate to size from (no source, or no per-server rate learned yet).
        sizing = None;
        if let (Some(u), Some(target)) = (utilization, policy.spec.scaling.target_utilization) {
            needed = Some(sizing::by_utilization(serving.len() as u32, u, target.fraction()));
            sizing = Some(SizingSignal::Utilization);
        }
        if let Some(n) = sizing::by_latency(policy, snap, &serving)
            && needed.is_none_or(|x| n > x)
        {
            needed = Some(n);
            sizing = Some(SizingSignal::Latency);
        }
    }
    // The forecast sizes like the present load, without the tolerance band: it only counts when
    // it is above the present by more than the band (`ForecastState::forecast`).
    let forecast = load
        .filter(|_| needed.is_some())
        .and_then(|l| history.forecast.forecast(policy, l, now));
    let forecast_servers = forecast.as_ref().and_then(|f| {
        let present = needed?;
        let target = policy
            .spec
            .scaling
            .target_utilization
            .map(|t| t.fraction().max(0.01));
        let mut n = match (service_rate, target) {
            (Some(mu), Some(t)) => (f.rps / (mu * t)).ceil() as u32,
            // No per-server rate learned: scale the present figure by the load's growth.
            _ if f.present_rps > 0.0 => (f64::from(present) * f.rps / f.present_rps).ceil() as u32,
            _ => present,
        };
        if let (Some(mu), Some(name)) = (service_rate, &policy.spec.scaling.latency_objective)
            && let Some(by_latency) = latency_needed(policy, snap, name, f.rps, mu)
        {
            n = n.max(by_latency);
        }
        (n > present).then_some(n)
    });
    let forecast = forecast.filter(|_| forecast_servers.is_some());
    Capacity {
        forecast_servers,
        forecast,
        sizing,
        load_utilization,
        serving: serving.len() as u32,
        pending,
        total: live.len() as u32,
        load,
        utilization,
        observed_service_rate,
        needed,
        allowed: allowed_instances(policy),
        telemetry_missing,
    }
}

/// Instances needed so that the latency objective's percentile stays under its threshold,
/// modelling each instance as its own M/M/1 queue behind the balancer: the p-quantile of the
/// response time is floor + ln(1/(1−p)) / (μ − λ/c), where the floor (network and fixed service
/// time) is read off the fastest samples. Solving for c gives c ≥ λ / (μ − k/(T − floor)).
fn latency_needed(policy: &Policy, snap: &Snapshot, name: &str, load: f64, mu: f64) -> Option<u32> {
    let objective = policy.spec.objectives.iter().find(|o| o.name == name)?;
    let Some(Indicator::Latency(l)) = objective.indicator() else {
        return None;
    };
    let mut floors: Vec<f64> = snap
        .service
        .iter()
        .filter(|s| *s.key.probe == *l.probe)
        .filter_map(|s| {
            let mut ok: Vec<f64> = s.recent.iter().filter(|x| x.ok).map(|x| x.latency).collect();
            floor_of(&mut ok)
        })
        .collect();
    floors.sort_by(f64::total_cmp);
    let floor = *floors.get(floors.len() / 2)?;
    let budget = l.threshold.secs() - floor;
    if budget <= 0.0 {
        return None;
    }
    let k = -(1.0 - l.percentile / 100.0).ln();
    let headroom = mu - k / budget;
    if headroom <= 0.0 {
        return Some(u32::MAX);
    }
    Some((load / headroom).ceil().min(u32::MAX as f64 / 2.0) as u32)
}

/// Mean utilisation above which the group counts as saturated: per-instance probe failures are
/// then symptoms of overload, and healing would only remove capacity (restart storms).
pub const SATURATED: f64 = 0.9;

/// Names what is wrong.
pub fn diagnose(
    policy: &Policy,
    snap: &Snapshot,
    verdicts: &[Verdict],
    health: &[InstanceHealth],
    cap: &Capacity,
    history: &History,
    now: Time,
) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    let host_of = |id: &str| {
        snap.inventory
            .iter()
            .find(|i| i.id == id)
            .and_then(|i| i.host.as_deref())
    };
    let is_bad = |h: &&InstanceHealth| matches!(h.health, Health::Unhealthy | Health::Slow);

    // === load ===
    let latency_violated = policy
        .spec
        .scaling
        .latency_objective
        .as_ref()
        .is_some_and(|name| {
            verdicts
                .iter()
                .any(|v| &v.objective == name && v.state == SloState::Violated)
        });
    let mut saturated = cap
        .load_utilization
        .or(cap.utilization)
        .is_some_and(|u| u >= SATURATED);
    if let Some(needed) = cap.needed {
        if needed > cap.allowed {
            saturated = true;
            out.push(Diagnosis::Flood {
                needed,
                allowed: cap.allowed,
                detail: format!(
                    "{:.0} requests/s would need {needed} instances; the guards allow {}",
                    cap.load.unwrap_or(0.0),
                    cap.allowed
                ),
            });
        } else if needed > cap.serving + cap.pending || (latency_violated && needed > cap.serving) {
            saturated |= latency_violated;
            out.push(Diagnosis::Capacity {
                needed,
                serving: cap.serving,
                detail: capacity_detail(cap, needed),
            });
        } else if needed < cap.serving
            && cap.serving > policy.spec.group.size.min.max(policy.spec.limits.min_healthy)
            && !latency_violated
        {
            out.push(Diagnosis::OverProvisioned {
                needed,
                serving: cap.serving,
            });
        }
    }

    // === hosts ===
    let sustained = hot_hosts(policy, history, now);
    let bad_total = health.iter().filter(is_bad).count();
    let hosts: std::collections::BTreeSet<&str> =
        snap.inventory.iter().filter_map(|i| i.host.as_deref()).collect();
    for host in hosts {
        let on_host: Vec<String> = snap
            .inventory
            .iter()
            .filter(|i| i.host.as_deref() == Some(host))
            .map(|i| i.id.clone())
            .collect();
        let bad_here = health
            .iter()
            .filter(is_bad)
            .filter(|h| host_of(&h.id) == Some(host))
            .count();
        let metric_says = sustained.iter().any(|h| h == host);
        // The hypervisor listing says its compute service is down (or forced down) while
        // servers of the group on it are broken: nothing can repair them there.
        let stranded = snap.hosts.get(host).is_some_and(|h| !h.up)
            && snap.inventory.iter().any(|i| {
                i.host.as_deref() == Some(host)
                    && matches!(i.status, InstanceStatus::Error | InstanceStatus::Shutoff)
            });
        // Several bad VMs on one host while the rest of the group is fine points at the host.
        let together = !saturated && bad_here >= 2 && bad_here == bad_total && bad_here < health.len();
        // A fault found earlier still stands: servers placed on the host since (not yet moved
        // away) are moved too, before they take traffic and look slow.
        let newcomers = on_host.iter().any(|id| !history.migrated_at.contains_key(id));
        let standing = history.host_fault_stands(host, now) && newcomers;
        if metric_says || together || standing || stranded {
            let detail = if stranded {
                format!(
                    "the compute service of {host} is down (hypervisor listing): its broken servers are replaced elsewhere"
                )
            } else if !metric_says && !together {
                let since = history.host_faults.get(host).copied().unwrap_or(now);
                format!(
                    "the fault on {host} found {:.0}s ago still stands; servers placed there since are moved",
                    now - since
                )
            } else if metric_says {
                format!(
                    "a migrate rule has held on {host}; {bad_here} of its {} instance(s) degrade",
                    on_host.len()
                )
            } else {
                format!("{bad_here} instances on {host} degrade together while peers elsewhere are fine")
            };
            out.push(Diagnosis::HostFault {
                host: host.to_owned(),
                instances: on_host,
                detail,
            });
        }
    }

    // === instances ===
    let on_faulty_host = |id: &str| {
        out.iter()
            .any(|d| matches!(d, Diagnosis::HostFault { instances, .. } if instances.iter().any(|i| i == id)))
    };
    // A host whose metric is over a migrate rule but not yet for long enough is a suspect: its
    // instances wait for the host verdict instead of starting down the ladder.
    let suspect_host = |id: &str| host_of(id).is_some_and(|h| history.host_hot_since.contains_key(h));
    let instance_faults: Vec<Diagnosis> = health
        .iter()
        .filter(is_bad)
        .filter(|h| !on_faulty_host(&h.id) && !suspect_host(&h.id))
        .filter(|h| {
            // Under saturation only the cloud's own verdict (ERROR, SHUTOFF) counts.
            !saturated
                || snap.inventory.iter().any(|i| {
                    i.id == h.id && matches!(i.status, InstanceStatus::Error | InstanceStatus::Shutoff)
                })
        })
        .map(|h| Diagnosis::InstanceFault {
            instance: h.id.clone(),
            detail: h.detail.clone(),
        })
        .collect();
    out.extend(instance_faults);

    // === network ===
    for v in verdicts {
        if let Some(d) = network_path(policy, snap, v) {
            out.push(d);
        }
    }
    out
}

/// What a capacity diagnosis says, in the terms of the signal it was sized from.
fn capacity_detail(cap: &Capacity, needed: u32) -> String {
    let util = cap.utilization.unwrap_or(f64::NAN) * 100.0;
    match cap.sizing {
        Some(SizingSignal::Utilization) => {
            format!(
                "{util:.0}% utilisation on {} serving needs {needed} instances",
                cap.serving
            )
        }
        Some(SizingSignal::Latency) => format!(
            "every serving instance is over the latency threshold together: {} serving need {needed}",
            cap.serving
        ),
        _ => format!(
            "{:.0} requests/s at {util:.0}% utilisation needs {needed} instances",
            cap.load.unwrap_or(0.0)
        ),
    }
}

/// Hosts whose migrate rule has held for its sustained duration.
pub fn hot_hosts(policy: &Policy, history: &History, now: Time) -> Vec<String> {
    let sustained = policy
        .spec
        .healing
        .migrate_when
        .iter()
        .map(|r| r.sustained.secs())
        .fold(f64::INFINITY, f64::min);
    history
        .host_hot_since
        .iter()
        .filter(|(_, since)| now - **since >= sustained)
        .map(|(h, _)| h.clone())
        .collect()
}

/// A violation seen from some locations only, or one family only, is a network-path fault.
fn network_path(policy: &Policy, snap: &Snapshot, v: &Verdict) -> Option<Diagnosis> {
    let quorum = policy
        .spec
        .objectives
        .iter()
        .find(|o| o.name == v.objective)
        .and_then(|o| match o.indicator()? {
            Indicator::Latency(l) => Some(l.quorum),
            Indicator::Availability(a) => Some(a.quorum),
        })?;
    let bad: Vec<_> = v
        .per_series
        .iter()
        .filter(|s| s.state == SloState::Violated)
        .collect();
    let good: Vec<_> = v.per_series.iter().filter(|s| s.state == SloState::Met).collect();
    if bad.is_empty() || good.is_empty() {
        return None;
    }
    // For latency, a server-side slowdown adds the same queueing delay everywhere, and a
    // location with a longer round trip merely crosses the threshold first. A path fault adds
    // delay where it is: the excess over each path's own floor must differ, not just the total.
    let objective = policy.spec.objectives.iter().find(|o| o.name == v.objective)?;
    if let Some(l) = &objective.latency {
        let excess = |loc: &str, fam: IpFamily, estimate: f64| {
            let s = snap
                .service
                .iter()
                .find(|s| *s.key.probe == *l.probe && &*s.key.location == loc && s.key.family == fam)?;
            let mut ok: Vec<f64> = s.recent.iter().filter(|x| x.ok).map(|x| x.latency).collect();
            let floor = floor_of(&mut ok)?;
            Some(if estimate.is_finite() {
                (estimate - floor).max(0.0)
            } else {
                f64::INFINITY
            })
        };
        let mut good_excess: Vec<f64> = good
            .iter()
            .filter_map(|s| excess(&s.location, s.family, s.estimate))
            .collect();
        good_excess.sort_by(f64::total_cmp);
        let typical = good_excess.get(good_excess.len() / 2).copied().unwrap_or(0.0);
        let asymmetric = bad
            .iter()
            .all(|s| excess(&s.location, s.family, s.estimate).is_none_or(|e| e > 2.0 * typical + 0.05));
        if !asymmetric {
            return None;
        }
    }
    let mut locations: Vec<String> = bad.iter().map(|s| s.location.clone()).collect();
    locations.sort();
    locations.dedup();
    let mut families: Vec<IpFamily> = bad.iter().map(|s| s.family).collect();
    families.sort();
    families.dedup();
    let one_family_only = families.len() == 1
        && v.per_series
            .iter()
            .any(|s| s.family != families[0] && s.state == SloState::Met);
    if (locations.len() as u32) < quorum || one_family_only {
        Some(Diagnosis::NetworkPath {
            detail: format!(
                "objective `{}` fails from {} over {:?} while other vantage points are fine",
                v.objective,
                locations.join(", "),
                families
            ),
            locations,
            families,
        })
    } else {
        None
    }
}

/// A path's latency floor: the 5th percentile of its successful latencies (the 0-based
/// `len/20`th smallest), read off by selection rather than a full sort, since the pass does it
/// for every series at every tick. `None` for no samples.
fn floor_of(ok: &mut [f64]) -> Option<f64> {
    if ok.is_empty() {
        return None;
    }
    let k = ok.len() / 20;
    Some(*ok.select_nth_unstable_by(k, f64::total_cmp).1)
}

#[cfg(test)]
mod floor_tests {
    use super::floor_of;

    #[test]
    fn the_floor_is_the_same_order_statistic_a_full_sort_gives() {
        for n in [1usize, 2, 19, 20, 21, 57, 300] {
            let mut v: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1009) as f64 * 1e-4).collect();
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            assert_eq!(floor_of(&mut v), Some(sorted[n / 20]), "n = {n}");
        }
        assert_eq!(floor_of(&mut []), None);
    }
}
