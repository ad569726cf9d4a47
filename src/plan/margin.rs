//! How far one scale-in step may go. Pure.
//!
//! Near the objective, or while the load rises, scale-in keeps the policy's `in.maxStep`: a
//! wrong step there costs violation minutes. Far below the objective with the load flat or
//! falling, the step grows with the margin, up to the whole excess over the highest
//! recommendation of the stabilisation window (the HPA's rule, which removes that much at
//! once). The stabilisation window, the cooldown, `size.min` and `minHealthy` still apply.

use crate::{
    decision::SloState,
    history::History,
    judge::{
        Judgement,
        outlook::{Trend, observed_trend},
    },
    policy::{Indicator, Policy},
    snapshot::Time,
};

/// Pressure (the load against the objective, 1.0 on the line) from which scale-in keeps the
/// policy's step: a quarter of headroom is what one noisy minute or one lost server eats.
pub const NEAR: f64 = 0.75;

/// How close the group is to its objectives: the higher of utilisation against the target
/// utilisation, and the latency objective's worst point estimate against its threshold (a
/// violated or at-risk latency objective counts as on the line). `None` without either figure.
pub fn pressure(policy: &Policy, j: &Judgement) -> Option<f64> {
    let sc = &policy.spec.scaling;
    let c = &j.capacity;
    let by_load = sc
        .target_utilization
        .and_then(|t| Some(c.load_utilization.or(c.utilization)? / t.fraction().max(0.01)));
    let by_latency = sc.latency_objective.as_ref().and_then(|name| {
        let objective = policy.spec.objectives.iter().find(|o| &o.name == name)?;
        let Some(Indicator::Latency(l)) = objective.indicator() else {
            return None;
        };
        let v = j.verdicts.iter().find(|v| &v.objective == name)?;
        let worst = v
            .per_series
            .iter()
            .filter(|s| s.samples > 0)
            .map(|s| s.estimate)
            .fold(None, |m: Option<f64>, e| Some(m.map_or(e, |m| m.max(e))))?;
        let p = worst / l.threshold.secs().max(1e-3);
        Some(if matches!(v.state, SloState::Violated | SloState::AtRisk) {
            p.max(1.0)
        } else {
            p
        })
    });
    match (by_load, by_latency) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The largest scale-in step allowed now for an `excess` of serving servers over the stable
/// target, with the words that say why.
pub fn step(policy: &Policy, j: &Judgement, history: &History, now: Time, excess: u32) -> (u32, String) {
    let inn = &policy.spec.scaling.scale_in;
    let serving = j.capacity.serving;
    let pct = inn
        .max_step_percent
        .map_or(0, |p| (p.fraction() * f64::from(serving)).floor() as u32);
    let base = inn.max_step.max(pct);
    let trend = j
        .capacity
        .outlook
        .as_ref()
        .map(|o| o.trend)
        .or_else(|| observed_trend(&history.loads, now));
    let Some(p) = pressure(policy, j) else {
        return (base, "no utilisation or latency figure: the policy's step".into());
    };
    if trend == Some(Trend::Rising) {
        return (
            base,
            format!(
                "load rising at {:.0}% of the objective: the policy's step",
                p * 100.0
            ),
        );
    }
    if p >= NEAR {
        return (
            base,
            format!("{:.0}% of the objective: the policy's step", p * 100.0),
        );
    }
    let share = (NEAR - p) / NEAR;
    let grown = (f64::from(excess) * share).ceil() as u32;
    (
        base.max(grown),
        format!(
            "{:.0}% of the objective, load {}: up to {:.0}% of the excess",
            p * 100.0,
            match trend {
                Some(Trend::Falling) => "falling",
                Some(_) => "flat",
                None => "trend unknown",
            },
            share * 100.0
        ),
    )
}
