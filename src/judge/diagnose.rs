//! From verdicts and instance health to a diagnosis, and the capacity the load needs. Pure.
//!
//! | observations                                   | diagnosis        |
//! |------------------------------------------------|------------------|
//! | one instance fails where its peers, under the same load, answer | instance fault |
//! | a host's metric rule holds, or ≥2 of its VMs bad| host fault       |
//! | slow from ≥ quorum locations, busy             | capacity         |
//! | a path fails on every server, others reach them | network path    |
//! | needed capacity beyond every guard             | flood            |
//! | needed well below serving, SLO comfortable     | over-provisioned |

mod path;
pub mod peers;
mod shed;

use super::{
    health::{Health, InstanceHealth},
    sizing,
};
use crate::{
    decision::{Diagnosis, SizingSignal, SloState, Verdict},
    history::History,
    policy::{Indicator, Policy},
    snapshot::{Instance, InstanceStatus, Snapshot, Time},
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
    /// What a forecast expects of the load; `None` while no forecast feeds the judge. Scale-in
    /// and the release of scheduled peaks read it (`plan::margin`, `plan::peaks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlook: Option<super::outlook::Outlook>,
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
pub fn capacity(policy: &Policy, snap: &Snapshot, health: &[InstanceHealth], history: &History) -> Capacity {
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
    // A server judged unhealthy by its probes while its peers under the same load fail as
    // often is busy, not broken: it serves what it can and counts as capacity.
    let judged_ok = |id: &str| {
        health
            .iter()
            .any(|p| p.id == id && !matches!(p.health, Health::Starting | Health::Unknown))
    };
    let busy_not_broken = |k: usize| {
        snap.inventory.get(k).is_some_and(|i| {
            i.status == InstanceStatus::Active
                && peers::contrast(policy, snap, &i.id, &judged_ok).fails_alone() == Some(false)
        })
    };
    // In rotation and not judged unhealthy serves (a new instance in its grace period included).
    let healthy = |k: usize| distrust || !matches!(health_of(k), Health::Unhealthy) || busy_not_broken(k);
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
    // Without utilisation, the rate at which the whole group sheds load is one server's rate.
    let observed_service_rate = observed_service_rate.or_else(|| {
        (utilization.is_none() && cap_stable(snap, history))
            .then(|| shed::rate_at_shedding(policy, snap, health, &serving))
            .flatten()
    });
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
    Capacity {
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
        outlook: None,
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

/// Mean utilisation from which the group runs hot: a server a little slower than its peers
/// (servers differ by 10–30 %) is then past its own capacity while they are not.
pub const HOT: f64 = 0.75;

/// Whether the group as a whole is saturated: utilisation at [`SATURATED`] (by the load the
/// balancer counts, else by telemetry), more load than the guards allow, or the latency
/// objective violated while the load needs more servers than serve. Capacity comes first then:
/// failures of busy servers are symptoms, and healing would only remove capacity.
pub fn saturated(policy: &Policy, verdicts: &[Verdict], cap: &Capacity) -> bool {
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
    cap.load_utilization
        .or(cap.utilization)
        .is_some_and(|u| u >= SATURATED)
        || cap.needed.is_some_and(|n| n > cap.allowed)
        || (latency_violated && cap.needed.is_some_and(|n| n > cap.serving))
}

/// Whether a server judged unhealthy or slow is faulty: the cloud reports it broken, or it
/// fails where its peers under the same load do not (`peers`), or — with no peer to compare
/// with — its failure does not follow the load (the group is not saturated). A slow server is
/// already judged against its peers (`health`); under saturation it is the busiest, not broken.
pub fn faulty(
    policy: &Policy,
    snap: &Snapshot,
    health: &[InstanceHealth],
    h: &InstanceHealth,
    cap: &Capacity,
    saturated: bool,
    history: &History,
) -> bool {
    let Some(inst) = snap.inventory.iter().find(|i| i.id == h.id) else {
        return false;
    };
    if matches!(inst.status, InstanceStatus::Error | InstanceStatus::Shutoff) {
        return true;
    }
    // A server at full CPU in a group that runs hot is the first to tip over when its share
    // outgrows it (servers differ, the balancer's shares do not): its failure follows the load,
    // and capacity is the remedy. A crashed server idles; CPU telemetry says which.
    let group_hot = cap.load_utilization.or(cap.utilization).is_some_and(|u| u >= HOT);
    if group_hot && cpu_of(snap, &h.id).is_some_and(|u| u >= SATURATED) {
        return false;
    }
    match h.health {
        Health::Slow => !saturated && !within_spread(policy, snap, inst, cap, history),
        Health::Unhealthy => {
            let judged = |id: &str| {
                health
                    .iter()
                    .any(|p| p.id == id && !matches!(p.health, Health::Starting | Health::Unknown))
            };
            peers::contrast(policy, snap, &h.id, &judged)
                .fails_alone()
                .unwrap_or(!saturated)
        }
        _ => false,
    }
}

/// Relative throughput at or above which a slow server is one of the healthy spread (servers of
/// one flavour differ by a few to 20 %), not a gray failure: its latency says it has at least
/// this share of its peers' capacity left.
pub const HEALTHY_SPREAD: f64 = 0.8;

/// Whether a server in rotation judged slow is within the healthy spread of its peers once its
/// latency is read at the group's utilisation ([`shift::relative_throughput`]): near
/// saturation a server 10 % slower than its peers queues several times longer than they do, so
/// a latency ratio alone would take the load for a fault. A drained server is judged by the
/// verdict that drained it (without load it looks fast).
fn within_spread(
    policy: &Policy,
    snap: &Snapshot,
    inst: &crate::snapshot::Instance,
    cap: &Capacity,
    history: &History,
) -> bool {
    let (Some(probe), Some(now_rho)) = (
        super::health::healing_probe(policy),
        cap.load_utilization.or(cap.utilization),
    ) else {
        return false;
    };
    // The samples were taken over their window, at the utilisations of those ticks: read them
    // at the highest (a server queued at a busier moment is not slower for it).
    let oldest = snap
        .instances_probed
        .iter()
        .filter(|s| s.instance == inst.id && &*s.key.probe == probe)
        .filter_map(|s| s.recent.first().map(|x| x.at))
        .fold(snap.observed_at, f64::min);
    let rho = history
        .utilization
        .iter()
        .filter(|(t, _)| *t >= oldest)
        .map(|(_, u)| *u)
        .fold(now_rho, f64::max);
    in_rotation(policy, inst)
        && super::shift::relative_throughput(policy, snap, probe, &inst.id, rho)
            .is_some_and(|k| k >= HEALTHY_SPREAD)
}

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
    let saturated = saturated(policy, verdicts, cap);
    // Judged bad and faulty by the evidence (see [`faulty`]): overload is not a fault.
    let bad_ids: std::collections::HashSet<&str> = health
        .iter()
        .filter(|h| {
            matches!(h.health, Health::Unhealthy | Health::Slow)
                && faulty(policy, snap, health, h, cap, saturated, history)
        })
        .map(|h| h.id.as_str())
        .collect();
    let is_bad = |h: &&InstanceHealth| bad_ids.contains(h.id.as_str());
    if let Some(needed) = cap.needed {
        if needed > cap.allowed {
            let legitimate_rps = legitimate_share(history, now);
            let before = legitimate_rps
                .map(|l| format!("; before the flood the group carried {l:.0} requests/s"))
                .unwrap_or_default();
            out.push(Diagnosis::Flood {
                needed,
                allowed: cap.allowed,
                legitimate_rps,
                detail: format!(
                    "{:.0} requests/s would need {needed} instances; the guards allow {}{before}",
                    cap.load.unwrap_or(0.0),
                    cap.allowed
                ),
            });
        } else if needed > cap.serving + cap.pending || (latency_violated && needed > cap.serving) {
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
        // Several bad VMs on one host while the rest of the group is fine points at the host:
        // "fine" needs a healthy server elsewhere (with one host, nothing separates the host
        // from the load).
        let fine_elsewhere = health
            .iter()
            .any(|h| h.health == Health::Healthy && host_of(&h.id).is_some_and(|x| x != host));
        let together = !saturated && bad_here >= 2 && bad_here == bad_total && fine_elsewhere;
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
        .map(|h| Diagnosis::InstanceFault {
            instance: h.id.clone(),
            detail: instance_detail(policy, snap, health, h),
        })
        .collect();
    out.extend(instance_faults);

    // === network ===
    let server_or_load = saturated
        || out
            .iter()
            .any(|d| matches!(d, Diagnosis::InstanceFault { .. } | Diagnosis::HostFault { .. }));
    for v in verdicts {
        if let Some(d) = path::network_path(policy, snap, v, server_or_load) {
            out.push(d);
        }
    }
    out
}

/// The health verdict's sentence, with the peer contrast that made it a fault when there is one.
fn instance_detail(
    policy: &Policy,
    snap: &Snapshot,
    health: &[InstanceHealth],
    h: &InstanceHealth,
) -> String {
    if h.health != Health::Unhealthy
        || snap
            .inventory
            .iter()
            .any(|i| i.id == h.id && i.status != InstanceStatus::Active)
    {
        return h.detail.clone();
    }
    let judged = |id: &str| {
        health
            .iter()
            .any(|p| p.id == id && !matches!(p.health, Health::Starting | Health::Unknown))
    };
    let c = peers::contrast(policy, snap, &h.id, &judged);
    if c.peers_total == 0 {
        return h.detail.clone();
    }
    format!("{}: {}", h.detail, c.describe())
}

/// The legitimate share of a flood's load: the share remembered at its first diagnosis, or else
/// the median of the loads remembered before `now` (the flood's own first figures are the
/// minority of a memory of [`crate::history::LOAD_MEMORY`]).
fn legitimate_share(history: &History, now: Time) -> Option<f64> {
    if let Some(f) = history.flood {
        return Some(f.legitimate_rps);
    }
    let mut before: Vec<f64> = history
        .loads
        .iter()
        .filter(|(t, l)| *t < now && l.is_finite())
        .map(|(_, l)| *l)
        .collect();
    if before.is_empty() {
        return None;
    }
    let mid = before.len() / 2;
    Some(*before.select_nth_unstable_by(mid, f64::total_cmp).1)
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

/// A path's latency floor: the 5th percentile of its successful latencies (the 0-based
/// `len/20`th smallest), read off by selection rather than a full sort, since the pass does it
/// for every series at every tick. `None` for no samples.
pub(super) fn floor_of(ok: &mut [f64]) -> Option<f64> {
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
