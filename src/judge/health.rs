//! Per-instance health from per-instance probes and the cloud's own status. Pure.
//!
//! An instance is unhealthy when, for some family, at least `unhealthyAfter.locations` fresh
//! locations each saw `unhealthyAfter.failures` failures in a row — or when Nova itself says
//! ERROR/SHUTOFF. It is slow when, from every location that has data, its latencies are
//! significantly higher than its peers' (one-sided Mann–Whitney, Bonferroni-corrected).

use super::stats;
use crate::{
    history::ShiftState,
    policy::Policy,
    snapshot::{InstanceId, InstanceSeries, InstanceStatus, IpFamily, Snapshot, Time},
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Health of one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    /// Serving well.
    Healthy,
    /// Booting, rebooting, or within the grace period: not judged.
    Starting,
    /// Failing from enough locations, or broken according to the cloud.
    Unhealthy,
    /// Serving, but significantly slower than its peers from every location.
    Slow,
    /// No per-instance data: neither healthy nor unhealthy.
    Unknown,
}

/// The judgement of one instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceHealth {
    /// The instance.
    pub id: InstanceId,
    /// Its health.
    pub health: Health,
    /// Locations that saw it fail or lag.
    pub locations: Vec<String>,
    /// Families that saw it fail or lag.
    pub families: Vec<IpFamily>,
    /// One sentence of evidence.
    pub detail: String,
}

/// Significance level of the peer comparison before the Bonferroni correction.
const SLOW_ALPHA: f64 = 0.01;
/// A slow instance must also be materially slower, not just statistically.
const SLOW_RATIO: f64 = 1.5;
/// …and slow enough to matter: its median must reach this share of the tightest latency
/// threshold. A VM that is merely a bit busier than its peers is not broken.
const SLOW_MATERIAL: f64 = 0.5;

/// The probe that decides health: `healing.probe`, else the first per-instance probe.
pub fn healing_probe(policy: &Policy) -> Option<&str> {
    policy.spec.healing.probe.as_deref().or_else(|| {
        policy
            .spec
            .probes
            .iter()
            .find(|p| p.per_instance)
            .map(|p| p.name.as_str())
    })
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, f64::total_cmp).1
}

/// For each series (by position): whether the instance's latencies there are significantly and
/// materially higher than its peers' at the same location and family; `None` when there is not
/// enough data to judge.
fn slow_verdicts(policy: &Policy, series: &[&InstanceSeries], snap: &Snapshot) -> Vec<Option<bool>> {
    let material = policy
        .spec
        .objectives
        .iter()
        .filter_map(|o| o.latency.as_ref())
        .map(|l| l.threshold.secs() * SLOW_MATERIAL)
        .fold(f64::INFINITY, f64::min);
    let material = if material.is_finite() { material } else { 0.0 };
    let mut groups: BTreeMap<(&str, IpFamily), Vec<usize>> = BTreeMap::new();
    for (i, s) in series.iter().enumerate() {
        groups
            .entry((&*s.key.location, s.key.family))
            .or_default()
            .push(i);
    }
    let peers = snap
        .inventory
        .iter()
        .filter(|i| i.status == InstanceStatus::Active)
        .count()
        .max(1);
    let alpha = SLOW_ALPHA / peers as f64;
    let mut out = vec![None; series.len()];
    let mut all = Vec::new();
    let mut own = Vec::new();
    let ok_latencies = |i: usize| series[i].recent.iter().filter(|x| x.ok).map(|x| x.latency);
    for members in groups.values() {
        let total: usize = members.iter().map(|&i| ok_latencies(i).count()).sum();
        // The pooled median stands in for "the peers' median": one instance moves it by little.
        // It is only needed once some instance is slow enough to matter, which in a healthy
        // group none is, so it is computed lazily.
        let mut pooled_median: Option<f64> = None;
        for (k, &i) in members.iter().enumerate() {
            own.clear();
            own.extend(ok_latencies(i));
            let n = own.len();
            if n < 3 || total - n < 3 {
                continue;
            }
            // Screen first: only an instance materially slower than the pool can be slow, and the
            // rank test runs only for real suspects.
            let own_median = median(&mut own);
            if own_median < material {
                out[i] = Some(false);
                continue;
            }
            let pooled = *pooled_median.get_or_insert_with(|| {
                all.clear();
                all.extend(members.iter().flat_map(|&m| ok_latencies(m)));
                median(&mut all)
            });
            if own_median <= SLOW_RATIO * pooled {
                out[i] = Some(false);
                continue;
            }
            let rest: Vec<f64> = members
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != k)
                .flat_map(|(_, &m)| ok_latencies(m))
                .collect();
            out[i] = stats::mann_whitney_greater(&own, &rest).map(|p| p < alpha);
        }
    }
    out
}

/// One sentence on a sequential-test alarm.
fn shift_detail(st: &ShiftState, serving: bool) -> String {
    let h = super::shift::threshold();
    if st.s >= h {
        format!(
            "its latency tail has drifted from its peers': sequential test at {:.1} nats over the last {} samples, threshold {h:.1} (ARL₀ ≥ 10⁹ samples)",
            st.s, st.run
        )
    } else if serving {
        format!(
            "held slow until its sequential test is back at rest ({:.1} nats)",
            st.s
        )
    } else {
        "held slow since it was found slow: out of rotation it takes no load, so it waits for its remedy"
            .into()
    }
}

/// Judges every instance in the inventory; the result is in inventory order. `shifts` is the
/// state of each instance's sequential test (`judge::shift`), already fed this snapshot.
pub fn judge_instances(
    policy: &Policy,
    snap: &Snapshot,
    shifts: &BTreeMap<InstanceId, ShiftState>,
    now: Time,
) -> Vec<InstanceHealth> {
    let probe = healing_probe(policy);
    let rule = policy.spec.healing.unhealthy_after;
    let grace = policy.spec.healing.grace_period.secs();
    let fresh = |loc: &str| {
        snap.locations
            .iter()
            .find(|l| l.name == loc)
            .is_none_or(|l| l.fresh)
    };
    let series: Vec<&InstanceSeries> = snap
        .instances_probed
        .iter()
        .filter(|s| Some(&*s.key.probe) == probe && fresh(&s.key.location))
        .collect();
    let slow = slow_verdicts(policy, &series, snap);
    let mut by_instance: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in series.iter().enumerate() {
        by_instance.entry(s.instance.as_str()).or_default().push(i);
    }

    snap.inventory
        .iter()
        .map(|inst| {
            let mut h = InstanceHealth {
                id: inst.id.clone(),
                health: Health::Unknown,
                locations: Vec::new(),
                families: Vec::new(),
                detail: String::new(),
            };
            match inst.status {
                InstanceStatus::Error | InstanceStatus::Shutoff => {
                    h.health = Health::Unhealthy;
                    h.detail = format!("the cloud reports the server as {:?}", inst.status).to_lowercase();
                    return h;
                }
                InstanceStatus::Active => {}
                _ => {
                    h.health = Health::Starting;
                    return h;
                }
            }
            if inst.active_since.is_none_or(|t| now - t < grace) {
                h.health = Health::Starting;
                h.detail = "within the grace period after becoming active".into();
                return h;
            }
            let Some(mine_idx) = by_instance.get(inst.id.as_str()) else {
                return h;
            };
            let mine: Vec<&InstanceSeries> = mine_idx.iter().map(|&i| series[i]).collect();
            // Failing: k in a row from ≥ q locations, judged per family.
            for family in [IpFamily::V6, IpFamily::V4] {
                let failing: Vec<String> = mine
                    .iter()
                    .filter(|s| s.key.family == family && s.consecutive_failures >= rule.failures)
                    .map(|s| s.key.location.to_string())
                    .collect();
                if failing.len() as u32 >= rule.locations {
                    h.health = Health::Unhealthy;
                    h.detail = format!(
                        "{} failures in a row from {} location(s) over {family:?}",
                        rule.failures,
                        failing.len()
                    );
                    h.families.push(family);
                    h.locations = failing;
                    return h;
                }
            }
            // Slow: its sequential test against its peers alarmed (and holds while it is drained
            // and waits for its remedy).
            if let Some(st) = shifts.get(&inst.id).filter(|s| s.alarmed()) {
                h.health = Health::Slow;
                h.detail = shift_detail(st, super::diagnose::in_rotation(policy, inst));
                h.locations = mine.iter().map(|s| s.key.location.to_string()).collect();
                h.locations.dedup();
                h.families = mine.iter().map(|s| s.key.family).collect();
                h.families.dedup();
                return h;
            }
            // Slow: significantly slower than its peers from every location that has data.
            let slow_at: Vec<String> = mine_idx
                .iter()
                .filter(|&&i| slow[i] == Some(true))
                .map(|&i| series[i].key.location.to_string())
                .collect();
            let judged = mine_idx.iter().filter(|&&i| slow[i].is_some()).count();
            if judged > 0 && slow_at.len() == judged && slow_at.len() as u32 >= rule.locations {
                h.health = Health::Slow;
                h.detail = format!(
                    "significantly slower than its peers from {} location(s)",
                    slow_at.len()
                );
                h.locations = slow_at;
                return h;
            }
            h.health = Health::Healthy;
            h
        })
        .collect()
}
