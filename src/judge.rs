//! Judging observations against objectives (pure): SLO verdicts with statistical confidence,
//! per-instance health, and a diagnosis of what is wrong.

pub mod diagnose;
pub mod forecast;
pub mod health;
pub mod queueing;
pub mod sizing;
pub mod slo;
pub mod stats;

use crate::{
    decision::{Diagnosis, Verdict},
    history::History,
    policy::Policy,
    snapshot::{Snapshot, Time},
};
pub use diagnose::Capacity;
pub use health::{Health, InstanceHealth};

/// Everything the judge concluded from one snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// Per objective.
    pub verdicts: Vec<Verdict>,
    /// Per instance.
    pub health: Vec<InstanceHealth>,
    /// Load, utilisation and needed capacity.
    pub capacity: Capacity,
    /// What is wrong.
    pub diagnoses: Vec<Diagnosis>,
}

/// Judges a snapshot. `history` is read for sustained conditions and learned capacity only.
pub fn judge(policy: &Policy, snap: &Snapshot, history: &History, now: Time) -> Judgement {
    let verdicts = slo::verdicts(policy, snap, now);
    let health = health::judge_instances(policy, snap, now);
    let capacity = diagnose::capacity(policy, snap, &health, history, now);
    let diagnoses = diagnose::diagnose(policy, snap, &verdicts, &health, &capacity, history, now);
    Judgement {
        verdicts,
        health,
        capacity,
        diagnoses,
    }
}
