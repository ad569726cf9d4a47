//! Flood economics. Pure.
//!
//! When the load is beyond what the group could serve even at its resource cap, buying servers
//! up to the cap does not buy back the objective: every server is saturated either way (every
//! decider, the oracle included, loses the same minutes on the shipped flood). So sloop holds
//! the size that serves the legitimate share (the load before the flood, as the flood diagnosis
//! estimates it) and pages, instead of spending the cap. A load the capped group could still
//! serve, even above its target utilisation, is scaled for as before.

use crate::{
    decision::Diagnosis,
    history::{FloodOnset, History},
    judge::Judgement,
    policy::Policy,
    snapshot::Time,
};

/// The size held during a flood, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct Hold {
    /// Servers held.
    pub size: u32,
    /// The legitimate share, requests/s.
    pub legitimate_rps: f64,
    /// The offered load, requests/s.
    pub load_rps: f64,
}

/// Remembers the flood's legitimate share from its first diagnosis, and forgets it once the
/// flood ends.
pub(super) fn remember(j: &Judgement, history: &mut History, now: Time) {
    let legitimate = j.diagnoses.iter().find_map(|d| match d {
        Diagnosis::Flood { legitimate_rps, .. } => Some(*legitimate_rps),
        _ => None,
    });
    match legitimate {
        Some(Some(rps)) if history.flood.is_none() => {
            history.flood = Some(FloodOnset {
                since: now,
                legitimate_rps: rps,
            });
        }
        Some(_) => {}
        None => history.flood = None,
    }
}

/// The size to hold, when a flood is diagnosed with a legitimate share and the load is beyond
/// what the group serves at its cap at full utilisation.
pub fn hold(policy: &Policy, j: &Judgement, history: &History) -> Option<Hold> {
    let (legitimate_rps, allowed) = j.diagnoses.iter().find_map(|d| match d {
        Diagnosis::Flood {
            legitimate_rps: Some(rps),
            allowed,
            ..
        } => Some((*rps, *allowed)),
        _ => None,
    })?;
    let c = &j.capacity;
    let mu = history
        .service_rate
        .or(c.observed_service_rate)
        .filter(|m| *m > 0.0)?;
    let load_rps = c.load?;
    if load_rps < f64::from(allowed) * mu {
        return None;
    }
    let target = policy
        .spec
        .scaling
        .target_utilization
        .map_or(1.0, |p| p.fraction())
        .max(0.01);
    let size = ((legitimate_rps / (mu * target)).ceil() as u32).clamp(1, allowed.max(1));
    Some(Hold {
        size,
        legitimate_rps,
        load_rps,
    })
}
